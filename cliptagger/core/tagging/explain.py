"""Why this tag: a heatmap of which regions of one photo raise one label's score.

Both tower kinds cliptagger loads end in one attention step whose query is a single summary
token: a ViT's last block (the class token attends to every patch) and a ResNet's attention
pool (the mean token attends to every position of the last feature map). Both are read the
same way here, from the pieces the model itself computes (no hooks, nothing left on the
model): per position ``j`` and head ``h`` a key ``k_hj``, a value ``v_hj`` and the attention
``a_hj = softmax_j(q_h . k_hj / sqrt(d))``, so that the pooled attention output is exactly
``o_h = sum_j a_hj v_hj`` (``tests/core/tagging/test_explain.py`` checks that the rest of the
tower, applied to this ``o``, reproduces ``encode_image``).

Two methods:

- ``gradient`` (Grad-ECLIP, Zhao et al., ICML 2024): the gradient ``g = dS/do`` of the
  explained score ``S`` through everything after the attention (out projection, MLP,
  norms, projection, L2 normalization) weighs the channels; each position's map value is
  ``relu(sum_h lambda_hj <g_h, v_hj>)`` with ``lambda_hj`` the query-key similarity min-max
  scaled to [0, 1] (the paper's "loosened" attention: softmax is too peaked to show
  regions). One backward through the head only: cheap next to the tower's forward.
- ``value`` (MaskCLIP, Zhou et al., ECCV 2022): forward only. Each position's value goes
  through the head as if it were the query's only key (ResNet: ``c_proj(v_proj(x_j))``,
  ViT: ``proj(ln_post(out_proj(v_j)))``), and its score is the map value.

The explained score ``S = <normalize(image embedding), direction>``. With ``contrast`` the
direction is the label's prototype minus the set's reference (the neutral caption of an
independent set, the mean of the other labels of an exclusive set): exactly the logit that
moves the label's probability, so regions that look like *any* label cancel out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

from cliptagger.core.errors import CliptaggerError
from cliptagger.core.tagging.labels import LabelSet, Mode
from cliptagger.core.tagging.scoring import SetPrototypes, build_prototypes

if TYPE_CHECKING:
    from PIL import Image

    from cliptagger.core.model.clip import ClipModel

METHODS = ("gradient", "value")
DEFAULT_METHOD = "gradient"


class ExplainError(CliptaggerError):
    """No heatmap can be made: an unknown label, or a model whose tower is not supported."""


@dataclass(frozen=True)
class Heatmap:
    """One label's heatmap for one picture.

    ``grid`` has ``rows`` x ``columns`` values in [0, 1] (1: the strongest region; all 0
    when nothing raises the score). It covers ``crop`` (left, top, right, bottom, in pixels of
    the upright picture): the part of the picture the model sees after its centre crop.
    """

    grid: tuple[tuple[float, ...], ...]
    score: float
    method: str
    label: str
    crop: tuple[int, int, int, int]
    picture_size: tuple[int, int]

    @property
    def rows(self) -> int:
        return len(self.grid)

    @property
    def columns(self) -> int:
        return len(self.grid[0]) if self.grid else 0

    def peak(self) -> tuple[int, int]:
        """(row, column) of the strongest cell."""
        cells = [(value, r, c) for r, row in enumerate(self.grid) for c, value in enumerate(row)]
        _, row, column = max(cells, key=lambda cell: (cell[0], -cell[1], -cell[2]))
        return row, column

    def peak_point(self) -> tuple[float, float]:
        """The centre of the strongest cell, in pixels of the picture (x, y)."""
        row, column = self.peak()
        left, top, right, bottom = self.crop
        return (left + (column + 0.5) * (right - left) / self.columns,
                top + (row + 0.5) * (bottom - top) / self.rows)

    def to_dict(self) -> dict[str, Any]:
        return {"label": self.label, "method": self.method, "score": round(self.score, 6),
                "rows": self.rows, "columns": self.columns, "crop": list(self.crop),
                "picture_size": list(self.picture_size),
                "grid": [[round(v, 4) for v in row] for row in self.grid]}


@dataclass(frozen=True)
class AttentionPieces:
    """The last attention step of an image tower, taken apart (batch of one or more).

    ``query`` (N, H, d) of the summary token; ``keys``/``values`` (N, H, L, d) of every
    position, the summary token first; ``head`` maps the concatenated attention output
    (N, H*d) to the image embedding, ``value_head`` maps per-position values (N, L, H*d) to
    per-position embeddings (MaskCLIP's path); ``grid`` is the spatial (rows, columns).
    """

    query: Any
    keys: Any
    values: Any
    head: Callable[[Any], Any]
    value_head: Callable[[Any], Any]
    grid: tuple[int, int]

    def attention(self) -> Any:
        """(N, H, L) softmax attention of the summary token over all positions."""
        scale = 1.0 / math.sqrt(self.query.shape[-1])
        return (self.similarity() * scale).softmax(dim=-1)

    def similarity(self) -> Any:
        """(N, H, L) raw query-key dot products."""
        import torch

        return torch.einsum("nhd,nhld->nhl", self.query, self.keys)

    def pooled(self) -> Any:
        """(N, H*d): the attention output ``sum_j a_hj v_hj``, heads concatenated."""
        import torch

        mixed = torch.einsum("nhl,nhld->nhd", self.attention(), self.values)
        return mixed.reshape(mixed.shape[0], -1)

    def embedding(self) -> Any:
        """The image embedding (unnormalized), exactly what ``encode_image`` returns."""
        return self.head(self.pooled())


def _heads(x: Any, heads: int) -> Any:
    """(N, L, D) -> (N, H, L, D/H)."""
    n, length, width = x.shape
    return x.reshape(n, length, heads, width // heads).transpose(1, 2)


def resnet_pieces(visual: Any, pixels: Any) -> AttentionPieces:
    """open_clip's ModifiedResNet: the trunk, then its AttentionPool2d taken apart."""
    import torch.nn.functional as F

    x = visual.stem(pixels)
    for layer in (visual.layer1, visual.layer2, visual.layer3, visual.layer4):
        x = layer(x)
    pool = visual.attnpool
    n, channels, rows, columns = x.shape
    tokens = x.reshape(n, channels, rows * columns).permute(0, 2, 1)  # (N, HW, C)
    positions = resized_positions(pool.positional_embedding, (rows, columns))
    tokens = _with_mean_token(tokens) + positions[None].to(tokens.dtype)
    heads = pool.num_heads
    query = F.linear(tokens[:, :1], pool.q_proj.weight, pool.q_proj.bias)
    keys = F.linear(tokens, pool.k_proj.weight, pool.k_proj.bias)
    values = F.linear(tokens, pool.v_proj.weight, pool.v_proj.bias)
    return AttentionPieces(query=_heads(query, heads)[:, :, 0], keys=_heads(keys, heads),
                           values=_heads(values, heads), head=pool.c_proj, value_head=pool.c_proj,
                           grid=(rows, columns))


def _with_mean_token(tokens: Any) -> Any:
    """Prepend the mean token, as the attention pool does."""
    import torch

    return torch.cat([tokens.mean(dim=1, keepdim=True), tokens], dim=1)


def vit_pieces(visual: Any, pixels: Any) -> AttentionPieces:
    """open_clip's VisionTransformer (class-token pooling): all blocks but the last, then the
    last block's attention taken apart; ``head`` finishes the class token exactly as the
    block, ``ln_post`` and ``proj`` do."""
    import torch.nn.functional as F

    _check_vit(visual)
    transformer = visual.transformer
    x = _vit_embeds(visual, pixels)
    blocks = list(transformer.resblocks)
    if not transformer.batch_first:
        x = x.transpose(0, 1)
    for block in blocks[:-1]:
        x = block(x)
    if not transformer.batch_first:
        x = x.transpose(0, 1)
    last = blocks[-1]
    attn = last.attn
    heads = attn.num_heads
    query, keys, values = F.linear(last.ln_1(x), attn.in_proj_weight, attn.in_proj_bias).chunk(3, dim=-1)
    residual = x[:, 0]
    projection = visual.proj

    def finish(token: Any) -> Any:
        token = visual.ln_post(token)
        return token @ projection if projection is not None else token

    def head(pooled: Any) -> Any:
        token = residual + last.ls_1(attn.out_proj(pooled))
        token = token + last.ls_2(last.mlp(last.ln_2(token)))
        return finish(token)

    def value_head(per_position: Any) -> Any:
        return finish(attn.out_proj(per_position))

    patch = visual.conv1.stride
    rows, columns = pixels.shape[-2] // patch[0], pixels.shape[-1] // patch[1]
    return AttentionPieces(query=_heads(query[:, :1], heads)[:, :, 0], keys=_heads(keys, heads),
                           values=_heads(values, heads), head=head, value_head=value_head,
                           grid=(int(rows), int(columns)))


def resized_positions(positions: Any, grid: tuple[int, int]) -> Any:
    """A (1 + rows*columns, D) positional embedding (summary token first) for ``grid``: itself
    when it fits, else its spatial part resized bicubically (MaskCLIP's way to a finer grid)."""
    import torch
    import torch.nn.functional as F

    rows, columns = grid
    if positions.shape[0] == 1 + rows * columns:
        return positions
    side = math.isqrt(positions.shape[0] - 1)
    spatial = positions[1:].reshape(1, side, side, -1).permute(0, 3, 1, 2).float()
    spatial = F.interpolate(spatial, size=(rows, columns), mode="bicubic", align_corners=False)
    spatial = spatial.permute(0, 2, 3, 1).reshape(rows * columns, -1).to(positions.dtype)
    return torch.cat([positions[:1], spatial])


def _vit_embeds(visual: Any, pixels: Any) -> Any:
    """``VisionTransformer._embeds``, with the positional embedding fitted to the input's grid."""
    import torch

    x = visual.conv1(pixels)
    rows, columns = x.shape[-2:]
    x = x.reshape(x.shape[0], x.shape[1], -1).permute(0, 2, 1)
    summary = visual.class_embedding.reshape(1, 1, -1).expand(x.shape[0], -1, -1).to(x.dtype)
    x = torch.cat([summary, x], dim=1)
    x = x + resized_positions(visual.positional_embedding, (int(rows), int(columns))).to(x.dtype)
    return visual.ln_pre(visual.patch_dropout(x))


def _check_vit(visual: Any) -> None:
    import torch

    problems = []
    if getattr(visual, "attn_pool", None) is not None or getattr(visual, "pool_type", "tok") != "tok":
        problems.append("it does not pool the class token")
    for block in visual.transformer.resblocks:
        attn = getattr(block, "attn", None)
        if not isinstance(attn, torch.nn.MultiheadAttention) or hasattr(block, "ln_1_kv") \
                or not getattr(attn, "_qkv_same_embed_dim", False):
            problems.append("its blocks are not plain attention blocks")
            break
    if problems:
        raise ExplainError(f"Heatmaps are not available for this model: {'; '.join(problems)}.")


def attention_pieces(visual: Any, pixels: Any) -> AttentionPieces:
    """The tower's last attention step, for the two tower kinds open_clip's CLIP models use."""
    if hasattr(visual, "attnpool") and hasattr(visual, "stem"):
        return resnet_pieces(visual, pixels)
    if hasattr(visual, "transformer") and hasattr(visual, "_embeds"):
        return vit_pieces(visual, pixels)
    raise ExplainError(f"Heatmaps are not available for this model's image tower ({type(visual).__name__}).")


def relevance(pieces: AttentionPieces, direction: Any, method: str = DEFAULT_METHOD) -> tuple[Any, float]:
    """(rows, columns) relevance of each position for ``S = <normalize(embedding), direction>``
    (picture 0 of the batch), and ``S`` itself."""
    import torch
    import torch.nn.functional as F

    direction = direction.to(pieces.values.dtype)
    spatial = slice(1, None)
    with torch.no_grad():
        embedding = pieces.embedding()
        score = float((F.normalize(embedding.float(), dim=-1)[0] * direction.float()).sum())
    if method == "value":
        with torch.no_grad():
            n, heads, length, width = pieces.values.shape
            per_position = pieces.values.transpose(1, 2).reshape(n, length, heads * width)
            maps = F.normalize(pieces.value_head(per_position[:, spatial]).float(), dim=-1) @ direction.float()
        return maps[0].reshape(pieces.grid), score
    if method != "gradient":
        raise ExplainError(f"Unknown heatmap method {method!r}; choose one of {', '.join(METHODS)}.")
    with torch.no_grad():
        pooled = pieces.pooled().detach()
        similarity = pieces.similarity()[:, :, spatial].float()
    with torch.enable_grad():
        pooled.requires_grad_(True)
        target = (F.normalize(pieces.head(pooled).float(), dim=-1) * direction.float()).sum()
        (gradient,) = torch.autograd.grad(target, pooled)
    with torch.no_grad():
        n, heads, length, width = pieces.values.shape
        low = similarity.amin(dim=-1, keepdim=True)
        high = similarity.amax(dim=-1, keepdim=True)
        spread = high - low
        # Keys all alike (an even attention): every position counts fully, none is zeroed.
        loosened = torch.where(spread > 1e-6, (similarity - low) / spread.clamp_min(1e-6),
                               torch.ones_like(similarity))
        channel = gradient.float().reshape(n, heads, 1, width)
        per_head = (pieces.values[:, :, spatial].float() * channel).sum(dim=-1)  # (N, H, L-1)
        maps = torch.relu((loosened * per_head).sum(dim=1))
    return maps[0].reshape(pieces.grid), score


def crop_box(model: "ClipModel", picture_size: tuple[int, int]) -> tuple[int, int, int, int]:
    """The part of the picture the model's preprocessing keeps: a centred square of the
    shorter side when it resizes and centre-crops (open_clip's default), else everything."""
    width, height = picture_size
    steps = getattr(model.preprocess, "transforms", [])
    if not any(type(step).__name__ == "CenterCrop" for step in steps):
        return (0, 0, width, height)
    side = min(width, height)
    left, top = (width - side) // 2, (height - side) // 2
    return (left, top, left + side, top + side)


#: The finest grid ``detail="auto"`` aims at (ViT-B/32's at 224 px) and the most it enlarges.
AUTO_GRID = 7
MAX_DETAIL = 4


def native_grid(model: "ClipModel") -> int:
    """Cells a side of the tower's last feature map at its own input size."""
    visual = model.model.visual
    if hasattr(visual, "attnpool"):
        return math.isqrt(visual.attnpool.positional_embedding.shape[0] - 1)
    if hasattr(visual, "positional_embedding"):
        return math.isqrt(visual.positional_embedding.shape[0] - 1)
    return AUTO_GRID


def choose_detail(model: "ClipModel", detail: "int | str" = "auto") -> int:
    """How many times the model's input size a picture is explained at. ``auto``: 1 when the
    tower's own grid has >= 7 cells a side, else the smallest factor that gets there (at most
    4; the demo model's 2x2 becomes 8x8, see README "Why this tag" for what that buys)."""
    if detail != "auto":
        if not isinstance(detail, int) or not 1 <= detail <= MAX_DETAIL:
            raise ExplainError(f"Heatmap detail must be auto or 1 to {MAX_DETAIL}, not {detail!r}.")
        return detail
    grid = native_grid(model)
    return min(MAX_DETAIL, max(1, -(-AUTO_GRID // max(grid, 1))))


def preprocess_at(model: "ClipModel", picture: "Image.Image", detail: int) -> Any:
    """The model's own preprocessing (resize, centre crop, normalize), at ``detail`` times its
    input size: the picture is resampled from full resolution, not enlarged from the small one."""
    import copy

    if detail == 1:
        return model.preprocess(picture)
    steps = []
    for step in getattr(model.preprocess, "transforms", []):
        size = getattr(step, "size", None)
        if type(step).__name__ in ("Resize", "CenterCrop", "ResizeKeepRatio") and size is not None:
            step = copy.copy(step)
            step.size = (tuple(int(v) * detail for v in size) if isinstance(size, (tuple, list))
                         else int(size) * detail)
        steps.append(step)
    if not steps:
        raise ExplainError("This model's preprocessing cannot be enlarged; use detail 1.")
    pixels = picture
    for step in steps:
        pixels = step(pixels)
    return pixels


def explain_picture(model: "ClipModel", picture: "Image.Image", direction: Any, label: str = "",
                    method: str = DEFAULT_METHOD, detail: "int | str" = "auto") -> Heatmap:
    """The heatmap of ``direction``'s score on one upright RGB picture. ``detail`` > 1 runs
    the tower on a larger input (positional embeddings resized) for a finer grid: a different
    forward from the one that scored the photo, whose score the heatmap then reports."""
    import torch

    from cliptagger.core.model.precision import compute_context

    if method not in METHODS:
        raise ExplainError(f"Unknown heatmap method {method!r}; choose one of {', '.join(METHODS)}.")
    factor = choose_detail(model, detail)
    pixels = preprocess_at(model, picture, factor)[None].to(model.device, dtype=model.input_dtype)
    with torch.no_grad(), compute_context(model.device, model.precision):
        pieces = attention_pieces(model.model.visual, pixels)
    with compute_context(model.device, model.precision):
        maps, score = relevance(pieces, direction.to(model.device), method)
    maps = maps.float().cpu()
    if method == "value":
        maps = maps - maps.min()  # MaskCLIP's similarities are all positive-ish: show the contrast
    peak = float(maps.max())
    scaled = maps / peak if peak > 0 else torch.zeros_like(maps)
    grid = tuple(tuple(float(v) for v in row) for row in scaled.tolist())
    return Heatmap(grid=grid, score=score, method=method, label=label,
                   crop=crop_box(model, picture.size), picture_size=picture.size)


def find_label(label_sets: Sequence[LabelSet], wanted: str) -> tuple[LabelSet, int]:
    """``Set/label`` (the label's name or keyword, case-insensitive) -> its set and index."""
    set_name, sep, label_name = wanted.partition("/")
    if not sep or not set_name.strip() or not label_name.strip():
        raise ExplainError(f"Name the label as Set/label (e.g. Shape/circle), not {wanted!r}.")
    for label_set in label_sets:
        if label_set.name.casefold() != set_name.strip().casefold():
            continue
        for index, label in enumerate(label_set.labels):
            if label_name.strip().casefold() in (label.name.casefold(), label.keyword.casefold()):
                return label_set, index
        known = ", ".join(label.name for label in label_set.labels)
        raise ExplainError(f"Label set {label_set.name!r} has no label {label_name.strip()!r}; it has: {known}.")
    known_sets = ", ".join(s.name for s in label_sets) or "none"
    raise ExplainError(f"No label set named {set_name.strip()!r}; the label sets are: {known_sets}.")


def label_direction(model: "ClipModel", label_set: LabelSet, index: int, contrast: bool = True) -> Any:
    """The text direction a label's score is measured along: its prototype (the ensembled
    templates), minus the set's reference when ``contrast`` (see the module's docstring)."""
    return direction_from_prototypes(build_prototypes(model, label_set), index, contrast)


def direction_from_prototypes(prototypes: SetPrototypes, index: int, contrast: bool = True) -> Any:
    """``label_direction`` from a set's prototypes already built (the engine keeps them)."""
    label_set = prototypes.label_set
    direction = prototypes.text[index]
    if not contrast:
        return direction
    if label_set.mode is Mode.INDEPENDENT:
        return direction - prototypes.baseline
    others = [row for i, row in enumerate(prototypes.text) if i != index]
    return direction - sum(others) / len(others) if others else direction


def explain_photo(model: "ClipModel", path: Path, label_sets: Sequence[LabelSet], wanted: str,
                  method: str = DEFAULT_METHOD, contrast: bool = True, detail: "int | str" = "auto") -> Heatmap:
    """Decode one photo as tagging does (EXIF orientation, ...) and explain ``Set/label`` on it."""
    from cliptagger.core.media.images import load_rgb

    label_set, index = find_label(label_sets, wanted)
    direction = label_direction(model, label_set, index, contrast)
    picture = load_rgb(Path(path))
    return explain_picture(model, picture, direction, f"{label_set.name}/{label_set.labels[index].keyword}",
                           method, detail)
