"""The tagging pipeline: decode (thread pool) -> bounded queue -> batched encoder -> scorer -> results.

Who gets the CPU cores is planned by ``core.threads.plan_threads``: on Linux the encoder
keeps every core and the decode threads run nicer than it; elsewhere decode and encoder
threads split the cores in proportion to their measured cost per image.

``TaggingEngine.run`` yields one ``ImageResult`` or ``ImageFailure`` per input, in input
order, and reports progress after every batch. It can be cancelled between batches. The
image embeddings are kept on each result, so changing label sets re-scores without
decoding or encoding any image again (``TaggingEngine.score_results``).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Optional, Sequence, Union

from cliptagger.core.errors import ImageDecodeError
from cliptagger.core.media.images import load_rgb
from cliptagger.core.model.clip import ClipModel
from cliptagger.core.tagging.cache import EmbeddingCache, FileStamp, file_stamp
from cliptagger.core.tagging.head_scoring import label_thresholds, propose_with_thresholds, set_probabilities
from cliptagger.core.tagging.labels import LabelSet, check_prompt_lengths
from cliptagger.core.tagging.scoring import (
    Proposal,
    SetPrototypes,
    build_prototypes,
    probabilities,
    propose_batch,
)
from cliptagger.core.tagging.threads import (
    ThreadPlan,
    cpu_cores,
    lower_current_thread_priority,
    plan_threads,
)


@dataclass
class SetScores:
    label_set: LabelSet
    probabilities: list[float]          # one per label, in the set's order
    proposals: list[Proposal]


@dataclass
class ImageResult:
    path: Path
    embedding: Any                       # (dim,) normalized float32 tensor
    scores: list[SetScores] = field(default_factory=list)

    @property
    def proposals(self) -> list[Proposal]:
        return [p for s in self.scores for p in s.proposals]

    @property
    def keywords(self) -> list[str]:
        return [p.keyword for p in self.proposals]


@dataclass
class ImageFailure:
    path: Path
    reason: str


Outcome = Union[ImageResult, ImageFailure]

DRAFT_FACTOR = 2


def default_batch_size(device: str) -> int:
    """GPUs want big batches; on a CPU 16 is as fast as 32 and halves the peak memory
    (benchmarks/throughput.py: +162 MB vs +312 MB above the model while tagging)."""
    return 64 if str(device).startswith("cuda") else 16
SCORING_BATCH = 1024


@dataclass
class Progress:
    done: int
    total: int
    failed: int
    elapsed_s: float

    @property
    def images_per_s(self) -> float:
        return self.done / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def eta_s(self) -> Optional[float]:
        rate = self.images_per_s
        return (self.total - self.done) / rate if rate > 0 else None


class PromptEmbeddingCache:
    """Text embeddings by prompt for one model: editing a label set encodes only new prompts."""

    def __init__(self, model: ClipModel) -> None:
        self._model = model
        self._vectors: dict[str, Any] = {}
        self._lock = threading.Lock()

    def encode_texts(self, texts: Sequence[str]) -> Any:
        import torch

        with self._lock:
            missing = [t for t in dict.fromkeys(texts) if t not in self._vectors]
            if missing:
                for text, vector in zip(missing, self._model.encode_texts(missing)):
                    self._vectors[text] = vector
            return torch.stack([self._vectors[t] for t in texts])


def prompt_token_counter(model: ClipModel) -> Optional[tuple[Callable[[str], int], int]]:
    """(count tokens of a prompt incl. start/end markers, context length), where knowable."""
    tokenizer = getattr(model, "tokenizer", None)
    context = getattr(tokenizer, "context_length", None)
    if not isinstance(context, int) or context <= 0:
        return None
    inner = getattr(tokenizer, "tokenizer", None)  # open_clip's HFTokenizer wraps transformers'
    if inner is not None and callable(inner):
        return (lambda text: len(inner(text)["input_ids"])), context
    encode = getattr(tokenizer, "encode", None)  # open_clip's SimpleTokenizer: BPE ids, no markers
    if callable(encode):
        return (lambda text: len(encode(text)) + 2), context
    return None


class TaggingEngine:
    def __init__(
        self,
        model: ClipModel,
        label_sets: Sequence[LabelSet],
        batch_size: Optional[int] = None,
        decode_workers: Optional[int] = None,
        fast_decode: bool = True,
        cache: Optional[EmbeddingCache] = None,
        background_priority: bool = False,
    ) -> None:
        self.model = model
        self.batch_size = max(1, batch_size or default_batch_size(model.device))
        #: None: planned per run from the cores and the measured decode vs encode cost.
        self.decode_workers = max(1, decode_workers) if decode_workers else None
        #: "priority", "split" or None (priority where the OS allows it); see core.threads.
        self.thread_mode: Optional[str] = None
        #: The plan the last run used, and its measured costs (CPU seconds per image).
        self.thread_plan: Optional[ThreadPlan] = None
        self.measured_decode_s: Optional[float] = None
        self.measured_encode_s: Optional[float] = None
        #: Decode JPEGs at reduced scale (DCT scaling) before the model's own resize; False is
        #: the exact reference path (full decode, then open_clip's preprocess).
        self.fast_decode = fast_decode
        self.cache = cache
        self.cache_hits = 0
        #: Run decode threads at a lower CPU priority (the GUI keeps its UI thread responsive).
        self.background_priority = background_priority
        self._prompt_cache = PromptEmbeddingCache(model)
        #: Learned heads by label set name (core.learning); a set without one scores zero-shot.
        self.heads: dict[str, Any] = {}
        self._prototypes: list[SetPrototypes] = []
        self.set_label_sets(label_sets)

    # ------------------------------------------------------------------ labels

    @property
    def label_sets(self) -> list[LabelSet]:
        return [p.label_set for p in self._prototypes]

    def set_label_sets(self, label_sets: Sequence[LabelSet]) -> None:
        counter = prompt_token_counter(self.model)
        if counter is not None:
            check_prompt_lengths(label_sets, *counter)  # LabelSetError: nothing is cut silently
        bias = getattr(self.model, "logit_bias", None)  # SigLIP family: independent labels use its own sigmoid
        self._prototypes = [build_prototypes(self._prompt_cache, s, bias) for s in label_sets]

    def prototypes(self) -> list[SetPrototypes]:
        return list(self._prototypes)

    def score_embeddings(self, embeddings: Any) -> list[list[SetScores]]:
        """Scores for a (N, dim) batch of embeddings, one list of SetScores per image."""
        per_image: list[list[SetScores]] = [[] for _ in range(int(embeddings.shape[0]))]
        scale = self.model.logit_scale
        heads = self.heads
        for prototypes in self._prototypes:
            head = heads.get(prototypes.label_set.name)
            if head is None and all(label.threshold is None for label in prototypes.label_set.labels):
                probs = probabilities(embeddings, prototypes, scale)
                proposals = propose_batch(probs, prototypes.label_set)
            else:
                probs = set_probabilities(embeddings, prototypes, scale, head)
                proposals = propose_with_thresholds(probs, prototypes.label_set,
                                                    label_thresholds(prototypes.label_set, head))
            for row_index, (row, chosen) in enumerate(zip(probs.tolist(), proposals)):
                per_image[row_index].append(SetScores(prototypes.label_set, row, chosen))
        return per_image

    def score_results(self, results: Sequence[ImageResult]) -> list[list[SetScores]]:
        """Scores of already-encoded results under the current label sets (no image work)."""
        import torch

        if not results:
            return []
        return self.score_embeddings(torch.stack([r.embedding for r in results]))

    # ------------------------------------------------------------------ images

    def load_pixels(self, path: Path) -> Any:
        """Decode and preprocess one image into the model's input tensor (runs in the pool)."""
        # DCT scaling to at least twice the model's input, so the final bicubic resize still
        # does a real (antialiased) downscale: agrees with the full decode (see tests).
        draft = self.model.image_size * DRAFT_FACTOR if self.fast_decode else None
        return self.model.preprocess(load_rgb(path, draft_size=draft))

    def load_pixels_with_stamp(self, path: Path) -> tuple[Any, Optional[FileStamp]]:
        """``load_pixels`` plus the file's identity taken before decoding, checked after.

        The identity is what the cache stores with the embedding: a photo replaced while
        it was decoded must not be cached under the new file's identity. A file that
        changes during both of two reads is refused rather than half-read.
        """
        for _ in range(2):
            before = file_stamp(path)
            pixels = self.load_pixels(path)
            if before is not None and file_stamp(path) == before:
                return pixels, before
        if before is None:
            return pixels, None  # cannot be stamped (e.g. gone): tagged, never cached
        raise ImageDecodeError("the file kept changing while it was read")

    def _timed_load(self, path: Path, costs: list[float]) -> tuple[Any, Optional[FileStamp]]:
        """``load_pixels_with_stamp`` in a decode thread, timing its CPU cost."""
        started = time.thread_time()
        try:
            return self.load_pixels_with_stamp(path)
        finally:
            costs.append(time.thread_time() - started)

    def _plan(self, cores: int) -> ThreadPlan:
        plan = plan_threads(cores, self.measured_decode_s, self.measured_encode_s, self.thread_mode)
        if self.decode_workers:
            plan = ThreadPlan(plan.encoder_threads, self.decode_workers, plan.mode, plan.decode_niceness)
        return plan

    def run(
        self,
        paths: Iterable[Path],
        on_progress: Optional[Callable[[Progress], None]] = None,
        cancel: Optional[threading.Event] = None,
    ) -> Iterator[Outcome]:
        import torch

        paths = [Path(p) for p in paths]
        total, done, failed = len(paths), 0, 0
        started = time.monotonic()
        cached = self.cache.lookup(paths, self.model.model_id) if self.cache is not None else {}
        self.cache_hits = len(cached)
        # Bounded look-ahead: memory stays flat however large the library is.
        prefetch = self.batch_size * 2
        cores = cpu_cores()
        plan = self.thread_plan = self._plan(cores)
        on_cpu = str(self.model.device).startswith("cpu")
        torch_threads = torch.get_num_threads()
        if on_cpu:
            torch.set_num_threads(plan.encoder_threads)
        decode_costs: list[float] = []
        encode_costs: list[float] = []
        background = self.background_priority

        def initializer() -> None:
            if background:
                lower_current_thread_priority()
            set_niceness = plan.decode_initializer()
            if set_niceness is not None:
                set_niceness()

        with ThreadPoolExecutor(plan.decode_workers, thread_name_prefix="decode", initializer=initializer) as pool, \
                _restore_threads(torch_threads if on_cpu else None):
            pending: deque[tuple[Path, Any]] = deque()
            queue = iter(paths)

            decoding = 0  # decodes submitted and not yet taken: this bounds memory

            def top_up() -> None:
                nonlocal decoding
                while decoding < prefetch and len(pending) < SCORING_BATCH + prefetch:
                    try:
                        path = next(queue)
                    except StopIteration:
                        return
                    hit = cached.get(path)
                    if hit is not None:
                        pending.append((path, hit))
                    else:
                        pending.append((path, pool.submit(self._timed_load, path, decode_costs)))
                        decoding += 1

            def measured() -> None:
                """What decode and encode cost per image: the next run's split is sized from it.

                (Not this run's: a pool that grows or shrinks mid-run had its threads
                contend for the GIL and serialise, measured at half the speed.)
                """
                if decode_costs and encode_costs:
                    self.measured_decode_s = sum(decode_costs) / len(decode_costs)
                    self.measured_encode_s = sum(encode_costs) / len(encode_costs)

            top_up()
            while pending:
                if cancel is not None and cancel.is_set():
                    for _, work in pending:
                        if isinstance(work, Future):  # cache hits are plain tensors
                            work.cancel()
                    return
                batch_paths: list[Path] = []
                embeddings_by_path: dict[Path, Any] = {}
                to_encode: list[tuple[Path, Any]] = []
                outcomes: list[Optional[ImageFailure]] = []  # None: a result, filled in below
                stamps: dict[Path, Optional[FileStamp]] = {}
                # Cache hits need no encoding: they ride along in larger scoring batches.
                while pending and len(to_encode) < self.batch_size and len(batch_paths) < SCORING_BATCH:
                    path, work = pending.popleft()
                    if not isinstance(work, Future):
                        embeddings_by_path[path] = work
                        batch_paths.append(path)
                        outcomes.append(None)
                        top_up()
                        continue
                    decoding -= 1
                    try:
                        pixels, stamps[path] = work.result()
                    except ImageDecodeError as err:
                        outcomes.append(ImageFailure(path, str(err)))
                    except Exception as err:  # a decoder bug must not end the run
                        outcomes.append(ImageFailure(path, f"unexpected error: {err!r}"))
                    else:
                        batch_paths.append(path)
                        to_encode.append((path, pixels))
                        outcomes.append(None)
                    top_up()
                if to_encode:
                    encode_started = time.perf_counter()
                    fresh_embeddings = self.model.encode_pixels(torch.stack([px for _, px in to_encode]))
                    threads = torch.get_num_threads() if on_cpu else 1
                    encode_costs.append((time.perf_counter() - encode_started) * threads / len(to_encode))
                    measured()
                    new = [(path, vector) for (path, _), vector in zip(to_encode, fresh_embeddings)]
                    embeddings_by_path.update(new)
                    if self.cache is not None:
                        # A failing store turns the cache off (with a warning); the run goes on.
                        self.cache.store(new, self.model.model_id, stamps)
                results: list[ImageResult] = []
                if batch_paths:
                    embeddings = torch.stack([embeddings_by_path[p] for p in batch_paths])
                    for path, embedding, scores in zip(batch_paths, embeddings, self.score_embeddings(embeddings)):
                        results.append(ImageResult(path, embedding, scores))
                fresh = iter(results)
                for outcome in outcomes:
                    item = outcome if outcome is not None else next(fresh)
                    done += 1
                    failed += isinstance(item, ImageFailure)
                    yield item
                if on_progress is not None:
                    on_progress(Progress(done, total, failed, time.monotonic() - started))


class _restore_threads:
    """Give torch back its intra-op thread count when a run ends (or is abandoned)."""

    def __init__(self, threads: Optional[int]) -> None:
        self.threads = threads

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: Any) -> None:
        if self.threads is not None:
            import torch

            torch.set_num_threads(self.threads)
