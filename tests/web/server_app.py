"""An app installed only in the browser tests' daphne and worker processes (tests/web/server_settings.py).

Between two browser tests the test database is flushed and Django creates the content types again, with new ids.
The server processes live across tests, and a content type cached by id in one of them would then point at a row
that is gone (guardian's permission queries fail with MixedContentTypeError). There, neither Django nor guardian
caches them: each use reads the content type from the database, as a fresh process would.
"""

from typing import Any

from django.apps import AppConfig


class _NoCache(dict[str, Any]):
    def setdefault(self, key: str, default: Any = None) -> Any:
        return {} if default is None else default


class WebServerTestsConfig(AppConfig):
    name = "tests.web"
    label = "web_server_tests"

    def ready(self) -> None:
        from django.contrib.contenttypes.models import ContentType

        ContentType.objects._cache = _NoCache()  # type: ignore[attr-defined]
        # guardian memoises content types itself; read them fresh there too.
        from guardian import shortcuts

        shortcuts._get_ct_cached = shortcuts._get_ct_cached.__wrapped__  # type: ignore[assignment]
