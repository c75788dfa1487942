"""Label sets: the categories the classifier sorts texts into, which of them are urgent, and example sentences.

The default is the 8 humanitarian categories of crisis informatics (classifier/label_sets/crisis.json); a
deployment points CLASSIFIER_LABEL_SET at a JSON file of the same shape for its own categories.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from django.conf import settings

BUILTIN_DIR = Path(__file__).resolve().parent / "label_sets"


@dataclass(frozen=True)
class LabelSet:
    name: str
    labels: tuple[str, ...]
    urgent: frozenset[str] = frozenset()
    offering_help: frozenset[str] = frozenset()
    examples: dict[str, list[str]] = field(default_factory=dict, compare=False, hash=False)

    def urgency(self, label: str) -> int:
        """2 for an urgent category, 0 otherwise (1 is left for staff to raise an item by hand)."""
        return 2 if label in self.urgent else 0


class LabelSetError(ValueError):
    pass


def label_set_read(path: Path) -> LabelSet:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise LabelSetError(f"{path}: {exc}") from exc
    examples = raw.get("examples") or {}
    labels = raw.get("labels") or sorted(examples)
    if not labels or not all(isinstance(label, str) and label for label in labels):
        raise LabelSetError(f"{path}: no labels")
    urgent = set(raw.get("urgent", []))
    offering = set(raw.get("offering_help", []))
    unknown = (urgent | offering | set(examples)) - set(labels)
    if unknown:
        raise LabelSetError(f"{path}: unknown labels {sorted(unknown)}")
    return LabelSet(
        name=str(raw.get("name") or path.stem),
        labels=tuple(labels),
        urgent=frozenset(urgent),
        offering_help=frozenset(offering),
        examples={label: list(examples.get(label, [])) for label in labels},
    )


@lru_cache(maxsize=8)
def _cached(name: str) -> LabelSet:
    builtin = BUILTIN_DIR / f"{name}.json"
    return label_set_read(builtin if builtin.is_file() else Path(name))


def label_set_active() -> LabelSet:
    return _cached(settings.CLASSIFIER_LABEL_SET)
