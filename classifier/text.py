"""Normalising social-media text before the encoder reads it (no torch here: cheap, and testable alone).

The encoder's WordPiece vocabulary was built from edited prose. Messages written on phones and in tweets carry
HTML entities (`&amp;`), retweet markers, links and run-together hashtags (`#KeralaFloodRelief` becomes
`kerala ##fl ##ood ##rel ##ie ##f`): noise that costs tokens, pushes the end of long messages past the
encoder's `max_length`, and hides words the model knows. A model folder records the scheme it was trained
with (`preprocess` in classifier.json) and applies the same one when it predicts; folders written before the
scheme existed have none and read text as it comes.
"""

from __future__ import annotations

import html
import re

SCHEME_SOCIAL = "social-v1"
SCHEMES = ("", SCHEME_SOCIAL)

_URL = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
_RETWEET = re.compile(r"^RT\s+(?=@)")
_TAG = re.compile(r"(?<![\w&])([#@])(\w+)")
# Where a run-together name changes case or script: "FloodRelief" → "Flood Relief", "COVID19" → "COVID 19",
# "NYCFlood" → "NYC Flood".
_WORD_BREAK = re.compile(r"(?<=[a-z])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])|(?<=[A-Za-z])(?=\d)|(?<=\d)(?=[A-Za-z])")
_SPACES = re.compile(r"\s+")


def _split_name(match: re.Match[str]) -> str:
    words = _WORD_BREAK.sub(" ", match.group(2).replace("_", " "))
    return f"{match.group(1)}{words}"


def text_normalise(text: str, scheme: str = SCHEME_SOCIAL) -> str:
    """The text as the model of `scheme` reads it ("" leaves it unchanged)."""
    if not scheme:
        return text
    if scheme != SCHEME_SOCIAL:
        raise ValueError(f"Unknown text scheme {scheme!r}; known: {', '.join(s for s in SCHEMES if s)}.")
    plain = html.unescape(text).strip()
    plain = _RETWEET.sub("", plain)
    plain = _URL.sub("link", plain)
    plain = _TAG.sub(_split_name, plain)
    return _SPACES.sub(" ", plain).strip()
