"""`manage.py train_classifier`: train a model folder from a TSV file or from the examples staff labelled."""

import json
from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from classifier.datasets import DatasetError, read_tsv


def _encoder_name(path: str) -> str:
    from classifier import engine

    if Path(path).resolve() == engine.default_encoder_path().resolve():
        return "all-MiniLM-L6-v2"
    return Path(path).name


class Command(BaseCommand):
    help = (
        "Fine-tune the encoder with a classification head (few-shot contrastive mode below 32 examples a class) "
        "and write a versioned model folder with its metrics."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        source = parser.add_mutually_exclusive_group(required=True)
        source.add_argument("--train", type=Path, help="TSV with tweet_id, tweet_text, class_label columns.")
        source.add_argument(
            "--from-db",
            action="store_true",
            help="Use the examples staff labelled in the system (only from residents who consented to training).",
        )
        parser.add_argument("--dev", type=Path, help="TSV for model selection, early stopping and calibration.")
        parser.add_argument(
            "--holdout",
            type=float,
            default=0.1,
            help="Without --dev, the fraction of --train held out for selection (full fine-tuning only).",
        )
        parser.add_argument("--per-class", type=int, default=0, help="Draw K examples of each label (few-shot).")
        parser.add_argument("--seed", type=int, default=13)
        parser.add_argument("--out", type=Path, required=True, help="Folder to write (created; must be empty).")
        parser.add_argument("--method", choices=["auto", "finetune", "fewshot"], default="auto")
        parser.add_argument("--epochs", type=int, default=3)
        parser.add_argument("--max-length", type=int, default=128)
        parser.add_argument(
            "--learning-rate", type=float, default=8e-5, help="Peak learning rate of the encoder (full fine-tuning)."
        )
        parser.add_argument(
            "--text-scheme",
            choices=["social-v1", "none"],
            default="social-v1",
            help="How texts are normalised before the encoder (classifier/text.py); stored in the model folder.",
        )
        parser.add_argument("--encoder", default="", help="Hugging Face model folder (default: the setting).")
        parser.add_argument("--name", default="", help="Model name stored with every prediction.")
        parser.add_argument("--threads", type=int, default=0, help="torch threads (default: CLASSIFIER_THREADS).")

    def handle(self, *args: Any, **options: Any) -> None:
        from django.conf import settings

        from classifier import engine, training
        from classifier.labels import label_set_active

        label_set = label_set_active()
        out: Path = options["out"]
        if out.exists() and any(out.iterdir()):
            raise CommandError(f"{out} exists and is not empty; choose a new folder (model folders are versioned).")
        try:
            if options["from_db"]:
                from classifier.selectors import training_examples

                train = training_examples(label_set=label_set)
                source = "database"
            else:
                train = read_tsv(options["train"])
                source = str(options["train"])
            dev = read_tsv(options["dev"]) if options["dev"] else None
        except DatasetError as exc:
            raise CommandError(str(exc)) from exc
        unknown = {e.label for e in [*train, *(dev or [])]} - set(label_set.labels)
        if unknown:
            raise CommandError(f"Labels outside the label set {label_set.name!r}: {', '.join(sorted(unknown))}")
        if options["per_class"] < 0:
            raise CommandError("--per-class must be positive.")
        if options["per_class"]:
            train = training.sample_per_class(train, per_class=options["per_class"], seed=options["seed"])
        elif dev is None and options["method"] != "fewshot" and 0 < options["holdout"] < 0.5:
            train, dev = training.split_holdout(train, fraction=options["holdout"], seed=options["seed"])
        if len({e.label for e in train}) < 2:
            raise CommandError("Training needs examples of at least two labels.")

        engine.set_threads(options["threads"] or settings.CLASSIFIER_THREADS)
        encoder_path = options["encoder"] or settings.CLASSIFIER_ENCODER_DIR or str(engine.default_encoder_path())
        train_options = training.TrainOptions(
            labels=list(label_set.labels),
            name=options["name"] or f"{label_set.name}-{_encoder_name(encoder_path)}",
            seed=options["seed"],
            max_length=options["max_length"],
            epochs=options["epochs"],
            learning_rate=options["learning_rate"],
            preprocess="" if options["text_scheme"] == "none" else options["text_scheme"],
        )
        self.stdout.write(f"Training on {len(train)} examples ({source}), {len(dev or [])} for selection.")
        model, info = training.train_model(
            encoder_path=encoder_path,
            train=train,
            dev=dev,
            options=train_options,
            method=options["method"],
            log=self.stdout.write,
        )
        metrics: dict[str, Any] = {
            "train_source": source,
            "train_examples": len(train),
            "per_class": options["per_class"] or None,
            "label_set": label_set.name,
            "training": info,
        }
        if dev:
            from classifier.evaluation import evaluate

            predictions = model.predict([e.text for e in dev])
            report = evaluate(
                [e.label for e in dev], [p.label for p in predictions], model.labels, [p.score for p in predictions]
            )
            metrics["dev"] = report.as_dict()
            self.stdout.write(f"dev macro-F1 {report.macro_f1:.4f}, accuracy {report.accuracy:.4f}")
        model.save(out, metrics=metrics)
        self.stdout.write(json.dumps({"out": str(out), "name": model.config.name, "version": model.config.version}))
