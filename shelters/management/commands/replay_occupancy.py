"""`manage.py replay_occupancy PATH [--delay SECONDS]`: replay Nanao's 2024 occupancy snapshots as a timeline."""

from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from commsplatform.core.context import acting_as
from commsplatform.core.errors import DomainError
from shelters.replay import HistorySnapshot, ReplayFailed, occupancy_replay

WARNINGS_LISTED = 20


class Command(BaseCommand):
    help = (
        "Replay a folder of occupancy snapshots (Nanao's open_shelter_Nanao-shi_*.csv) onto the imported shelters, "
        "in time order: shelters listed are opened with their head count, shelters no longer listed are closed. "
        "Live clients see every step; --delay slows the replay down for a demo. Snapshots already replayed are "
        "skipped."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("path", type=Path, help="The history folder, or one snapshot file.")
        parser.add_argument("--delay", type=float, default=0.0, help="Seconds to wait between snapshots.")
        parser.add_argument("--source", default="nanao", help="Source the shelters were imported from.")

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["path"]
        if options["delay"] < 0:
            raise CommandError("--delay cannot be negative.")

        def step(snapshot: HistorySnapshot, number: int) -> None:
            if options["verbosity"] > 1:
                self.stdout.write(
                    f"{snapshot.at.isoformat()}: {len(snapshot.counts)} shelters open, "
                    f"{sum(snapshot.counts.values())} people"
                )

        try:
            with acting_as(actor_id=None, source="command:replay_occupancy"):
                result = occupancy_replay(
                    actor=None, path=path, source=options["source"], delay=options["delay"], on_step=step
                )
        except ReplayFailed as exc:
            raise CommandError(exc.describe()) from exc
        except DomainError as exc:
            raise CommandError(f"{path}: {exc.message}") from exc
        self.stdout.write(
            f"replayed {result.steps} snapshots ({result.skipped} already replayed); at the end "
            f"{result.open_last} shelters open with {result.people_last} people"
        )
        if result.warnings:
            self.stdout.write(f"{len(result.warnings)} count(s) above the designated capacity (recorded as counted):")
            for file, warning in result.warnings[:WARNINGS_LISTED]:
                self.stdout.write(f"  {file.name}: {warning}")
