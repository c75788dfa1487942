"""Classifier benchmark (issue 6): messages per second through the system's inference path vs the raw encoder.

    .venv/bin/python bench/classifier.py ../shared/data/crisis/hurricane_dev.tsv
    .venv/bin/python bench/classifier.py ../shared/data/crisis/hurricane_dev.tsv --model var/classifier/default

On 2 torch threads, the same batches of messages (CLASSIFIER_BATCH_SIZE, in file order) go through
`classifier.inference.texts_predict` (what the classifier task calls: clipping, tokenising, the encoder, pooling,
the head, softmax, language detection) and through the bare encoder forward pass on the same batches tokenised
beforehand. Runs alternate which goes first; the medians of the runs and their ratio are printed (target: the
system at least 80 % of raw), and the median latency of one message on its own through the system path.
Without --model it uses CLASSIFIER_MODEL_DIR when that holds a model, else the bare encoder (centroid head):
the encoder's cost is the same either way.
"""

import argparse
import csv
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def read_texts(path: Path, limit: int) -> list[str]:
    csv.field_size_limit(1_000_000)
    with path.open(newline="", encoding="utf-8") as handle:
        rows = csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
        texts = [row["tweet_text"] for row in rows if row.get("tweet_text")]
    return texts[:limit]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data", type=Path, help="A TSV with a tweet_text column (e.g. ../shared/data/crisis/*.tsv).")
    parser.add_argument("--model", type=Path, help="A model folder (default: the settings' choice).")
    parser.add_argument("--messages", type=int, default=640, help="Messages per run (default 640).")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--single", type=int, default=100, help="Messages timed one by one for the p50 latency.")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    if not args.data.is_file():
        parser.error(f"{args.data}: no such file")

    sys.path.insert(0, str(ROOT))
    os.environ["DJANGO_SETTINGS_MODULE"] = "commsplatform.settings.base"
    os.environ["CLASSIFIER_THREADS"] = str(args.threads)
    if args.model is not None:
        os.environ["CLASSIFIER_MODEL_DIR"] = str(args.model.resolve())
    import django

    django.setup()
    import torch
    from django.conf import settings

    from classifier import inference

    torch.set_num_threads(args.threads)
    texts = read_texts(args.data, args.messages)
    if not texts:
        parser.error(f"{args.data}: no messages")
    model = inference.classifier_get()
    encoder = model.encoder
    size = settings.CLASSIFIER_BATCH_SIZE
    batches = [texts[i : i + size] for i in range(0, len(texts), size)]
    # The raw pass reads what the encoder reads in the system path: the texts after the model's text scheme.
    tokenised = [encoder.tokenize(model.prepare(batch)) for batch in batches]
    print(
        f"model {model.config.name} {model.config.version} ({model.config.method}), encoder {model.config.base_model}, "
        f"max_length {encoder.max_length}; {len(texts)} messages in batches of {size}; "
        f"{torch.get_num_threads()} threads; {args.runs} runs"
    )

    def run_system() -> float:
        started = time.perf_counter()
        for batch in batches:
            inference.texts_predict(batch)
        return len(texts) / (time.perf_counter() - started)

    def run_raw() -> float:
        started = time.perf_counter()
        with torch.inference_mode():
            for encoded in tokenised:
                encoder.model(**encoded)
        return len(texts) / (time.perf_counter() - started)

    run_system()  # warm-up: first calls pay for lazy initialisation (language model, allocator)
    run_raw()
    system_rates: list[float] = []
    raw_rates: list[float] = []
    for run in range(args.runs):
        if run % 2 == 0:
            raw_rates.append(run_raw())
            system_rates.append(run_system())
        else:
            system_rates.append(run_system())
            raw_rates.append(run_raw())
        print(
            f"run {run + 1}: system {system_rates[-1]:.1f} msg/s, raw encoder {raw_rates[-1]:.1f} msg/s, "
            f"ratio {system_rates[-1] / raw_rates[-1]:.3f}"
        )

    latencies = []
    for text in texts[: args.single]:
        started = time.perf_counter()
        inference.texts_predict([text])
        latencies.append((time.perf_counter() - started) * 1000)

    system = statistics.median(system_rates)
    raw = statistics.median(raw_rates)
    ratio = statistics.median(s / r for s, r in zip(system_rates, raw_rates, strict=True))
    print(f"system path: {system:.1f} messages/second (median of {args.runs})")
    print(f"raw encoder forward: {raw:.1f} messages/second (median of {args.runs})")
    print(f"ratio system/raw: {ratio:.3f} ({'PASS' if ratio >= 0.8 else 'FAIL'}: target >= 0.80)")
    print(f"single message p50 latency: {statistics.median(latencies):.1f} ms (over {len(latencies)} messages)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
