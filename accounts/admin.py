"""Django admin for accounts: read-only views for platform staff.

Every change to people, roles, areas and agreements goes through the services (API or management
commands), which check the actor's rights over the area and write the audit record; the admin does not
bypass them, so it only shows.
"""

from typing import Any

from django.contrib import admin
from django.contrib.gis.admin import GISModelAdmin
from django.http import HttpRequest

from accounts.models import (
    AdministrativeArea,
    DataSharingAgreement,
    Membership,
    Organisation,
    User,
)


class ReadOnlyAdmin(admin.ModelAdmin[Any]):
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(AdministrativeArea)
class AdministrativeAreaAdmin(ReadOnlyAdmin, GISModelAdmin):
    list_display = ["name", "level", "code", "parent"]
    list_filter = ["level"]
    search_fields = ["name", "code"]


@admin.register(Organisation)
class OrganisationAdmin(ReadOnlyAdmin):
    list_display = ["name", "kind", "area", "is_active"]
    list_filter = ["kind", "is_active"]
    search_fields = ["name"]


@admin.register(Membership)
class MembershipAdmin(ReadOnlyAdmin):
    list_display = ["user", "role", "organisation", "area", "valid_from", "valid_until", "revoked_at"]
    list_filter = ["role"]
    search_fields = ["user__username", "organisation__name", "area__name"]


@admin.register(DataSharingAgreement)
class DataSharingAgreementAdmin(ReadOnlyAdmin):
    list_display = ["grantor", "grantee", "valid_from", "valid_until", "revoked_at"]


@admin.register(User)
class UserAdmin(ReadOnlyAdmin):
    # No locations or needs here: those are shown only through the audited, area-scoped API.
    list_display = ["username", "preferred_language", "is_staff", "is_active", "erased_at"]
    search_fields = ["username"]
    exclude = ["password"]
