from django.apps import AppConfig


class BotsConfig(AppConfig):
    name = "bots"
    verbose_name = "Bots"

    def ready(self) -> None:
        from accounts.signals import user_erased
        from bots import receivers
        from rooms.signals import room_event_published

        user_erased.connect(receivers.user_erased, dispatch_uid="bots.user_erased")
        room_event_published.connect(receivers.room_event_published, dispatch_uid="bots.room_event_published")
