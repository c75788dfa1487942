"""Scores of a classifier on labelled data: accuracy, macro-F1, per-class P/R/F1, confusion, calibration.

Also the TF-IDF + logistic-regression baseline the transformer model is compared with.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np


def macro_f1(gold: Sequence[str], predicted: Sequence[str], labels: Sequence[str]) -> float:
    from sklearn.metrics import f1_score

    return float(f1_score(gold, predicted, labels=list(labels), average="macro", zero_division=0))


def expected_calibration_error(confidences: Sequence[float], correct: Sequence[bool], bins: int = 10) -> float:
    """Weighted mean gap between confidence and accuracy over equal-width confidence bins (Guo et al. 2017)."""
    conf = np.asarray(confidences, dtype=float)
    hit = np.asarray(correct, dtype=float)
    if conf.size == 0:
        return 0.0
    edges = np.linspace(0.0, 1.0, bins + 1)
    total = 0.0
    for low, high in itertools.pairwise(edges):
        inside = (conf > low) & (conf <= high) if low > 0 else (conf >= low) & (conf <= high)
        if inside.any():
            total += inside.mean() * abs(hit[inside].mean() - conf[inside].mean())
    return float(total)


@dataclass
class Report:
    labels: list[str]
    accuracy: float
    macro_f1: float
    per_class: dict[str, dict[str, float]]
    confusion: list[list[int]]
    ece: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "labels": self.labels,
            "accuracy": self.accuracy,
            "macro_f1": self.macro_f1,
            "per_class": self.per_class,
            "confusion": self.confusion,
            "ece": self.ece,
            **self.extra,
        }


def evaluate(
    gold: Sequence[str],
    predicted: Sequence[str],
    labels: Sequence[str],
    confidences: Sequence[float] | None = None,
) -> Report:
    from sklearn.metrics import accuracy_score, confusion_matrix, precision_recall_fscore_support

    labels = list(labels)
    precision, recall, f1, support = precision_recall_fscore_support(gold, predicted, labels=labels, zero_division=0)
    per_class = {
        label: {"precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
        for label, p, r, f, s in zip(labels, precision, recall, f1, support, strict=True)
    }
    ece = None
    if confidences is not None:
        ece = expected_calibration_error(confidences, [g == p for g, p in zip(gold, predicted, strict=True)])
    return Report(
        labels=labels,
        accuracy=float(accuracy_score(gold, predicted)),
        macro_f1=float(np.mean(f1)) if len(labels) else 0.0,
        per_class=per_class,
        confusion=confusion_matrix(gold, predicted, labels=labels).tolist(),
        ece=ece,
    )


def tfidf_baseline(
    *, train_texts: Sequence[str], train_labels: Sequence[str], texts: Sequence[str], seed: int = 13
) -> tuple[list[str], list[float]]:
    """Word 1- and 2-gram TF-IDF (sublinear) + multinomial logistic regression; predictions and confidences."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    pipeline = make_pipeline(
        TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True, strip_accents="unicode"),
        LogisticRegression(C=10.0, max_iter=2000, random_state=seed),
    )
    pipeline.fit(list(train_texts), list(train_labels))
    probs = pipeline.predict_proba(list(texts))
    classes = list(pipeline.classes_)
    predicted = [classes[i] for i in probs.argmax(axis=1)]
    return predicted, [float(p) for p in probs.max(axis=1)]


def format_report(report: Report, *, title: str) -> list[str]:
    width = max(len(label) for label in report.labels) if report.labels else 10
    lines = [f"== {title}", f"accuracy  {report.accuracy:.4f}", f"macro-F1  {report.macro_f1:.4f}"]
    if report.ece is not None:
        lines.append(f"ECE       {report.ece:.4f}")
    lines.append(f"{'class':<{width}}  precision  recall  f1      support")
    for label in report.labels:
        row = report.per_class[label]
        lines.append(
            f"{label:<{width}}  {row['precision']:.4f}     {row['recall']:.4f}  {row['f1']:.4f}  {row['support']}"
        )
    lines.append("confusion matrix (rows = gold, columns = predicted, in the order above):")
    lines.extend("  " + " ".join(f"{n:5d}" for n in row) for row in report.confusion)
    return lines
