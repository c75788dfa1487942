from typing import Any

from django.apps import AppConfig
from django.conf import settings
from django.db.backends.signals import connection_created


def _sqlite_busy_timeout(sender: Any, connection: Any, **kwargs: Any) -> None:
    """Loading mod_spatialite resets SQLite's lock wait to 5 s, whatever DATABASES' "timeout" says; concurrent
    writers (web, worker, beat) then fail with "database is locked". Set the configured wait again."""
    if connection.vendor != "sqlite":
        return
    timeout = float(settings.DATABASES[connection.alias].get("OPTIONS", {}).get("timeout", 5))
    with connection.cursor() as cursor:
        cursor.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")


class CoreConfig(AppConfig):
    name = "commsplatform.core"
    label = "core"
    verbose_name = "Kernel"

    def ready(self) -> None:
        from commsplatform.core import context

        context.connect_celery_signals()
        connection_created.connect(_sqlite_busy_timeout, dispatch_uid="commsplatform.sqlite_busy_timeout")
