"""A labelled example, shared by the file readers, the database and the trainers (no torch here)."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Example:
    text: str
    label: str
