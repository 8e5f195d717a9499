"""Finding photos by text and by example over the embeddings tagging already computed.

A query combines text (expanded with prompt templates and ensembled, exactly like a label's
prototype), example photos ("more like this") and negative texts ("but not ...")::

    q = normalize( sum(text prototypes) + sum(example embeddings) - sum(negative prototypes) )

Every part is a unit vector, so ``photo . q`` ranks photos by the sum of their cosine
similarity to each positive minus their similarity to each negative (rclip's recipe). The
score shown is that dot product: a cosine in [-1, 1].

The search itself is exact: one matrix-vector product over an fp16 matrix that holds the
embeddings of the photos in view (``SearchIndex``), about 5 ms for 100,000 photos on a
laptop CPU (``benchmarks/search.py``). Qt-free; the session owns the index.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, NamedTuple, Optional, Sequence

from cliptagger.core.errors import SearchError
from cliptagger.core.tagging.scoring import TextEncoder, ensemble
from cliptagger.core.tagging.templates import resolve_templates

#: Query phrases are filled into these templates ("red kite" -> "a photo of a red kite.").
DEFAULT_QUERY_TEMPLATES = "photo"
_ARTICLE = re.compile(r"^(a|an|the)\s+", re.IGNORECASE)


@dataclass(frozen=True)
class SearchQuery:
    """What to look for: text, example photos (``like``), texts to avoid (``unlike``)."""

    text: str = ""
    like: tuple[Path, ...] = ()
    unlike: tuple[str, ...] = ()
    templates: "str | tuple[str, ...]" = DEFAULT_QUERY_TEMPLATES

    @property
    def is_empty(self) -> bool:
        return not self.text.strip() and not self.like

    def describe(self) -> str:
        parts = [f'"{self.text.strip()}"'] if self.text.strip() else []
        parts += [f"like {Path(p).name}" for p in self.like]
        parts += [f'not "{t}"' for t in self.unlike]
        return " ".join(parts)


class Hit(NamedTuple):
    """One ranked photo; unpacks as ``(path, score)``."""

    path: Path
    score: float


def query_prompts(text: str, templates: "str | tuple[str, ...]" = DEFAULT_QUERY_TEMPLATES) -> tuple[str, ...]:
    """The prompts a query phrase is expanded to: "a red circle" -> "a photo of a red circle.", ...

    A leading article is dropped first, since the templates bring their own. A phrase that
    is already a sentence (ends with a full stop) is used as it is.
    """
    phrase = " ".join(text.split())
    if not phrase:
        return ()
    if phrase.endswith("."):
        return (phrase,)
    core = _ARTICLE.sub("", phrase) or phrase
    return tuple(t.replace("{}", core) if "{}" in t else t for t in resolve_templates(templates))


def text_prototype(encoder: TextEncoder, text: str,
                   templates: "str | tuple[str, ...]" = DEFAULT_QUERY_TEMPLATES) -> Any:
    """The ensembled, normalized (dim,) embedding of a query phrase."""
    return ensemble(encoder.encode_texts(list(query_prompts(text, templates))))


def combine(positives: Sequence[Any], negatives: Sequence[Any] = ()) -> Any:
    """``normalize(sum(positives) - sum(negatives))`` over unit vectors (float32)."""
    import torch

    if not positives:
        raise SearchError("a search needs some text or an example photo")
    def unit(v: Any) -> Any:
        return torch.nn.functional.normalize(v.float().reshape(-1), dim=0)

    vector = torch.stack([unit(v) for v in positives]).sum(0)
    if negatives:
        vector = vector - torch.stack([unit(v) for v in negatives]).sum(0)
    return torch.nn.functional.normalize(vector, dim=0)


def query_vector(query: SearchQuery, encoder: TextEncoder, examples: dict[Path, Any]) -> Any:
    """The (dim,) unit vector of ``query``; ``examples`` holds the ``like`` photos' embeddings."""
    positives = []
    if query.text.strip():
        positives.append(text_prototype(encoder, query.text, query.templates))
    for path in query.like:
        vector = examples.get(Path(path))
        if vector is None:
            raise SearchError(f"{Path(path).name} has no embedding yet: tag it first (or it could not be read)")
        positives.append(vector)
    negatives = [text_prototype(encoder, t, query.templates) for t in query.unlike if t.strip()]
    return combine(positives, negatives)


def relevant(scores: Sequence[float], spread: float = 0.5, at_least: int = 1) -> float:
    """A score cut that keeps the photos that stand out: mean + ``spread`` standard deviations.

    CLIP's cosines depend on the model (0.2-0.35 for a good text match with ViT-B/32), so a
    fixed cut would not carry over; this one keeps roughly the best third of an unrelated
    collection and everything that clearly matches. At least ``at_least`` photos pass.
    """
    if not scores:
        return 0.0
    values = sorted(scores, reverse=True)
    mean = sum(values) / len(values)
    std = (sum((v - mean) ** 2 for v in values) / len(values)) ** 0.5
    cut = mean + spread * std
    return float(min(cut, values[min(at_least, len(values)) - 1]))


@dataclass
class SearchIndex:
    """An fp16 (photos, dim) matrix of embeddings with a row per path, grown in place.

    Half the memory of float32 (100,000 x 512 = 98 MiB) and, on CPUs with fp16/bf16 units,
    a faster product; the scores differ from float32 by < 1e-3, far below what separates
    a match from a non-match. Thread-safe.
    """

    dim: int = 0
    paths: list[Path] = field(default_factory=list)
    #: Bumped by every ``put`` (callers cache row selections against it).
    version: int = 0
    _rows: dict[Path, int] = field(default_factory=dict)
    _matrix: Any = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __len__(self) -> int:
        return len(self.paths)

    def __contains__(self, path: object) -> bool:
        return path in self._rows

    @property
    def nbytes(self) -> int:
        return 0 if self._matrix is None else len(self.paths) * self.dim * 2

    def put(self, items: Iterable[tuple[Path, Any]]) -> None:
        """Add or replace embeddings (any float dtype; stored as fp16)."""
        import torch

        items = list(items)
        if not items:
            return
        with self._lock:
            if self._matrix is None:
                self.dim = int(items[0][1].reshape(-1).shape[0])
                self._matrix = torch.zeros((len(items), self.dim), dtype=torch.float16)
            rows = []
            for path, _ in items:
                row = self._rows.get(path)
                if row is None:
                    row = self._rows[path] = len(self.paths)
                    self.paths.append(path)
                rows.append(row)
            if len(self.paths) > self._matrix.shape[0]:  # grow by a quarter: little slack
                grown = torch.zeros((max(len(self.paths), self._matrix.shape[0] * 5 // 4), self.dim),
                                    dtype=torch.float16)
                grown[: self._matrix.shape[0]] = self._matrix
                self._matrix = grown
            vectors = torch.stack([v.reshape(-1) for _, v in items]).to(torch.float16)
            self._matrix[torch.tensor(rows, dtype=torch.long)] = vectors
            self.version += 1

    def get(self, path: Path) -> Optional[Any]:
        with self._lock:
            row = self._rows.get(Path(path))
            return None if row is None else self._matrix[row].float()

    def rows_of(self, paths: Sequence[Path]) -> tuple[list[Path], Any]:
        """The paths among ``paths`` that have a row, and those rows (for ``scores``)."""
        import torch

        with self._lock:
            rows = self._rows
            chosen = [p for p in paths if p in rows]
            return chosen, torch.tensor([rows[p] for p in chosen], dtype=torch.long)

    def scores(self, vector: Any, paths: Optional[Sequence[Path]] = None,
               selection: "Optional[int | tuple[list[Path], Any]]" = None) -> tuple[list[Path], Any]:
        """(paths, float32 scores) for ``paths`` (default: every row) that have a row;
        ``selection`` instead of ``paths``: a ``rows_of`` result, or n for the first n rows."""
        import torch

        if selection is None and paths is not None:
            selection = self.rows_of(paths)
        with self._lock:
            if self._matrix is None:
                return [], torch.empty(0)
            query = vector.reshape(-1).to(torch.float16)
            if selection is None or isinstance(selection, int):
                count = len(self.paths) if selection is None else min(selection, len(self.paths))
                return self.paths[:count], (self._matrix[:count] @ query).float()
            chosen, rows = selection
            return chosen, (self._matrix.index_select(0, rows) @ query).float()

    def search(self, vector: Any, paths: Optional[Sequence[Path]] = None, top: Optional[int] = None,
               min_score: Optional[float] = None,
               selection: "Optional[int | tuple[list[Path], Any]]" = None) -> list[Hit]:
        """Best first: at most ``top`` hits scoring at least ``min_score``."""
        import torch

        chosen, scores = self.scores(vector, paths, selection)
        if not chosen:
            return []
        k = len(chosen) if top is None else max(0, min(top, len(chosen)))
        values, order = torch.topk(scores, k)
        hits = [Hit(chosen[i], v) for v, i in zip(values.tolist(), order.tolist())]
        if min_score is not None:
            hits = [h for h in hits if h.score >= min_score]
        return hits
