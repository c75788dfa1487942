"""PostgreSQL only: trigram indexes for text search and a geography index for nearest-first queries.

On SQLite this migration does nothing: the same queries run there without these indexes.
"""

from django.db import migrations

INDEXES = [
    # Free text (names in every language, address, postcode), matched with LIKE '%token%'.
    ("shelter_search_trgm", "shelters_shelter", "USING gin (search_text gin_trgm_ops)"),
    ("asset_search_trgm", "shelters_asset", "USING gin (search_text gin_trgm_ops)"),
    # Street: Django's icontains is UPPER(street::text) LIKE UPPER(%s).
    ("shelter_street_trgm", "shelters_shelter", "USING gin (UPPER(street::text) gin_trgm_ops)"),
    ("asset_street_trgm", "shelters_asset", "USING gin (UPPER(street::text) gin_trgm_ops)"),
    # Postcode prefixes: postcode::text LIKE 'X%' in any collation.
    ("shelter_postcode_prefix", "shelters_shelter", "(postcode varchar_pattern_ops)"),
    ("asset_postcode_prefix", "shelters_asset", "(postcode varchar_pattern_ops)"),
    # ORDER BY location::geography <-> point::geography LIMIT n walks this index nearest first.
    ("shelter_location_geog", "shelters_shelter", "USING gist ((location::geography))"),
    ("asset_location_geog", "shelters_asset", "USING gist ((location::geography))"),
]


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, table, definition in INDEXES:
        schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {table} {definition}")


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, _table, _definition in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("shelters", "0001_initial")]

    operations = [migrations.RunPython(create, drop)]
