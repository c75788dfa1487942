"""Django admin for alerts: read-only. Drafting, approval and issue go through the services (API), which
enforce the two-person rule and write the audit record; the admin only shows."""

from django.contrib import admin
from django.http import HttpRequest

from accounts.admin import ReadOnlyAdmin
from alerts.models import Alert, AlertTemplate, CapFeed, Delivery, Info, Reply, Sensor, SensorRule, TrustedSender

INFO_FIELDS = ["language", "event", "urgency", "severity", "certainty", "headline", "expires"]


class InfoInline(admin.StackedInline[Info, Alert]):
    model = Info
    extra = 0
    can_delete = False
    fields = tuple(INFO_FIELDS)
    readonly_fields = INFO_FIELDS

    def has_add_permission(self, request: HttpRequest, obj: Alert | None = None) -> bool:
        return False


@admin.register(Alert)
class AlertAdmin(ReadOnlyAdmin):
    list_display = ["identifier", "msg_type", "state", "status", "sent", "expires", "targeted_count"]
    list_filter = ["state", "msg_type", "status", "origin"]
    search_fields = ["identifier", "sender"]
    inlines = [InfoInline]
    exclude = ["geometry"]


@admin.register(Delivery)
class DeliveryAdmin(ReadOnlyAdmin):
    list_display = ["alert", "recipient", "transport", "state", "attempts", "sent_at", "failed_reason"]
    list_filter = ["transport", "state"]
    raw_id_fields = ["alert", "recipient", "identity"]


@admin.register(Reply)
class ReplyAdmin(ReadOnlyAdmin):
    list_display = ["alert", "kind", "area", "created_at"]
    list_filter = ["kind"]
    exclude = ["location", "message"]  # sensitive: shown through the API to those who may see residents


for model in (AlertTemplate, CapFeed, TrustedSender, Sensor, SensorRule):
    admin.site.register(model, ReadOnlyAdmin)
