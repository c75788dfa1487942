"""`manage.py load_demo [--data-dir PATH]`: the local demo's areas, organisations and one login per role."""

import os
from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from accounts.area_import import AreaImportFailed
from accounts.demo import DEMO_PASSWORD_DEFAULT, demo_load
from alerts.demo import alerts_demo_load
from commsplatform.core.context import acting_as
from commsplatform.core.errors import DomainError
from rooms.demo import rooms_demo_load


class Command(BaseCommand):
    help = (
        "Load the demo once (idempotent): New York City from --data-dir (the shared data folder) or the made-up "
        "Demoville, demo organisations and one user per role. The password comes from DEMO_PASSWORD."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--data-dir", type=Path, help="Folder holding shelters/nyc/… (e.g. ../shared/data); default: Demoville."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        password = os.environ.get("DEMO_PASSWORD") or DEMO_PASSWORD_DEFAULT
        try:
            with acting_as(actor_id=None, source="command:load_demo"):
                summary = demo_load(data_dir=options["data_dir"], password=password)
                templates = alerts_demo_load(city=summary.city)
                rooms = rooms_demo_load(city=summary.city)
        except AreaImportFailed as exc:
            raise CommandError(exc.describe()) from exc
        except DomainError as exc:
            raise CommandError(f"The demo could not be loaded: {exc.message} Nothing was changed.") from exc
        if summary.note:
            self.stdout.write(summary.note)
        if summary.created:
            self.stdout.write(f"Loaded the demo around {summary.city.name}.")
        else:
            self.stdout.write(f"The demo around {summary.city.name} is already loaded; nothing was changed.")
        if templates:
            self.stdout.write(f"Added {templates} alert templates.")
        if rooms:
            self.stdout.write(f"Added {rooms} rooms.")
        rows = [("username", "role", "area", "organisation")]
        rows += [(x.username, x.role, x.area, x.organisation) for x in summary.logins]
        widths = [max(len(row[i]) for row in rows) for i in range(4)]
        for row in rows:
            self.stdout.write("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
        when = "" if summary.created else " (if DEMO_PASSWORD was the same when the demo was first loaded)"
        self.stdout.write(f"Password for every demo login: {password}{when}. Local demo only.")
