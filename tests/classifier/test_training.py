"""Training, saving, loading and evaluating a model folder, on a tiny model and the project's own sentences."""

import json
from io import StringIO
from pathlib import Path

import pytest
import torch
from django.core.management import CommandError, call_command

from classifier import engine
from classifier.datasets import DatasetError, read_tsv
from classifier.evaluation import evaluate, expected_calibration_error
from classifier.labels import label_set_active
from classifier.training import TrainOptions, sample_per_class, split_holdout, train_model
from tests.classifier.conftest import project_examples


def _write_tsv(path: Path, examples) -> Path:
    lines = ["tweet_id\ttweet_text\tclass_label"]
    lines += [f"{i}\t{e.text}\t{e.label}" for i, e in enumerate(examples)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_saved_model_loads_back_with_the_same_predictions(tiny_model_dir):
    model = engine.classifier_load(tiny_model_dir)
    config = json.loads((tiny_model_dir / engine.CONFIG_FILE).read_text())
    assert config["labels"] == list(label_set_active().labels)
    assert config["method"] == "fewshot"
    assert config["version"]
    assert (tiny_model_dir / "encoder" / "config.json").is_file()
    assert (tiny_model_dir / engine.METRICS_FILE).is_file()

    texts = ["The bridge is closed.", "Please send water to the school.", "Nice weather today."]
    first = model.predict(texts)
    again = engine.classifier_load(tiny_model_dir).predict(texts)
    assert [p.label for p in first] == [p.label for p in again]
    for prediction in first:
        assert prediction.label in model.labels
        assert abs(sum(prediction.scores.values()) - 1.0) < 0.01
        assert prediction.score == pytest.approx(max(prediction.scores.values()), abs=1e-3)


def test_batching_by_length_keeps_the_order_of_texts(tiny_model_dir):
    model = engine.classifier_load(tiny_model_dir)
    texts = ["short", "a much longer text about a flooded road near the river bank", "mid length text here"]
    one_by_one = [model.predict([t])[0].scores for t in texts]
    batched = [p.scores for p in model.predict(texts, batch_size=2)]
    for single, together in zip(one_by_one, batched, strict=True):
        for label in single:
            assert together[label] == pytest.approx(single[label], abs=1e-3)


@pytest.mark.parametrize("method", ["fewshot", "finetune"])
def test_training_is_deterministic_with_a_seed(tiny_encoder_dir, method):
    options = TrainOptions(labels=list(label_set_active().labels), seed=7, epochs=1, pair_iterations=1, progress=False)
    train = project_examples(2)
    first, _ = train_model(encoder_path=tiny_encoder_dir, train=train, dev=None, options=options, method=method)
    second, _ = train_model(encoder_path=tiny_encoder_dir, train=train, dev=None, options=options, method=method)
    assert torch.equal(first.weight, second.weight)
    assert torch.equal(first.bias, second.bias)
    assert first.config.method == method


def test_centroid_model_over_the_project_examples(tiny_encoder_dir):
    label_set = label_set_active()
    model = engine.centroid_classifier(
        encoder=engine.Encoder(tiny_encoder_dir), examples=label_set.examples, name="centroid-test"
    )
    assert model.config.version.startswith("examples-")
    assert model.predict(["anything at all"])[0].label in label_set.labels


def test_sampling_and_holdout_are_stratified_and_seeded():
    examples = project_examples(8)
    sample = sample_per_class(examples, per_class=3, seed=1)
    assert sample == sample_per_class(examples, per_class=3, seed=1)
    assert {label: sum(e.label == label for e in sample) for label in label_set_active().labels} == dict.fromkeys(
        label_set_active().labels, 3
    )
    kept, held = split_holdout(examples, fraction=0.25, seed=1)
    assert len(held) == 2 * len(label_set_active().labels)
    assert not set(kept) & set(held)


def test_metrics():
    report = evaluate(["a", "a", "b", "b"], ["a", "b", "b", "b"], ["a", "b"], [0.9, 0.6, 0.8, 0.7])
    assert report.accuracy == 0.75
    assert report.confusion == [[1, 1], [0, 2]]
    assert report.per_class["a"]["recall"] == 0.5
    assert report.macro_f1 == pytest.approx((2 / 3 + 0.8) / 2)
    assert expected_calibration_error([1.0, 1.0], [True, False]) == pytest.approx(0.5)


def test_train_and_evaluate_commands(tiny_encoder_dir, tmp_path):
    train = _write_tsv(tmp_path / "train.tsv", project_examples(3))
    test = _write_tsv(tmp_path / "test.tsv", project_examples(8)[::2])
    out = tmp_path / "model"
    call_command(
        "train_classifier", "--train", str(train), "--per-class", "2", "--seed", "3", "--out", str(out),
        "--encoder", str(tiny_encoder_dir), stdout=StringIO(),
    )  # fmt: skip
    metrics = json.loads((out / engine.METRICS_FILE).read_text())
    assert metrics["train_examples"] == 2 * len(label_set_active().labels)
    assert json.loads((out / engine.CONFIG_FILE).read_text())["preprocess"] == "social-v1"
    raw = tmp_path / "raw"
    call_command(
        "train_classifier", "--train", str(train), "--per-class", "2", "--seed", "3", "--out", str(raw),
        "--encoder", str(tiny_encoder_dir), "--text-scheme", "none", stdout=StringIO(),
    )  # fmt: skip
    assert json.loads((raw / engine.CONFIG_FILE).read_text())["preprocess"] == ""

    stdout = StringIO()
    call_command(
        "evaluate_classifier", "--model", str(out), "--data", str(test), "--baseline-train", str(train), stdout=stdout
    )
    lines = stdout.getvalue().strip().splitlines()
    assert lines[-1].startswith("macro_f1=")
    float(lines[-1].split("=", 1)[1])
    assert any("TF-IDF" in line for line in lines)
    assert any(line.startswith("messages/second") for line in lines)

    with pytest.raises(CommandError, match="not empty"):
        call_command("train_classifier", "--train", str(train), "--out", str(out), stdout=StringIO())


def test_bad_training_files_are_refused(tmp_path):
    bad = tmp_path / "bad.tsv"
    bad.write_text("id\ttext\n1\thello\n", encoding="utf-8")
    with pytest.raises(DatasetError, match="missing column"):
        read_tsv(bad)
    unknown = _write_tsv(tmp_path / "unknown.tsv", [type("E", (), {"text": "hi", "label": "no_such_label"})()])
    with pytest.raises(CommandError, match="outside the label set"):
        call_command("train_classifier", "--train", str(unknown), "--out", str(tmp_path / "m"), stdout=StringIO())
    with pytest.raises(CommandError, match="no such file"):
        call_command("train_classifier", "--train", str(tmp_path / "nope.tsv"), "--out", str(tmp_path / "m"))


def test_the_crisis_files_read_with_the_default_labels(shared_data_dir):
    examples = read_tsv(shared_data_dir / "crisis" / "threecrises_dev.tsv")
    assert len(examples) == 712
    assert {e.label for e in examples} == set(label_set_active().labels)


@pytest.mark.django_db
def test_training_from_the_database_uses_only_consenting_authors(tiny_encoder_dir, tmp_path):
    from accounts import services as accounts_services
    from accounts.models import ConsentPurpose
    from classifier.models import LabelledExample
    from tests.factories import UserFactory

    consenting, other = UserFactory.create(), UserFactory.create()
    accounts_services.consent_give(user=consenting, purpose=ConsentPurpose.TRAINING, version="1")
    label_set = label_set_active()
    for example in project_examples(2):
        LabelledExample.objects.create(
            text=example.text, label=example.label, label_set=label_set.name, author=consenting
        )
        LabelledExample.objects.create(text=example.text, label=example.label, label_set=label_set.name, author=other)
    out = tmp_path / "from-db"
    call_command(
        "train_classifier", "--from-db", "--out", str(out), "--encoder", str(tiny_encoder_dir), stdout=StringIO()
    )
    metrics = json.loads((out / engine.METRICS_FILE).read_text())
    assert metrics["train_source"] == "database"
    assert metrics["train_examples"] == len(project_examples(2))

    accounts_services.consent_withdraw(user=consenting, purpose=ConsentPurpose.TRAINING)
    with pytest.raises(CommandError, match="at least two labels"):
        call_command("train_classifier", "--from-db", "--out", str(tmp_path / "none"), stdout=StringIO())


def test_fewshot_with_a_dev_set_is_calibrated_there(tiny_encoder_dir):
    options = TrainOptions(labels=list(label_set_active().labels), seed=7, pair_iterations=1, progress=False)
    model, info = train_model(
        encoder_path=tiny_encoder_dir,
        train=project_examples(2),
        dev=project_examples(8)[2::3],
        options=options,
        method="fewshot",
        log=lambda _line: None,
    )
    assert info["temperature"] == model.config.temperature
    assert model.config.temperature > 0
