"""Creates the audit chain's head row, so that the first appends lock an existing row and never race."""

from django.db import migrations

GENESIS_HASH = "0" * 64


def create_head(apps, schema_editor):  # type: ignore[no-untyped-def]  # migration signature
    AuditChainHead = apps.get_model("core", "AuditChainHead")
    AuditChainHead.objects.get_or_create(pk=1, defaults={"seq": 0, "hash": GENESIS_HASH})


class Migration(migrations.Migration):
    dependencies = [("core", "0001_initial")]
    operations = [migrations.RunPython(create_head, migrations.RunPython.noop)]
