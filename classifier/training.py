"""Training: fine-tuning the encoder with a linear head, and a few-shot mode (SetFit-style) for 5 to 20 per class.

Full mode: mean-pooled encoder + dropout + linear layer, cross-entropy, AdamW with linear warm-up and decay,
batches formed by length, word embeddings frozen (they hold half the weights and barely move), the epoch with
the best macro-F1 on --dev kept, then a temperature fitted on --dev so that scores are calibrated.
Few-shot mode: contrastive sentence pairs (same label → cosine 1, different → 0) fine-tune the encoder, then a
multinomial logistic regression over the normalised embeddings becomes the linear head (SetFit, Tunstall et al.
2022), written with torch and scikit-learn here rather than with the setfit package.
Both are deterministic for a given seed and thread count.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from classifier.engine import Encoder, HeadConfig, TextClassifier, seed_everything
from classifier.evaluation import macro_f1
from classifier.text import SCHEME_SOCIAL, text_normalise
from classifier.training_types import Example


@dataclass
class TrainOptions:
    labels: list[str]
    name: str = "classifier"
    seed: int = 13
    max_length: int = 128
    batch_size: int = 32
    epochs: int = 3
    learning_rate: float = 8e-5
    head_learning_rate: float = 2e-3
    pair_iterations: int = 20
    max_pairs: int = 3000
    pair_epochs: int = 1
    pair_learning_rate: float = 2e-5
    preprocess: str = SCHEME_SOCIAL
    progress: bool = True


def _normalised(examples: Sequence[Example], scheme: str) -> list[Example]:
    """The examples with their text as the trained model will read it (the scheme is stored in the folder)."""
    return [Example(text=text_normalise(e.text, scheme), label=e.label) for e in examples]


def sample_per_class(examples: Sequence[Example], *, per_class: int, seed: int) -> list[Example]:
    """K examples of each label, drawn with the seed (all of a label's examples when it has fewer)."""
    rng = random.Random(seed)  # noqa: S311 - seeded for reproducible training, not for security
    by_label: dict[str, list[Example]] = {}
    for example in examples:
        by_label.setdefault(example.label, []).append(example)
    chosen: list[Example] = []
    for label in sorted(by_label):
        pool = by_label[label]
        chosen.extend(rng.sample(pool, min(per_class, len(pool))))
    rng.shuffle(chosen)
    return chosen


def split_holdout(examples: Sequence[Example], *, fraction: float, seed: int) -> tuple[list[Example], list[Example]]:
    """A stratified, seeded split: (train, held out) with `fraction` of each label held out."""
    rng = random.Random(seed)  # noqa: S311 - seeded for reproducible training, not for security
    by_label: dict[str, list[Example]] = {}
    for example in examples:
        by_label.setdefault(example.label, []).append(example)
    kept: list[Example] = []
    held: list[Example] = []
    for label in sorted(by_label):
        pool = list(by_label[label])
        rng.shuffle(pool)
        cut = round(len(pool) * fraction)
        held.extend(pool[:cut])
        kept.extend(pool[cut:])
    rng.shuffle(kept)
    return kept, held


def _length_batches(lengths: Sequence[int], batch_size: int, rng: random.Random) -> list[list[int]]:
    """Indices in batches of similar length (less padding), the batch order shuffled."""
    order = list(range(len(lengths)))
    rng.shuffle(order)
    chunk = batch_size * 50
    batches: list[list[int]] = []
    for start in range(0, len(order), chunk):
        part = sorted(order[start : start + chunk], key=lambda i: lengths[i])
        batches.extend(part[i : i + batch_size] for i in range(0, len(part), batch_size))
    rng.shuffle(batches)
    return batches


def _freeze_word_embeddings(encoder: Encoder) -> None:
    embeddings = getattr(encoder.model, "embeddings", None)
    word = getattr(embeddings, "word_embeddings", None)
    if word is not None:
        word.weight.requires_grad_(False)


def _scheduler(optimizer: torch.optim.Optimizer, total: int) -> torch.optim.lr_scheduler.LambdaLR:
    warmup = max(1, total // 10)

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return max(0.0, (total - step) / max(1, total - warmup))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def fit_temperature(logits: torch.Tensor, targets: torch.Tensor) -> float:
    """The softmax temperature that minimises the negative log-likelihood on held-out data (Guo et al. 2017)."""
    best, best_nll = 1.0, math.inf
    for t in np.exp(np.linspace(math.log(0.05), math.log(10.0), 81)):
        nll = torch.nn.functional.cross_entropy(logits / float(t), targets).item()
        if nll < best_nll:
            best, best_nll = float(t), nll
    return best


def train_finetune(
    *,
    encoder: Encoder,
    train: Sequence[Example],
    dev: Sequence[Example] | None,
    options: TrainOptions,
    log: Callable[[str], None] = print,
) -> tuple[TextClassifier, dict[str, Any]]:
    seed_everything(options.seed)
    rng = random.Random(options.seed)  # noqa: S311 - seeded for reproducible training, not for security
    labels = options.labels
    index = {label: i for i, label in enumerate(labels)}
    encoder.max_length = options.max_length
    tokens = encoder.tokenizer([e.text for e in train], truncation=True, max_length=options.max_length, padding=False)[
        "input_ids"
    ]
    targets = torch.tensor([index[e.label] for e in train])
    pad = encoder.tokenizer.pad_token_id or 0

    _freeze_word_embeddings(encoder)
    head = torch.nn.Linear(encoder.dimension, len(labels))
    dropout = torch.nn.Dropout(0.1)
    params = [
        {"params": [p for p in encoder.model.parameters() if p.requires_grad], "lr": options.learning_rate},
        {"params": head.parameters(), "lr": options.head_learning_rate},
    ]
    optimizer = torch.optim.AdamW(params, weight_decay=0.01)
    steps_per_epoch = math.ceil(len(train) / options.batch_size)
    scheduler = _scheduler(optimizer, steps_per_epoch * options.epochs)
    lengths = [len(t) for t in tokens]
    history: list[dict[str, float]] = []
    best: tuple[float, dict[str, torch.Tensor], dict[str, torch.Tensor]] | None = None

    for epoch in range(options.epochs):
        encoder.model.train()
        batches = _length_batches(lengths, options.batch_size, rng)
        bar = tqdm(batches, desc=f"epoch {epoch + 1}/{options.epochs}", disable=not options.progress, unit="batch")
        running = 0.0
        for n, batch in enumerate(bar, start=1):
            width = max(lengths[i] for i in batch)
            ids = torch.full((len(batch), width), pad, dtype=torch.long)
            mask = torch.zeros((len(batch), width), dtype=torch.long)
            for row, i in enumerate(batch):
                ids[row, : lengths[i]] = torch.tensor(tokens[i])
                mask[row, : lengths[i]] = 1
            pooled = encoder.forward({"input_ids": ids, "attention_mask": mask})
            loss = torch.nn.functional.cross_entropy(head(dropout(pooled)), targets[batch])
            loss.backward()
            torch.nn.utils.clip_grad_norm_(encoder.model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad()
            running += loss.item()
            bar.set_postfix(loss=f"{running / n:.3f}")
        encoder.model.eval()
        entry = {"epoch": epoch + 1, "train_loss": running / max(1, len(batches))}
        score = float(epoch)
        if dev:
            with torch.inference_mode():
                logits = head(encoder.embed([e.text for e in dev], normalize=False))
            predicted = [labels[i] for i in logits.argmax(dim=-1).tolist()]
            score = macro_f1([e.label for e in dev], predicted, labels)
            entry["dev_macro_f1"] = score
        history.append(entry)
        log(f"epoch {epoch + 1}: " + ", ".join(f"{k}={v:.4f}" for k, v in entry.items() if k != "epoch"))
        if best is None or score > best[0]:
            best = (
                score,
                {k: v.detach().clone() for k, v in encoder.model.state_dict().items()},
                {k: v.detach().clone() for k, v in head.state_dict().items()},
            )
    assert best is not None
    encoder.model.load_state_dict(best[1])
    head.load_state_dict(best[2])
    encoder.model.eval()

    temperature = 1.0
    if dev:
        with torch.inference_mode():
            dev_logits = head(encoder.embed([e.text for e in dev], normalize=False))
        temperature = fit_temperature(dev_logits, torch.tensor([index[e.label] for e in dev]))
    config = HeadConfig(
        name=options.name,
        labels=list(labels),
        base_model=encoder.name,
        method="finetune",
        normalize=False,
        max_length=options.max_length,
        temperature=temperature,
        seed=options.seed,
        preprocess=options.preprocess,
    )
    model = TextClassifier(encoder, head.weight.detach().clone(), head.bias.detach().clone(), config)
    return model, {"history": history, "temperature": temperature}


def _pairs(train: Sequence[Example], options: TrainOptions, rng: random.Random) -> list[tuple[int, int, float]]:
    """SetFit's pair generation: for each example and iteration, one positive and one negative partner."""
    by_label: dict[str, list[int]] = {}
    for i, example in enumerate(train):
        by_label.setdefault(example.label, []).append(i)
    pairs: list[tuple[int, int, float]] = []
    for _ in range(options.pair_iterations):
        for i, example in enumerate(train):
            same = [j for j in by_label[example.label] if j != i]
            other = [j for j in range(len(train)) if train[j].label != example.label]
            if same:
                pairs.append((i, rng.choice(same), 1.0))
            if other:
                pairs.append((i, rng.choice(other), 0.0))
    rng.shuffle(pairs)
    return pairs[: options.max_pairs]


def _cross_validated_f1(head: Any, features: Any, y: list[str], labels: Sequence[str], *, seed: int) -> float:
    """Macro-F1 of `head` in stratified k-fold over the few training examples (no separate dev set needed)."""
    from sklearn.base import clone
    from sklearn.model_selection import StratifiedKFold

    smallest = min(y.count(label) for label in set(y))
    if smallest < 2:
        return 0.0
    folds = StratifiedKFold(n_splits=min(5, smallest), shuffle=True, random_state=seed)
    gold: list[str] = []
    predicted: list[str] = []
    for train_idx, test_idx in folds.split(features, y):
        fitted = clone(head).fit(features[train_idx], [y[i] for i in train_idx])
        gold.extend(y[i] for i in test_idx)
        predicted.extend(fitted.predict(features[test_idx]))
    return macro_f1(gold, predicted, labels)


def train_fewshot(
    *,
    encoder: Encoder,
    train: Sequence[Example],
    dev: Sequence[Example] | None,
    options: TrainOptions,
    log: Callable[[str], None] = print,
) -> tuple[TextClassifier, dict[str, Any]]:
    from sklearn.linear_model import LogisticRegression

    seed_everything(options.seed)
    rng = random.Random(options.seed)  # noqa: S311 - seeded for reproducible training, not for security
    labels = options.labels
    encoder.max_length = options.max_length
    texts = [e.text for e in train]
    pairs = _pairs(train, options, rng)
    _freeze_word_embeddings(encoder)
    optimizer = torch.optim.AdamW(
        [p for p in encoder.model.parameters() if p.requires_grad], lr=options.pair_learning_rate, weight_decay=0.01
    )
    batch_size = max(1, options.batch_size // 2)  # two texts per pair
    total = math.ceil(len(pairs) / batch_size) * options.pair_epochs
    scheduler = _scheduler(optimizer, total)
    history: list[dict[str, float]] = []
    for epoch in range(options.pair_epochs):
        encoder.model.train()
        bar = tqdm(
            range(0, len(pairs), batch_size),
            desc=f"pairs {epoch + 1}/{options.pair_epochs}",
            disable=not options.progress,
            unit="batch",
        )
        running = 0.0
        for n, start in enumerate(bar, start=1):
            chunk = pairs[start : start + batch_size]
            left = encoder.forward(encoder.tokenize([texts[a] for a, _, _ in chunk]))
            right = encoder.forward(encoder.tokenize([texts[b] for _, b, _ in chunk]))
            cosine = torch.nn.functional.cosine_similarity(left, right)
            loss = torch.nn.functional.mse_loss(cosine, torch.tensor([y for _, _, y in chunk]))
            loss.backward()
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad()
            running += loss.item()
            bar.set_postfix(loss=f"{running / n:.4f}")
        history.append({"epoch": epoch + 1, "pair_loss": running / max(1, n)})
    encoder.model.eval()

    features = encoder.embed(texts, normalize=True).numpy()
    y = [e.label for e in train]
    dev_features = encoder.embed([e.text for e in dev], normalize=True).numpy() if dev else None
    best: tuple[float, Any, float] | None = None
    # scikit-learn's default C first: after contrastive training on these very examples, cross-validation
    # over them often ties (every C separates them), and a tie keeps the default.
    for c in (1.0, 0.25, 4.0, 16.0):
        head = LogisticRegression(C=c, max_iter=2000, random_state=options.seed)
        if dev and dev_features is not None:
            head.fit(features, y)
            score = macro_f1([e.label for e in dev], list(head.predict(dev_features)), labels)
        else:
            score = _cross_validated_f1(head, features, y, labels, seed=options.seed)
        log(f"logistic head C={c}: {'dev' if dev else 'cross-validated'} macro-F1 {score:.4f}")
        if best is None or score > best[0]:
            best = (score, head.fit(features, y), c)
    assert best is not None
    head = best[1]
    order = [list(head.classes_).index(label) for label in labels]
    weight = torch.tensor(head.coef_[order], dtype=torch.float32)
    bias = torch.tensor(head.intercept_[order], dtype=torch.float32)
    temperature = 1.0
    if dev and dev_features is not None:
        # Few-shot heads are under-confident; with labelled held-out data, calibrate them as fine-tuned ones.
        index = {label: i for i, label in enumerate(labels)}
        dev_logits = torch.tensor(dev_features, dtype=torch.float32) @ weight.T + bias
        temperature = fit_temperature(dev_logits, torch.tensor([index[e.label] for e in dev]))
    config = HeadConfig(
        name=options.name,
        labels=list(labels),
        base_model=encoder.name,
        method="fewshot",
        normalize=True,
        max_length=options.max_length,
        temperature=temperature,
        seed=options.seed,
        preprocess=options.preprocess,
        extra={"C": best[2], "pairs": len(pairs)},
    )
    info = {"history": history, "C": best[2], "pairs": len(pairs), "temperature": temperature}
    return TextClassifier(encoder, weight, bias, config), info


def train_model(
    *,
    encoder_path: Path | str,
    train: Sequence[Example],
    dev: Sequence[Example] | None,
    options: TrainOptions,
    method: str = "auto",
    log: Callable[[str], None] = print,
) -> tuple[TextClassifier, dict[str, Any]]:
    """Train with `method` ("finetune", "fewshot", or "auto": few-shot below 32 examples a class)."""
    missing = {e.label for e in train} - set(options.labels)
    if missing:
        raise ValueError(f"Labels outside the label set: {sorted(missing)}")
    if method == "auto":
        counts: dict[str, int] = {}
        for e in train:
            counts[e.label] = counts.get(e.label, 0) + 1
        method = "fewshot" if max(counts.values(), default=0) < 32 else "finetune"
    encoder = Encoder(encoder_path, max_length=options.max_length)
    trainer = train_fewshot if method == "fewshot" else train_finetune
    train = _normalised(train, options.preprocess)
    dev = _normalised(dev, options.preprocess) if dev is not None else None
    return trainer(encoder=encoder, train=train, dev=dev, options=options, log=log)
