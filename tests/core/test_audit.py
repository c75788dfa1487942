"""The audit chain: appends link up, verification names the first tampered, removed or re-ordered event."""

import base64
import threading

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, connections

from accounts import services
from commsplatform.core.audit import audit_chain_verify, audit_record
from commsplatform.core.models import AuditEvent
from tests.factories import UserFactory


def _events(n: int) -> list[AuditEvent]:
    return [audit_record(action="test.event", object_type="test", object_id=str(i), data={"i": i}) for i in range(n)]


def _raw(sql: str, params: list) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


@pytest.mark.django_db
def test_a_fresh_chain_verifies(capsys):
    UserFactory.create()  # real service calls append real events
    _events(5)

    report = audit_chain_verify()
    call_command("audit_verify")

    assert report.ok
    assert report.checked == AuditEvent.objects.count() >= 6
    assert f"ok: {report.checked} events verified" in capsys.readouterr().out


@pytest.mark.django_db
def test_an_empty_chain_verifies():
    assert audit_chain_verify().ok


@pytest.mark.django_db
def test_altered_content_is_named():
    events = _events(6)
    _raw("UPDATE core_auditevent SET data = %s WHERE seq = %s", ['{"i": 99}', events[3].seq])

    report = audit_chain_verify()

    assert not report.ok
    assert report.broken_seq == events[3].seq
    assert "altered" in report.reason
    with pytest.raises(CommandError, match=f"event #{events[3].seq}"):
        call_command("audit_verify")


@pytest.mark.django_db
def test_altered_actor_is_named():
    events = _events(4)
    _raw("UPDATE core_auditevent SET actor_id = %s WHERE seq = %s", [12345, events[1].seq])
    assert audit_chain_verify().broken_seq == events[1].seq


@pytest.mark.django_db
def test_a_deleted_event_is_named():
    events = _events(5)
    _raw("DELETE FROM core_auditevent WHERE seq = %s", [events[2].seq])

    report = audit_chain_verify()

    assert report.broken_seq == events[2].seq
    assert "missing" in report.reason


@pytest.mark.django_db
def test_a_deleted_last_event_is_named():
    events = _events(3)
    _raw("DELETE FROM core_auditevent WHERE seq = %s", [events[-1].seq])

    report = audit_chain_verify()

    assert report.broken_seq == events[-1].seq
    assert "missing" in report.reason


@pytest.mark.django_db
def test_a_rehashed_event_without_the_key_is_named():
    """Recomputing a plain SHA-256 after editing does not help: the chain is keyed."""
    import hashlib

    events = _events(3)
    forged = hashlib.sha256(b"forged").hexdigest()
    _raw("UPDATE core_auditevent SET hash = %s WHERE seq = %s", [forged, events[1].seq])

    report = audit_chain_verify()

    assert report.broken_seq == events[1].seq


@pytest.mark.django_db
def test_the_orm_refuses_to_change_or_delete_events():
    event = _events(1)[0]
    with pytest.raises(TypeError):
        AuditEvent.objects.filter(pk=event.pk).update(action="x")
    with pytest.raises(TypeError):
        AuditEvent.objects.filter(pk=event.pk).delete()
    with pytest.raises(TypeError):
        event.delete()
    event.action = "changed"
    with pytest.raises(TypeError):
        event.save()
    assert audit_chain_verify().ok


@pytest.mark.django_db
def test_events_hold_no_personal_data():
    user = UserFactory.create(username="maria.rossi", email="maria@example.org", first_name="Maria")
    services.user_update(user=user, last_name="Rossi")
    dumped = " ".join(str(v) for v in AuditEvent.objects.values_list("data", "object_id", "source", "action"))
    for personal in ("maria", "Maria", "Rossi", "example.org"):
        assert personal not in dumped


@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_keep_one_unbroken_chain():
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            for i in range(15):
                audit_record(action="test.concurrent", object_type="writer", object_id=f"{n}-{i}")
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert not errors
    report = audit_chain_verify()
    assert report.ok
    assert report.checked == AuditEvent.objects.count() == 60


@pytest.mark.django_db
def test_api_calls_with_basic_auth_name_their_actor() -> None:
    from rest_framework.test import APIClient

    person = UserFactory.create(username="basic-person", password="a-test-password-42")
    client = APIClient()
    token = base64.b64encode(b"basic-person:a-test-password-42").decode()
    client.credentials(HTTP_AUTHORIZATION=f"Basic {token}")
    response = client.post("/api/accounts/me/consents/", {"purpose": "terms", "version": "1"}, format="json")
    assert response.status_code < 300, response.content
    event = AuditEvent.objects.order_by("-seq").first()
    assert event.actor_id == person.pk
