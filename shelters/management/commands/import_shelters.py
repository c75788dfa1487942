"""`manage.py import_shelters --format nanao|nyc PATH [--area LEVEL:CODE]`: load designated shelters, all or nothing."""

from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from accounts.area_import import area_parent_resolve
from commsplatform.core.context import acting_as
from commsplatform.core.errors import DomainError
from shelters.importers import FORMATS, NANAO_AREA_CODE, ShelterImportFailed, nanao_area_ensure, shelter_import

DEFAULT_AREAS = {"nanao": f"city:{NANAO_AREA_CODE}", "nyc": "city:NYC"}
WARNINGS_LISTED = 20


class Command(BaseCommand):
    help = (
        "Import designated shelters: the Nanao (Japan) reference list or New York City's hurricane evacuation "
        "centres (coordinates reprojected from EPSG:2263). All or nothing; unparseable values are reported, not "
        "guessed. Importing again updates the shelters (status and occupancy are kept)."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("path", type=Path, help="The CSV file (e.g. …/nanao_reference_shelters.csv).")
        parser.add_argument("--format", required=True, choices=FORMATS)
        parser.add_argument(
            "--area",
            help="LEVEL:CODE of the area the shelters lie in (default: city:NYC, or city:JP-17202 for Nanao, "
            "created as a rough box when missing).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["path"]
        file_format: str = options["format"]
        reference = options["area"] or DEFAULT_AREAS[file_format]
        try:
            with acting_as(actor_id=None, source="command:import_shelters"):
                if options["area"] is None and file_format == "nanao":
                    area = nanao_area_ensure()
                else:
                    area = area_parent_resolve(reference=reference)
                result = shelter_import(actor=None, path=path, file_format=file_format, area=area)
        except ShelterImportFailed as exc:
            raise CommandError(exc.describe()) from exc
        except DomainError as exc:
            hint = (
                " Load the areas first (manage.py load_demo --data-dir …, or import_areas)."
                if file_format == "nyc"
                else ""
            )
            raise CommandError(f"{path}: {exc.message}{hint} Nothing imported.") from exc
        capacity = (
            f"indoor capacity parsed for {len(result.capacities)}, totalling {sum(result.capacities):,}"
            if result.capacities
            else "the file states no capacity"
        )
        self.stdout.write(
            f"{path.name}: {len(result.shelters)} shelters in {result.area.name} (created {len(result.created)}, "
            f"updated {len(result.updated)}, unchanged {len(result.unchanged)}); {capacity}"
        )
        if result.warnings:
            self.stdout.write(f"{len(result.warnings)} warning(s), values left unknown:")
            for warning in result.warnings[:WARNINGS_LISTED]:
                self.stdout.write(f"  {warning}")
