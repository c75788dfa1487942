"""Django admin for the audit record: read-only, like the record itself."""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from commsplatform.core.models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin[AuditEvent]):
    list_display = ["seq", "at", "action", "object_type", "object_id", "actor_id", "area_id", "source"]
    list_filter = ["action"]
    search_fields = ["action", "object_type", "object_id", "request_id"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
