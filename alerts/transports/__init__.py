"""The registry of delivery transports, named in settings.ALERT_TRANSPORTS (name → class path).

Interface apps plug their transports in through that setting (e.g. bots adds "telegram"), so that the
alerts app never imports them. Each transport sends on the Celery queue "deliveries.<name>".
"""

from functools import cache

from django.conf import settings
from django.utils.module_loading import import_string

from alerts.transports.base import Transport


@cache
def _registry() -> dict[str, Transport]:
    transports: dict[str, Transport] = {}
    for name, path in settings.ALERT_TRANSPORTS.items():
        transport = import_string(path)()
        if transport.name != name:
            raise ValueError(f"ALERT_TRANSPORTS[{name!r}] names a transport called {transport.name!r}.")
        transports[name] = transport
    return transports


def transport_get(name: str) -> Transport:
    try:
        return _registry()[name]
    except KeyError:
        raise LookupError(f"No transport {name!r} in ALERT_TRANSPORTS.") from None


def transport_names() -> list[str]:
    return list(_registry())


def transport_for_channel() -> dict[str, str]:
    """Channel kind (accounts.ChannelKind) → transport name, for every registered transport."""
    return {transport.channel_kind: name for name, transport in _registry().items()}


def queue_for(name: str) -> str:
    return f"deliveries.{name}"


def registry_clear() -> None:
    """Forget the loaded transports (tests that change ALERT_TRANSPORTS)."""
    _registry.cache_clear()
