"""An app installed only in the browser tests' daphne and worker processes (tests/web/server_settings.py).

Between two browser tests the test database is flushed and Django creates the content types again, with new ids.
The server processes live across tests, and a content type cached by id in one of them would then point at a row
that is gone (guardian's permission queries fail with MixedContentTypeError). There, neither Django nor guardian
caches them: each use reads the content type from the database, as a fresh process would.
"""

from typing import Any

from django.apps import AppConfig


def _no_cache(manager: Any, using: str, content_type: Any) -> None:
    """ContentTypeManager._add_to_cache that keeps nothing."""


class WebServerTestsConfig(AppConfig):
    name = "tests.web"
    label = "web_server_tests"

    def ready(self) -> None:
        from django.contrib.contenttypes.models import ContentType, ContentTypeManager

        # On the class: the model's managers are copies (made again whenever the app registry clears its caches),
        # and every copy shares the first one's cache.
        ContentTypeManager._add_to_cache = _no_cache  # type: ignore[attr-defined]
        ContentType.objects.clear_cache()  # what was cached while the apps loaded
        # guardian memoises content types itself; read them fresh there too.
        from guardian import shortcuts

        shortcuts._get_ct_cached = shortcuts._get_ct_cached.__wrapped__  # type: ignore[assignment]
