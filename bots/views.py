"""The Telegram webhook: checked, stored and answered at once; the update is processed by a Celery task.

Telegram calls /bots/telegram/<TELEGRAM_WEBHOOK_PATH>/ with the header X-Telegram-Bot-Api-Secret-Token set to
the secret given in setWebhook. A wrong path is 404 (nothing is there), a wrong or missing secret 403, a body
that is not an update 400; none of them changes anything. A repeated update is answered 200 and ignored.
"""

import hmac
import logging

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from bots import updates
from bots.models import UpdateSource
from commsplatform.core.errors import ValidationFailed

logger = logging.getLogger(__name__)
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 - a header name, not a secret


def _error(status: int, code: str, message: str) -> JsonResponse:
    return JsonResponse({"ok": False, "code": code, "detail": message}, status=status)


@csrf_exempt
@require_POST
def telegram_webhook(request: HttpRequest, path_secret: str) -> HttpResponse:
    expected_path, expected_secret = settings.TELEGRAM_WEBHOOK_PATH, settings.TELEGRAM_WEBHOOK_SECRET
    if not (settings.TELEGRAM_BOT_TOKEN and expected_path and expected_secret):
        return _error(404, "not_found", "There is no webhook here.")
    if not hmac.compare_digest(path_secret.encode(), expected_path.encode()):
        return _error(404, "not_found", "There is no webhook here.")
    given = request.headers.get(SECRET_HEADER, "")
    if not hmac.compare_digest(given.encode(), expected_secret.encode()):
        logger.warning("telegram webhook: refused a call without the right secret token")
        return _error(403, "forbidden", "Wrong or missing secret token.")
    try:
        length = int(request.headers.get("Content-Length") or 0)
    except ValueError:
        return _error(400, "invalid_update", "Content-Length is not a number.")
    if length > settings.TELEGRAM_UPDATE_MAX_BYTES:
        logger.warning("telegram webhook: refused a body of %s bytes", length)
        return _error(413, "too_large", f"An update is at most {settings.TELEGRAM_UPDATE_MAX_BYTES} bytes.")
    body = request.body
    if len(body) > settings.TELEGRAM_UPDATE_MAX_BYTES:
        return _error(413, "too_large", f"An update is at most {settings.TELEGRAM_UPDATE_MAX_BYTES} bytes.")
    try:
        data = updates.update_parse(body)
        received = updates.update_receive(data=data, source=UpdateSource.WEBHOOK)
    except ValidationFailed as exc:
        # What was wrong, never what was sent: the body may hold what a person wrote.
        logger.warning("telegram webhook: refused a body: %s", exc.message)
        return _error(400, "invalid_update", exc.message)
    return JsonResponse({"ok": True, "duplicate": received.duplicate})
