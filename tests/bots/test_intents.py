"""Plain words → journeys: whole words, the chat's language or English, and nothing for a mere acknowledgement."""

import pytest

from bots.journeys.common import intent_of


@pytest.mark.parametrize(
    ("text", "language", "intent"),
    [
        ("I'm safe", "en", "safe"),
        ("I\u2019m SAFE", "en", "safe"),
        ("where is the nearest shelter?", "en", "shelters"),
        ("necesito un refugio", "es", "shelters"),
        ("shelter", "ja", "shelters"),  # English is always understood
        ("help me please", "en", "need_help"),
        ("help", "en", "help"),
        ("ok", "en", None),
        ("OK thanks", "en", None),
        ("大丈夫", "ja", None),
        ("近くの避難所はどこですか", "ja", "shelters"),  # no spaces between Japanese words
        ("unsafe", "en", None),  # whole words only
        ("I am not safe", "en", "need_help"),
        ("not safe!", "en", "need_help"),
        ("is my family safe?", "en", None),  # "safe" records an answer: only the statement alone counts
        ("I'm safe, thanks", "en", None),
        ("無事です。", "ja", "safe"),
        ("家族は無事ですか", "ja", None),
        ("estoy a salvo", "es", "safe"),
        ("no estoy a salvo", "es", "need_help"),
    ],
)
def test_intents(text, language, intent):
    assert intent_of(text, language) == intent
