"""Issue flow 3 in a real browser: a shelter manager checks people in from the console; a resident's shelter page and
the staff's occupancy board show the free places drop live, without reload. Each person has a browser context of
their own. Also the assets pages and the bulk upload's row-level report, with screenshots for review."""

import pytest
from playwright.sync_api import expect

from shelters.models import Asset, Shelter
from tests.factories import OrganisationFactory, UserFactory, make_area_tree
from tests.shelters.factories import AssetFactory, ShelterFactory, staff
from tests.web.conftest import axe_violations, screenshot

pytestmark = [pytest.mark.django_db(transaction=True)]


def mark_page(page) -> None:
    """A flag in the page's window: still there later means the page was not reloaded."""
    page.evaluate("() => { window.__notReloaded = true; }")


def not_reloaded(page) -> bool:
    return bool(page.evaluate("() => window.__notReloaded === true"))


def test_a_check_in_in_the_console_drops_the_free_places_live_for_the_resident_and_the_board(visit):
    tree = make_area_tree()
    shelter = ShelterFactory.create(name="North School", lon=2.0, lat=2.0, capacity=20, status="open")
    ShelterFactory.create(name="Harbour Hall", lon=3.0, lat=3.0, capacity=80, status="open")
    ShelterFactory.create(name="Old Depot", lon=4.0, lat=4.0, capacity=30, status="planned")
    manager = staff("shelter_manager", tree.city_a, tree.organisation)
    resident = UserFactory.create()

    resident_page = visit(f"/shelters/{shelter.pk}/", user=resident)
    expect(resident_page.locator("#shelter-live-status")).to_have_attribute("data-state", "live")
    free = resident_page.locator("[data-free-places]")
    expect(free).to_have_text("20")
    mark_page(resident_page)

    board = visit("/console/shelters/", user=manager)
    expect(board.locator("#board-live")).to_have_attribute("data-state", "live")
    row = board.locator(f'tr[data-shelter-id="{shelter.pk}"]')
    expect(row.locator('[data-field="free"]')).to_have_text("20")
    mark_page(board)

    console = visit(f"/console/shelters/{shelter.pk}/", user=manager)
    expect(console.get_by_role("heading", level=1)).to_have_text("North School")
    console.get_by_label("Number of people").fill("3")
    console.get_by_role("button", name="Check in", exact=True).click()
    expect(console.locator(".messages")).to_contain_text("Checked in 3")
    expect(console.locator('#shelter-live [data-field="free"]')).to_have_text("17")
    assert Shelter.objects.get(pk=shelter.pk).occupancy == 3

    expect(free).to_have_text("17")
    assert not_reloaded(resident_page)
    expect(row.locator('[data-field="free"]')).to_have_text("17")
    expect(row.locator('[data-field="occupancy"]')).to_have_text("3")
    assert not_reloaded(board)

    # Beyond the free places: refused with the reason, nothing changes anywhere.
    console.get_by_label("Number of people").fill("18")
    console.get_by_role("button", name="Check in", exact=True).click()
    expect(console.locator("#error-check-in")).to_contain_text("has no room for 18 (free places: 17)")
    assert Shelter.objects.get(pk=shelter.pk).occupancy == 3
    expect(free).to_have_text("17")
    screenshot(console, "console-shelter-manage")
    assert axe_violations(console) == []

    # Fill it: the board shows it full, the resident sees no free place left.
    console.get_by_label("Number of people").fill("17")
    console.get_by_role("button", name="Check in", exact=True).click()
    expect(console.locator(".messages")).to_contain_text("Checked in 17")
    expect(free).to_have_text("0")
    expect(row.locator('[data-field="status"]')).to_have_text("Full")
    assert not_reloaded(resident_page)
    assert not_reloaded(board)
    screenshot(board, "console-shelters-board")
    assert axe_violations(board) == []


def test_assets_map_table_and_the_bulk_upload_report(visit, tmp_path):
    tree = make_area_tree()
    power = OrganisationFactory.create(name="Power Co", kind="utility", area=tree.city_a)
    owner = staff("asset_owner", tree.city_a, power)
    AssetFactory.create(
        owner=power, external_id="G-1", name="Generator at the school", asset_type="generator", lon=2, lat=2
    )
    AssetFactory.create(
        owner=power, external_id="P-1", name="Dock pump", asset_type="pump", state="deployed", lon=3, lat=3
    )
    bad = tmp_path / "assets.csv"
    bad.write_text(
        "external_id,type,name,quantity,longitude,latitude\n"
        "B-1,boat,Rescue boat,1,2.5,2.5\n"
        "B-2,spaceship,Rocket,1,2.5,2.5\n"
        "B-3,boat,Lost boat,1,2.5,95\n"
    )

    page = visit("/console/assets/upload/", user=owner)
    page.get_by_label("File", exact=True).set_input_files(str(bad))
    page.get_by_role("button", name="Upload").click()
    report = page.locator("#upload-report")
    expect(report).to_contain_text("File refused: nothing was written")
    expect(page.locator("#row-errors tbody tr")).to_have_count(2)
    expect(page.locator('#row-errors tr[data-row="2"]')).to_contain_text("unknown type 'spaceship'")
    expect(page.locator('#row-errors tr[data-row="3"]')).to_contain_text("latitude within ±90")
    assert not Asset.objects.filter(external_id__startswith="B-").exists()
    screenshot(page, "console-assets-upload-report")
    assert axe_violations(page) == []

    bad.write_text("external_id,type,name,quantity,longitude,latitude\nB-1,boat,Rescue boat,1,2.5,2.5\n")
    page.get_by_label("File", exact=True).set_input_files(str(bad))
    page.get_by_role("button", name="Upload").click()
    expect(page.locator('#upload-report [data-report="created"]')).to_have_text("1")

    assets = visit("/console/assets/", user=owner)
    expect(assets.locator("#asset-table tbody tr")).to_have_count(3)
    expect(assets.locator("#assets-map")).to_have_attribute("data-marker-count", "3")
    assets.get_by_label("Type").select_option("pump")
    assets.get_by_role("button", name="Show").click()
    expect(assets.locator("#asset-table tbody tr")).to_have_count(1)
    expect(assets.locator("#asset-table")).to_contain_text("Dock pump")
    assets.goto("/console/assets/")
    expect(assets.locator("#assets-map")).to_have_attribute("data-marker-count", "3")
    screenshot(assets, "console-assets")
    assert axe_violations(assets) == []
