"""The model the system uses, loaded lazily once per worker process, and batch prediction with language.

CLASSIFIER_MODEL_DIR when it holds a trained folder; otherwise the bare encoder classifying by nearest centroid
over the example sentences of the label set (written by the project, see classifier/label_sets/).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from django.conf import settings

from classifier.labels import label_set_active
from classifier.language import Detected, language_detect

if TYPE_CHECKING:
    from classifier.engine import Prediction, TextClassifier


@dataclass(frozen=True)
class Result:
    label: str
    score: float
    scores: dict[str, float]
    language: str
    language_score: float


def model_folder() -> Path | None:
    folder = Path(settings.CLASSIFIER_MODEL_DIR) if settings.CLASSIFIER_MODEL_DIR else None
    if folder is not None and (folder / "classifier.json").is_file():
        return folder
    return None


def _build() -> TextClassifier:
    from classifier import engine

    engine.set_threads(settings.CLASSIFIER_THREADS)
    folder = model_folder()
    label_set = label_set_active()
    if folder is not None:
        model = engine.classifier_load(folder)
        if list(model.labels) != list(label_set.labels):
            raise RuntimeError(f"The model in {folder} was trained for other labels than {label_set.name!r}.")
        return model
    encoder_dir = settings.CLASSIFIER_ENCODER_DIR or str(engine.default_encoder_path())
    encoder = engine.Encoder(encoder_dir)
    return engine.centroid_classifier(
        encoder=encoder, examples=label_set.examples, name=f"{label_set.name}-centroid-{encoder.name}"
    )


def classifier_get() -> TextClassifier:
    """The process's model (built on first use; a worker keeps it for its life)."""
    from classifier import engine

    key = f"{settings.CLASSIFIER_MODEL_DIR}|{settings.CLASSIFIER_ENCODER_DIR}|{settings.CLASSIFIER_LABEL_SET}"
    return engine.classifier_cached(key, _build)


def texts_predict(texts: Sequence[str]) -> list[Result]:
    """Label, score, per-label scores and language of each text, in one batched pass of the model."""
    model = classifier_get()
    limit = settings.CLASSIFIER_MAX_TEXT_CHARS
    clipped = [text[:limit] for text in texts]
    predictions: list[Prediction] = model.predict(clipped, batch_size=settings.CLASSIFIER_BATCH_SIZE)
    results = []
    for text, prediction in zip(clipped, predictions, strict=True):
        detected: Detected = language_detect(text)
        results.append(
            Result(
                label=prediction.label,
                score=prediction.score,
                scores=prediction.scores,
                language=detected.language,
                language_score=detected.score,
            )
        )
    return results


def model_identity() -> tuple[str, str, list[str]]:
    model = classifier_get()
    return model.config.name, model.config.version, list(model.labels)
