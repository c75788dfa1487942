from django.apps import AppConfig


class RoomsConfig(AppConfig):
    name = "rooms"
    verbose_name = "Rooms"

    def ready(self) -> None:
        from alerts.signals import alert_issued
        from rooms.alert_rooms import on_alert_issued

        alert_issued.connect(on_alert_issued, dispatch_uid="rooms.alert_announce")
