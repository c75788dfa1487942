"""`manage.py evaluate_classifier`: score a model folder on a labelled TSV, beside a TF-IDF baseline."""

import json
import time
from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from classifier.datasets import DatasetError, read_tsv


class Command(BaseCommand):
    help = (
        "Accuracy, macro-F1, per-class precision/recall/F1, confusion matrix, expected calibration error and "
        "messages/second of a model folder; with --baseline-train, a TF-IDF + logistic regression baseline too. "
        "The last line is macro_f1=<value>."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--model", type=Path, required=True, help="A folder written by train_classifier.")
        parser.add_argument("--data", type=Path, required=True, help="TSV with tweet_text and class_label.")
        parser.add_argument("--baseline-train", type=Path, help="TSV to train the TF-IDF baseline on.")
        parser.add_argument("--batch-size", type=int, default=32)
        parser.add_argument("--threads", type=int, default=0, help="torch threads (default: CLASSIFIER_THREADS).")
        parser.add_argument("--json", type=Path, help="Also write the figures to this JSON file.")

    def handle(self, *args: Any, **options: Any) -> None:
        from django.conf import settings

        from classifier import engine
        from classifier.evaluation import evaluate, format_report, tfidf_baseline

        try:
            data = read_tsv(options["data"])
            baseline_train = read_tsv(options["baseline_train"]) if options["baseline_train"] else None
        except DatasetError as exc:
            raise CommandError(str(exc)) from exc
        if not data:
            raise CommandError(f"{options['data']}: no examples")
        if not (options["model"] / engine.CONFIG_FILE).is_file():
            raise CommandError(f"{options['model']} is not a model folder (no {engine.CONFIG_FILE}).")
        engine.set_threads(options["threads"] or settings.CLASSIFIER_THREADS)
        model = engine.classifier_load(options["model"])
        unknown = {e.label for e in data} - set(model.labels)
        if unknown:
            raise CommandError(f"Labels the model does not know: {', '.join(sorted(unknown))}")
        texts = [e.text for e in data]
        gold = [e.label for e in data]

        model.predict(texts[: options["batch_size"]])  # warm-up: the first batch pays for lazy initialisation
        started = time.perf_counter()
        predictions = model.predict(texts, batch_size=options["batch_size"])
        elapsed = time.perf_counter() - started
        report = evaluate(gold, [p.label for p in predictions], model.labels, [p.score for p in predictions])
        rate = len(texts) / elapsed if elapsed > 0 else float("inf")
        out = [f"model {model.config.name} version {model.config.version} ({model.config.method})"]
        out += format_report(report, title=f"model on {options['data'].name} ({len(texts)} messages)")
        out.append(f"messages/second {rate:.1f} (batch {options['batch_size']}, {settings.CLASSIFIER_THREADS} threads)")
        figures: dict[str, Any] = {"model": report.as_dict(), "messages_per_second": rate}
        if baseline_train is not None:
            predicted, confidences = tfidf_baseline(
                train_texts=[e.text for e in baseline_train],
                train_labels=[e.label for e in baseline_train],
                texts=texts,
            )
            base = evaluate(gold, predicted, model.labels, confidences)
            out += format_report(
                base, title=f"TF-IDF + logistic regression trained on {options['baseline_train'].name}"
            )
            out.append(
                f"summary: model macro-F1 {report.macro_f1:.4f} vs baseline {base.macro_f1:.4f} "
                f"(difference {report.macro_f1 - base.macro_f1:+.4f}); accuracy {report.accuracy:.4f} vs "
                f"{base.accuracy:.4f}; ECE {report.ece:.4f} vs {base.ece:.4f}"
            )
            figures["baseline"] = base.as_dict()
        if options["json"]:
            options["json"].write_text(json.dumps(figures, indent=2) + "\n")
        for line in out:
            self.stdout.write(line)
        self.stdout.write(f"macro_f1={report.macro_f1:.4f}")
