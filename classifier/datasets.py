"""Labelled examples from files: the TSV layout of the crisis data (`tweet_id`, `tweet_text`, `class_label`)."""

from __future__ import annotations

import csv
from pathlib import Path

from classifier.training_types import Example

REQUIRED_COLUMNS = ("tweet_text", "class_label")


class DatasetError(ValueError):
    pass


def read_tsv(path: Path | str) -> list[Example]:
    """Rows of a TSV with a header holding at least `tweet_text` and `class_label` (blank rows skipped)."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path}: no such file")
    examples: list[Example] = []
    csv.field_size_limit(1_000_000)
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
        missing = [c for c in REQUIRED_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise DatasetError(f"{path}: missing column(s) {', '.join(missing)}")
        for line, row in enumerate(reader, start=2):
            text = (row.get("tweet_text") or "").strip()
            label = (row.get("class_label") or "").strip()
            if not text and not label:
                continue
            if not text or not label:
                raise DatasetError(f"{path}:{line}: empty text or label")
            examples.append(Example(text=text, label=label))
    return examples
