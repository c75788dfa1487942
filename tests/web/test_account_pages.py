"""Residents' own pages: sign up, the first steps, the profile, the language; bad input changes nothing."""

import pytest
from django.test import Client

from accounts.models import ChannelIdentity, Consent, ResidentNeed, ResidentProfile, Subscription, User
from tests.factories import UserFactory, make_area_tree

pytestmark = pytest.mark.django_db


def _client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _active(user: User) -> set[str]:
    return set(Consent.objects.filter(user=user, withdrawn_at__isnull=True).values_list("purpose", flat=True))


def test_signing_up_signs_in_and_leads_to_the_first_steps_in_the_chosen_language():
    client = Client()
    response = client.post(
        "/signup/",
        {"username": "nadia", "password1": "a-long-pass-phrase-7", "password2": "a-long-pass-phrase-7",
         "preferred_language": "ar"},
    )  # fmt: skip
    assert response.status_code == 302
    assert response["Location"] == "/welcome/"
    assert response.cookies["django_language"].value == "ar"
    user = User.objects.get(username="nadia")
    assert user.preferred_language == "ar"
    assert ResidentProfile.objects.filter(user=user).exists()
    assert not _active(user)  # nothing is consented to before the first steps
    page = client.get("/welcome/")
    assert page.status_code == 200
    assert 'dir="rtl"' in page.content.decode()


def test_a_refused_sign_up_says_why_and_creates_nobody():
    response = Client().post(
        "/signup/", {"username": "x", "password1": "short", "password2": "other", "preferred_language": "en"}
    )
    assert response.status_code == 400
    assert "password fields didn" in response.content.decode()  # Django's own message names the mismatch
    assert not User.objects.filter(username="x").exists()


def test_the_first_steps_record_each_consent_with_what_it_covers():
    tree = make_area_tree()
    user = UserFactory.create()
    response = _client(user).post(
        "/welcome/",
        {"accept_terms": "on", "lat": "2.5", "lon": "3.5", "consent_location": "on",
         "areas": [str(tree.city_a.pk)], "needs": ["mobility", "pets"]},
    )  # fmt: skip
    assert response.status_code == 302
    assert _active(user) == {"terms", "location", "needs_mobility", "needs_pets"}
    profile = ResidentProfile.objects.get(user=user)
    assert (profile.home_location.x, profile.home_location.y) == (3.5, 2.5)
    assert list(Subscription.objects.filter(user=user).values_list("area_id", flat=True)) == [tree.city_a.pk]
    assert set(ResidentNeed.objects.filter(profile=profile).values_list("kind", flat=True)) == {"mobility", "pets"}
    assert ChannelIdentity.objects.filter(user=user, kind="web", is_active=True).count() == 1  # alerts reach the page


@pytest.mark.parametrize(
    ("data", "status", "message"),
    [
        ({"lat": "2", "lon": "2", "consent_location": "on"}, 400, "accept the terms"),
        ({"accept_terms": "on", "lat": "2", "lon": "2"}, 400, "Tick the box"),
        ({"accept_terms": "on", "lat": "north", "lon": "2", "consent_location": "on"}, 400, "must be a number"),
        ({"accept_terms": "on", "lat": "95", "lon": "2", "consent_location": "on"}, 400, "between"),
        ({"accept_terms": "on", "needs": ["wings"]}, 400, "Unknown need"),
        ({"accept_terms": "on", "areas": ["abc"]}, 400, "Unknown area"),
        ({"accept_terms": "on", "areas": ["999999"]}, 404, "Unknown area"),
    ],
)
def test_refused_first_steps_change_nothing(data, status, message):
    make_area_tree()
    user = UserFactory.create()
    response = _client(user).post("/welcome/", data)
    assert response.status_code == status
    assert message in response.content.decode()
    assert not _active(user)  # the terms given in the same form are rolled back too
    assert not ChannelIdentity.objects.filter(user=user).exists()
    assert not Subscription.objects.filter(user=user).exists()
    assert ResidentProfile.objects.get(user=user).home_location is None


def test_the_profile_changes_location_areas_needs_and_consents():
    tree = make_area_tree()
    user = UserFactory.create()
    client = _client(user)
    client.post("/welcome/", {"accept_terms": "on"})
    assert client.post("/me/location/", {"lat": "1", "lon": "2", "consent_location": "on"}).status_code == 302
    assert ResidentProfile.objects.get(user=user).home_location.coords == (2.0, 1.0)
    assert client.post("/me/location/", {"clear": "on"}).status_code == 302
    assert ResidentProfile.objects.get(user=user).home_location is None
    assert client.post("/me/areas/", {"areas": [str(tree.city_b.pk)]}).status_code == 302
    subscription = Subscription.objects.get(user=user)
    assert client.post("/me/needs/", {"needs": ["medical"]}).status_code == 302
    assert "needs_medical" in _active(user)
    assert client.post("/me/needs/", {}).status_code == 302  # unticked: the need and its consent go
    assert "needs_medical" not in _active(user)
    assert not ResidentNeed.objects.filter(profile__user=user).exists()
    assert client.post(f"/me/areas/{subscription.pk}/remove/").status_code == 302
    assert not Subscription.objects.filter(user=user).exists()
    assert client.post("/me/consents/terms/withdraw/").status_code == 302
    assert "terms" not in _active(user)
    page = client.get("/me/").content.decode()
    assert "Receive alerts and use the service" not in page  # withdrawn: no longer listed
    assert "Use my location to reach me" in page


def test_the_profile_refuses_other_peoples_things_and_nonsense():
    tree = make_area_tree()
    owner, intruder = UserFactory.create(), UserFactory.create()
    subscription = Subscription.objects.create(user=owner, area=tree.city_a)
    client = _client(intruder)
    assert client.post(f"/me/areas/{subscription.pk}/remove/").status_code == 404
    assert Subscription.objects.filter(pk=subscription.pk).exists()
    assert client.post("/me/consents/nonsense/withdraw/").status_code == 404
    assert client.post("/me/location/", {"lat": "", "lon": ""}).status_code == 400
    assert client.post("/me/location/", {"lat": "1", "lon": "2"}).status_code == 400  # no location consent
    assert client.get("/me/location/").status_code == 405
    assert Client().get("/me/").status_code == 302  # signed out: to the sign-in page


def test_erasure_needs_the_user_name_typed_and_then_erases_and_signs_out():
    user = UserFactory.create(username="leaving")
    client = _client(user)
    assert client.post("/me/erase/", {"confirm": "someone-else"}).status_code == 400
    assert User.objects.get(pk=user.pk).erased_at is None
    response = client.post("/me/erase/", {"confirm": "leaving"})
    assert response.status_code == 302
    assert User.objects.get(pk=user.pk).erased_at is not None
    assert client.get("/me/").status_code == 302  # signed out


def test_the_language_is_kept_for_the_person_and_only_local_redirects_are_followed():
    user = UserFactory.create()
    client = _client(user)
    response = client.post("/language/", {"language": "ja", "next": "/shelters/"})
    assert response.status_code == 302
    assert response["Location"] == "/shelters/"
    assert User.objects.get(pk=user.pk).preferred_language == "ja"
    assert client.post("/language/", {"language": "fr", "next": "https://evil.example/"})["Location"] == "/"
    assert client.post("/language/", {"language": "klingon"}).status_code == 302
    assert User.objects.get(pk=user.pk).preferred_language == "fr"
    assert Client().get("/language/").status_code == 405


def test_signing_in_sets_the_persons_language():
    UserFactory.create(username="kenji", password="a-long-pass-phrase-7", preferred_language="ja")
    response = Client().post("/login/", {"username": "kenji", "password": "a-long-pass-phrase-7"})
    assert response.status_code == 302
    assert response.cookies["django_language"].value == "ja"
    assert Client().post("/login/", {"username": "kenji", "password": "wrong"}).status_code == 200
