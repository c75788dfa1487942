"""E-mail transport, through Django's e-mail framework (SMTP in production).

Each message carries a Message-ID derived from its delivery, so a repeat after a crash is recognisable.
Permanent refusals (5xx) fail with the server's reason; temporary ones (4xx, lost connections) are retried.
"""

import smtplib
from collections.abc import Iterator, Sequence
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection

from accounts.models import ChannelKind
from alerts.transports.base import Outcome, Outgoing, Status, Transport


def _smtp_reason(code: int, message: Any) -> str:
    text = message.decode(errors="replace") if isinstance(message, bytes) else str(message)
    return f"SMTP {code}: {text}"[:500]


class EmailTransport(Transport):
    name = "email"
    channel_kind = ChannelKind.EMAIL
    batch_size = 50

    def send(self, messages: Sequence[Outgoing]) -> Iterator[list[Outcome]]:
        connection = get_connection(fail_silently=False, timeout=settings.EMAIL_TIMEOUT)
        try:
            for message in messages:
                yield [self._send_one(connection, message)]
        finally:
            try:
                connection.close()
            except (OSError, smtplib.SMTPException):  # the connection may already be gone
                pass

    def _send_one(self, connection: Any, message: Outgoing) -> Outcome:
        payload = message.payload
        domain = settings.DEFAULT_FROM_EMAIL.rsplit("@", 1)[-1]
        message_id = f"<delivery-{message.delivery_id}@{domain}>"
        email = EmailMultiAlternatives(
            subject=payload["subject"],
            body=payload["text"],
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=[message.address],
            connection=connection,
            headers={
                "Message-ID": message_id,
                "Auto-Submitted": "auto-generated",
                "X-Alert-Identifier": payload["identifier"],
                "Content-Language": message.language,
            },
        )
        try:
            email.send()
        except smtplib.SMTPRecipientsRefused as exc:
            code, text = next(iter(exc.recipients.values()))
            status: Status = "retry" if 400 <= code < 500 else "failed"
            return Outcome(message.delivery_id, status, reason=_smtp_reason(code, text))
        except smtplib.SMTPResponseException as exc:
            status = "retry" if 400 <= exc.smtp_code < 500 else "failed"
            self._reset(connection)
            return Outcome(message.delivery_id, status, reason=_smtp_reason(exc.smtp_code, exc.smtp_error))
        except (TimeoutError, smtplib.SMTPException, OSError) as exc:
            self._reset(connection)
            return Outcome(message.delivery_id, "retry", reason=f"{type(exc).__name__}: {exc}"[:500])
        return Outcome(message.delivery_id, "sent", provider_message_id=message_id)

    @staticmethod
    def _reset(connection: Any) -> None:
        """After an error the SMTP session may be unusable; the next message opens a new one."""
        try:
            connection.close()
        except (OSError, smtplib.SMTPException):
            pass
