"""`manage.py import_areas FILE --level LEVEL --name-field F --code-field F`: load areas from GeoJSON/TopoJSON."""

from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from accounts.area_import import AreaImportFailed, area_import
from accounts.models import AreaLevel
from commsplatform.core.context import acting_as
from commsplatform.core.errors import DomainError

ERRORS_LISTED = 50


class Command(BaseCommand):
    help = (
        "Import administrative areas from a GeoJSON or TopoJSON file, one per polygon feature, all or nothing: "
        "when any feature is wrong, every error is listed (features counted from 0) and nothing is written."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument("--level", required=True, choices=AreaLevel.values)
        parser.add_argument("--name-field", required=True, help="Property holding the area's name.")
        parser.add_argument("--code-field", required=True, help="Property holding the area's code (unique per level).")
        parser.add_argument("--parent", help="Parent area: CODE when unique across levels, else LEVEL:CODE.")
        parser.add_argument("--source", help="Provenance stored with each area (default: the file name).")
        parser.add_argument("--layer", help="Layer to read (a TopoJSON object name); default: the first layer.")
        parser.add_argument(
            "--update", action="store_true", help="Update areas whose code already exists at this level (same parent)."
        )
        parser.add_argument(
            "--make-valid", action="store_true", help="Repair invalid geometries instead of refusing the file."
        )
        parser.add_argument("--name-format", default="{}", help='Name built from the name field, e.g. "Zone {}".')

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["file"]
        try:
            with acting_as(actor_id=None, source="command:import_areas"):
                result = area_import(
                    actor=None,
                    path=path,
                    level=options["level"],
                    name_field=options["name_field"],
                    code_field=options["code_field"],
                    parent=options["parent"],
                    source=options["source"],
                    layer=options["layer"],
                    update=options["update"],
                    make_valid=options["make_valid"],
                    name_format=options["name_format"],
                )
        except AreaImportFailed as exc:
            raise CommandError(exc.describe(limit=ERRORS_LISTED)) from exc
        except DomainError as exc:
            raise CommandError(f"{path}: {exc.message} Nothing imported.") from exc
        message = f"imported {len(result.created)} areas (level {result.level}) from {path}"
        if result.updated:
            message += f", updated {len(result.updated)}"
        if result.repaired:
            message += f" ({result.repaired} geometries repaired)"
        self.stdout.write(message)
