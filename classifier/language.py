"""Which language a text is in, among the site's languages (py3langid: its model ships inside the package)."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from django.conf import settings

MIN_CHARS = 12
MIN_SCORE = 0.8

_lock = threading.Lock()
_identifier: Any = None


@dataclass(frozen=True)
class Detected:
    language: str  # a code of settings.LANGUAGES, or "" when unsure
    score: float


def _site_codes() -> dict[str, str]:
    """langid's two-letter code → the site's code ("zh" → "zh-hans")."""
    return {code.split("-")[0]: code for code, _name in settings.LANGUAGES}


def _get_identifier() -> Any:
    global _identifier
    with _lock:
        if _identifier is None:
            from py3langid import langid

            identifier = langid.LanguageIdentifier.from_model_file(langid.MODEL_FILE, norm_probs=True)
            identifier.set_languages(sorted(_site_codes()))
            _identifier = identifier
        return _identifier


def language_detect(text: str) -> Detected:
    """The site language the text is written in; "" for short or ambiguous texts (callers fall back)."""
    text = text.strip()
    if len(text) < MIN_CHARS:
        return Detected("", 0.0)
    code, score = _get_identifier().classify(text)
    score = float(score)
    if score < MIN_SCORE:
        return Detected("", score)
    return Detected(_site_codes().get(code, ""), score)
