"""SQLite connections wait as long as configured for a lock (mod_spatialite would reset it to 5 s)."""

import pytest
from django.conf import settings
from django.db import connection


@pytest.mark.django_db
def test_busy_timeout_is_the_configured_one() -> None:
    if connection.vendor != "sqlite":
        pytest.skip("SQLite lane only: PostgreSQL has no busy timeout")
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA busy_timeout")
        (value,) = cursor.fetchone()
    assert value == int(float(settings.DATABASES["default"]["OPTIONS"]["timeout"]) * 1000)
