"""The text scheme models are trained and predict with (classifier/text.py), and its round trip in a folder."""

import json

import pytest
import torch

from classifier import engine
from classifier.text import SCHEME_SOCIAL, text_normalise


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Roads closed &amp; bridges down", "Roads closed & bridges down"),
        ("RT @CityFloodDesk: water rising", "@City Flood Desk: water rising"),
        ("#KeralaFloodRelief send boats", "#Kerala Flood Relief send boats"),
        ("#COVID19 tests at #NYCFlood site", "#COVID 19 tests at #NYC Flood site"),
        ("#flood_zone_2 evacuate", "#flood zone 2 evacuate"),
        ("map at https://example.org/a?b=1 and www.example.org/x", "map at link and link"),
        ("write to help@example.org, item #1", "write to help@example.org, item #1"),
        ("  many   spaces\tand\nlines ", "many spaces and lines"),
        ("RT this if you are safe", "RT this if you are safe"),
    ],
)
def test_social_scheme(raw, expected):
    assert text_normalise(raw, SCHEME_SOCIAL) == expected


def test_empty_scheme_leaves_text_alone_and_unknown_scheme_is_refused():
    assert text_normalise("RT @a: #AbC &amp;", "") == "RT @a: #AbC &amp;"
    with pytest.raises(ValueError, match="Unknown text scheme"):
        text_normalise("text", "social-v9")


def test_a_model_applies_the_scheme_it_was_saved_with(tiny_model_dir, tmp_path):
    model = engine.classifier_load(tiny_model_dir)
    assert json.loads((tiny_model_dir / engine.CONFIG_FILE).read_text())["preprocess"] == SCHEME_SOCIAL
    raw = "RT @CityDesk: bridge closed &amp; #RiverFlood http://t.co/x"
    plain = "@City Desk: bridge closed & #River Flood link"
    assert model.prepare([raw]) == [plain]
    assert model.predict([raw])[0].scores == model.predict([plain])[0].scores

    # A folder written before the scheme existed has no "preprocess": it reads text as it comes.
    old = tmp_path / "old"
    model.save(old, save_encoder=False)
    config = json.loads((old / engine.CONFIG_FILE).read_text())
    del config["preprocess"]
    (old / engine.CONFIG_FILE).write_text(json.dumps(config))
    legacy = engine.classifier_load(old)
    assert legacy.prepare([raw]) == [raw]
    assert torch.equal(legacy.weight, model.weight)
