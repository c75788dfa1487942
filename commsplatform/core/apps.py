from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "commsplatform.core"
    label = "core"
    verbose_name = "Kernel"

    def ready(self) -> None:
        from commsplatform.core import context

        context.connect_celery_signals()
