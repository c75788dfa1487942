"""Classifier tests use a tiny randomly initialised BERT (same tokenizer as MiniLM) trained in the test run.

The tiny model proves the plumbing (loading, batching, storage, rules), never accuracy. Tasks run inline:
`delay` is replaced by a direct call, after commit as in production.
"""

from pathlib import Path

import pytest

from classifier import engine, tasks
from classifier.labels import label_set_active
from classifier.training import TrainOptions, train_model
from classifier.training_types import Example


@pytest.fixture(scope="session")
def tiny_encoder_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from transformers import AutoTokenizer, BertConfig, BertModel

    engine.seed_everything(1)
    folder = tmp_path_factory.mktemp("tiny-encoder")
    tokenizer = AutoTokenizer.from_pretrained(str(engine.default_encoder_path()), local_files_only=True)
    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=128,
    )
    BertModel(config).save_pretrained(str(folder))
    tokenizer.save_pretrained(str(folder))
    return folder


def project_examples(per_class: int = 2) -> list[Example]:
    """Sentences written for the project (classifier/label_sets/crisis.json), never real messages."""
    label_set = label_set_active()
    return [Example(text, label) for label in label_set.labels for text in label_set.examples[label][:per_class]]


@pytest.fixture(scope="session")
def tiny_model_dir(tiny_encoder_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("tiny-model") / "model"
    model, info = train_model(
        encoder_path=tiny_encoder_dir,
        train=project_examples(2),
        dev=None,
        options=TrainOptions(
            labels=list(label_set_active().labels), name="tiny-test", pair_iterations=1, progress=False
        ),
        method="fewshot",
        log=lambda _line: None,
    )
    model.save(folder, metrics={"training": info})
    return folder


@pytest.fixture
def classifier_on(settings, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks):
    """Classification enabled with the tiny model; queued tasks run inline after commit."""
    settings.CLASSIFIER_ENABLED = True
    settings.CLASSIFIER_MODEL_DIR = str(tiny_model_dir)
    engine.classifier_cache_clear()
    calls: list[list[int]] = []

    def classify_inline(ids: list[int]) -> int:
        calls.append(list(ids))
        return tasks.classify_texts.run(ids)

    monkeypatch.setattr(tasks.classify_texts, "delay", classify_inline)
    monkeypatch.setattr(tasks.assign_user, "delay", lambda user_id: tasks.assign_user.run(user_id))
    yield calls
    engine.classifier_cache_clear()
    assert settings.CLASSIFIER_MODEL_DIR != ""
