"""Writes of assets one at a time. Owners manage their organisation's assets over their membership's area."""

from typing import Any, TypedDict

from django.contrib.gis.geos import Point
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts import permissions
from accounts.models import AdministrativeArea, Membership, Organisation, Role, User
from commsplatform.core.audit import audit_record
from commsplatform.core.errors import Conflict, PermissionDenied, ValidationFailed
from shelters.models import Asset, AssetState, AssetType, postcode_normalise, search_text_of, street_normalise
from shelters.services import checks

MAX_QUANTITY = 1_000_000_000
TEXT_FIELDS = ("name", "unit", "address", "notes")


class AssetFields(TypedDict, total=False):
    asset_type: str
    name: str
    quantity: int
    unit: str
    state: str
    location: Point
    address: str
    street: str
    postcode: str
    attributes: dict[str, Any]
    notes: str


def asset_owner_scope(*, actor: User | None, owner: Organisation) -> list[AdministrativeArea] | None:
    """The areas over which the actor manages `owner`'s assets; None means anywhere (the system, a superuser)."""
    if not owner.is_active:
        raise ValidationFailed(f"{owner.name} is not an active organisation.", fields={"owner": "inactive"})
    if actor is None or (actor.is_superuser and actor.is_active):
        return None
    areas = [
        membership.area
        for membership in Membership.objects.active()
        .filter(user=actor, organisation=owner, role=Role.ASSET_OWNER)
        .select_related("area")
    ]
    if not areas:
        raise PermissionDenied(f"You do not manage the assets of {owner.name}.")
    return areas


def asset_area_allowed(
    *, actor: User | None, owner: Organisation, area: AdministrativeArea, scope: list[AdministrativeArea] | None
) -> bool:
    if scope is None or actor is None:
        return True
    return any(area.path.startswith(held.path) for held in scope) and permissions.user_has_area_perm(
        actor, permissions.MANAGE_ASSETS, area
    )


def _require_area(
    actor: User | None, owner: Organisation, area: AdministrativeArea, scope: list[AdministrativeArea] | None
) -> None:
    if not asset_area_allowed(actor=actor, owner=owner, area=area, scope=scope):
        raise PermissionDenied(f"You may not manage {owner.name}'s assets in {area.name}.")


def _apply(asset: Asset, fields: AssetFields) -> list[str]:
    raw: dict[str, Any] = dict(fields)
    unknown = sorted(set(raw) - set(AssetFields.__annotations__))
    if unknown:
        raise ValidationFailed(f"Unknown fields: {', '.join(unknown)}.", fields=dict.fromkeys(unknown, "unknown"))
    values: dict[str, Any] = {}
    for name in (*TEXT_FIELDS, "street", "postcode"):
        if name in raw:
            if not isinstance(raw[name], str):
                raise ValidationFailed(f"{name} is a text.", fields={name: "not a text"})
            values[name] = raw[name].strip()
    if "postcode" in values:
        values["postcode"] = postcode_normalise(values["postcode"])
    if "street" in values:
        values["street"] = street_normalise(values["street"])
    if "asset_type" in raw:
        if raw["asset_type"] not in AssetType.values:
            raise ValidationFailed(f"Unknown asset type {raw['asset_type']!r}.", fields={"asset_type": "unknown"})
        values["asset_type"] = raw["asset_type"]
    if "state" in raw:
        if raw["state"] not in AssetState.values:
            raise ValidationFailed(f"Unknown state {raw['state']!r}.", fields={"state": "unknown"})
        values["state"] = raw["state"]
    if "quantity" in raw:
        values["quantity"] = checks.check_count(raw["quantity"], "quantity", maximum=MAX_QUANTITY)
    if "attributes" in raw:
        values["attributes"] = checks.check_json_object(raw["attributes"], "attributes")
    if "location" in raw:
        values["location"] = checks.check_point(raw["location"])
        values["area"] = checks.area_at(values["location"])
    changed = []
    for name, value in values.items():
        if name == "location" and asset.pk is not None and asset.location.equals_exact(value):
            continue
        if name == "area":
            if asset.area_id != value.pk:
                asset.area = value
                changed.append(name)
            continue
        if asset.pk is not None and name != "location" and getattr(asset, name) == value:
            continue
        setattr(asset, name, value)
        changed.append(name)
    return changed


def asset_search_text(asset: Asset) -> str:
    return search_text_of([asset.name, asset.external_id, asset.address, asset.street, asset.postcode])


def asset_create(*, actor: User | None, owner: Organisation, external_id: str, fields: AssetFields) -> Asset:
    scope = asset_owner_scope(actor=actor, owner=owner)
    missing = [name for name in ("asset_type", "name", "location") if name not in fields]
    if missing:
        raise ValidationFailed(f"Missing: {', '.join(missing)}.", fields=dict.fromkeys(missing, "required"))
    external_id = external_id.strip() if isinstance(external_id, str) else ""
    if not external_id:
        raise ValidationFailed("Give the asset your own id.", fields={"external_id": "required"})
    asset = Asset(owner=owner, external_id=external_id)
    _apply(asset, fields)
    _require_area(actor, owner, asset.area, scope)
    asset.search_text = asset_search_text(asset)
    checks.full_clean(asset)
    with transaction.atomic():
        try:
            with transaction.atomic():
                asset.save()
        except IntegrityError as exc:
            raise Conflict(
                f"{owner.name} already has an asset with id {external_id!r}.", fields={"external_id": "duplicate"}
            ) from exc
        audit_record(
            actor_id=checks.actor_id_of(actor),
            action="shelters.asset_created",
            target=asset,
            area_id=asset.area_id,
            data={"owner_id": owner.pk, "asset_type": asset.asset_type, "state": asset.state},
        )
    return asset


def asset_update(*, actor: User | None, asset: Asset, fields: AssetFields) -> Asset:
    scope = asset_owner_scope(actor=actor, owner=asset.owner)
    _require_area(actor, asset.owner, asset.area, scope)
    changed = _apply(asset, fields)
    if not changed:
        return asset
    if "area" in changed:
        _require_area(actor, asset.owner, asset.area, scope)
    asset.search_text = asset_search_text(asset)
    checks.full_clean(asset)
    with transaction.atomic():
        asset.updated_at = timezone.now()
        asset.save(update_fields=[*changed, "search_text", "updated_at"])
        audit_record(
            actor_id=checks.actor_id_of(actor),
            action="shelters.asset_updated",
            target=asset,
            area_id=asset.area_id,
            data={"fields": sorted(changed), "state": asset.state},
        )
    return asset


def asset_delete(*, actor: User | None, asset: Asset) -> None:
    scope = asset_owner_scope(actor=actor, owner=asset.owner)
    _require_area(actor, asset.owner, asset.area, scope)
    with transaction.atomic():
        audit_record(
            actor_id=checks.actor_id_of(actor),
            action="shelters.asset_deleted",
            target=asset,
            area_id=asset.area_id,
            data={"owner_id": asset.owner_id, "external_id": asset.external_id},
        )
        asset.delete()
