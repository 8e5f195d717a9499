#!/usr/bin/env python3
"""Few-shot learning from the user's decisions against zero-shot, on generated pictures.

    python benchmarks/few_shot.py [--compare] [--repeats 5] [--test 100] [--dim 512] [--train-labels 100]

The bundled demo model (fp32, CPU) embeds generated pictures (``cliptagger.core.media.synthetic``).

1. A personal concept its label text cannot describe: "keepers" = red or blue circles on
   striped backgrounds, an independent label whose prompt says nothing of that. For
   k = 1, 2, 4, 8, 16, 32 positive and k negative examples (accepts and rejects), held-out
   accuracy on a balanced test set of pictures no example shows, learned (the head the
   never-worse rule picks) against zero-shot, averaged over ``--repeats`` draws.
2. Nameable labels (the demo's Shape, Colour and Background sets, exclusive): k accepted
   examples per label; held-out top-1 accuracy, learned against zero-shot.
3. Training time of one independent set with ``--train-labels`` labels (random ``--dim``
   embeddings): 10,000 decisions as review makes them (on 10,000 photos, or 2,500 photos
   with 4 each), and a library's own keywords (10,000 photos, each a positive or a negative
   of every label: 1,000,000 examples). Fit alone, and with the held-out check and
   calibration; ``--compare`` times L-BFGS in the full space for every label side by side.

The last line reads ``few-shot k=8: learned 0.97, zero-shot 0.52``.
"""

from __future__ import annotations

import argparse
import platform
import random
import sys
import time
from pathlib import Path
from typing import Optional

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

KS = (1, 2, 4, 8, 16, 32)


def embed(model, scenes_with_seeds, size: int = 128):
    import torch

    from cliptagger.core.media.synthetic import render

    pixels = [model.preprocess(render(scene, size=size, seed=seed)) for scene, seed in scenes_with_seeds]
    rows = []
    for start in range(0, len(pixels), 64):
        rows.append(model.encode_pixels(torch.stack(pixels[start:start + 64])))
    return torch.cat(rows)


def is_keeper(scene) -> bool:
    return scene.shape == "circle" and scene.colour in ("red", "blue") and scene.background == "striped"


def scene_pool(count_pos: int, count_neg: int, seed: int, near_misses: float = 0.0):
    from cliptagger.core.media.synthetic import BACKGROUNDS, COLOURS, SHAPES, Scene

    rng = random.Random(seed)
    positives = [(Scene("circle", rng.choice(["red", "blue"]), "striped"), rng.randrange(1 << 30))
                 for _ in range(count_pos)]
    negatives = []
    while len(negatives) < count_neg:
        scene = Scene(rng.choice(SHAPES), rng.choice(list(COLOURS)), rng.choice(BACKGROUNDS))
        if rng.random() < near_misses:  # two of the three properties right
            base = Scene("circle", rng.choice(["red", "blue"]), "striped")
            which = rng.randrange(3)
            scene = Scene(scene.shape if which == 0 else base.shape, scene.colour if which == 1 else base.colour,
                          scene.background if which == 2 else base.background)
        if not is_keeper(scene):
            negatives.append((scene, rng.randrange(1 << 30)))
    return positives, negatives


def keepers(model, repeats: int, test_size: int, near_misses: float = 0.0) -> dict[int, tuple[float, float]]:
    import torch

    from cliptagger.core.learning.examples import Example
    from cliptagger.core.learning.training import train_set_head
    from cliptagger.core.tagging.head_scoring import set_probabilities
    from cliptagger.core.tagging.labels import Label, LabelSet, Mode
    from cliptagger.core.tagging.scoring import build_prototypes

    label_set = LabelSet("Personal", (Label("keepers"),), mode=Mode.INDEPENDENT, threshold=0.5)
    prototypes = build_prototypes(model, label_set)
    test_pos, test_neg = scene_pool(test_size, test_size, seed=99, near_misses=near_misses)
    test_x = embed(model, test_pos + test_neg)
    test_y = torch.tensor([1.0] * len(test_pos) + [0.0] * len(test_neg))
    train_pos, train_neg = scene_pool(64, 64, seed=7, near_misses=near_misses)
    pos_x, neg_x = embed(model, train_pos), embed(model, train_neg)
    scale = model.logit_scale

    def accuracy(head) -> float:
        p = set_probabilities(test_x, prototypes, scale, head)[:, 0]
        return float(((p >= label_set.threshold).float() == test_y).float().mean())

    zero = accuracy(None)
    found = {}
    for k in KS:
        learned = []
        for repeat in range(repeats):
            rng = random.Random(1000 * k + repeat)
            chosen = [(pos_x[i], True, i) for i in rng.sample(range(len(pos_x)), k)] + \
                     [(neg_x[i], False, 100 + i) for i in rng.sample(range(len(neg_x)), k)]
            examples = [Example(Path(f"/photo/{tag}.jpg"), model.model_id, "Personal", "keepers", positive, vector)
                        for vector, positive, tag in chosen]
            learned.append(accuracy(train_set_head(examples, prototypes, scale)))
        found[k] = (sum(learned) / len(learned), zero)
    return found


def nameable(model, repeats: int, test_size: int, independent: bool = False) -> dict[int, tuple[float, float]]:
    """Exclusive sets: top-1 accuracy. Independent variants (one yes/no per label, k accepts
    and k rejects per label): per-label accuracy at threshold 0.5, averaged."""
    import torch

    from cliptagger.core.learning.examples import Example
    from cliptagger.core.learning.training import train_set_head
    from cliptagger.core.media.synthetic import random_scenes
    from cliptagger.core.tagging.head_scoring import set_probabilities
    from cliptagger.core.tagging.labels import Mode, load_label_sets
    from cliptagger.core.tagging.scoring import build_prototypes

    label_sets = load_label_sets(ROOT / "resources/labels/demo.json")
    test = list(random_scenes(test_size * 4, seed=31337))
    test_x = embed(model, test)
    pool = list(random_scenes(96 * 4, seed=4242))
    pool_x = embed(model, pool)
    attribute = {"Shape": "shape", "Colour": "colour", "Background": "background"}
    scale = model.logit_scale
    found: dict[int, tuple[float, float]] = {}
    for k in KS:
        learned_total, zero_total = [], []
        for label_set in label_sets:
            if independent:
                label_set = label_set.with_changes(mode=Mode.INDEPENDENT, threshold=0.5,
                                                   max_tags=len(label_set.labels))
            prototypes = build_prototypes(model, label_set)
            keyword_of = {label.name: label.keyword for label in label_set.labels}
            truth = torch.tensor([[label.name for label in label_set.labels].index(getattr(s, attribute[label_set.name]))
                                  for s, _ in test])
            onehot = torch.nn.functional.one_hot(truth, len(label_set.labels)).float()

            def score(p) -> float:
                if independent:
                    return float(((p >= 0.5).float() == onehot).float().mean())
                return float((p.argmax(1) == truth).float().mean())

            zero = score(set_probabilities(test_x, prototypes, scale, None))
            for repeat in range(repeats):
                rng = random.Random(77 * k + repeat)
                examples = []
                for name in keyword_of:
                    candidates = [i for i, (s, _) in enumerate(pool) if getattr(s, attribute[label_set.name]) == name]
                    for i in rng.sample(candidates, min(k, len(candidates))):
                        examples.append(Example(Path(f"/photo/{i}.jpg"), model.model_id, label_set.name,
                                                keyword_of[name], True, pool_x[i]))
                    if independent:
                        others = [i for i, (s, _) in enumerate(pool) if getattr(s, attribute[label_set.name]) != name]
                        for i in rng.sample(others, min(k, len(others))):
                            examples.append(Example(Path(f"/photo/{i}.jpg"), model.model_id, label_set.name,
                                                    keyword_of[name], False, pool_x[i]))
                head = train_set_head(examples, prototypes, scale)
                learned_total.append(score(set_probabilities(test_x, prototypes, scale, head)))
                zero_total.append(zero)
        found[k] = (sum(learned_total) / len(learned_total), sum(zero_total) / len(zero_total))
    return found


#: Training-time scenarios: (name, photos, decisions per photo). 10,000 examples (decisions)
#: as review makes them, spread in two ways, and a library's own keywords (every photo a
#: positive or a negative of every keyword: 1,000,000 examples).
SCENARIOS = (("10,000 decisions: 10,000 photos x 1", 10_000, 1),
             ("10,000 decisions: 2,500 photos x 4", 2_500, 4),
             ("library keywords: 10,000 photos x 100 (1M examples)", 10_000, None))


def scenario_examples(photos: int, per_photo: Optional[int], labels: int, dim: int):
    """Generated embeddings near random label prototypes, 10% positives per label; each photo
    gets ``per_photo`` decisions on random labels (None: one on every label)."""
    import torch

    from cliptagger.core.learning.examples import Example
    from cliptagger.core.tagging.labels import Label, LabelSet, Mode
    from cliptagger.core.tagging.scoring import SetPrototypes

    generator = torch.Generator().manual_seed(0)
    label_set = LabelSet("Many", tuple(Label(f"label{j}") for j in range(labels)), mode=Mode.INDEPENDENT)
    text = torch.nn.functional.normalize(torch.randn(labels, dim, generator=generator), dim=-1)
    baseline = torch.nn.functional.normalize(torch.randn(dim, generator=generator), dim=-1)
    x = torch.nn.functional.normalize(torch.randn(photos, dim, generator=generator) + 0.5 * text[
        torch.randint(0, labels, (photos,), generator=generator)], dim=-1)
    similarity = x @ text.T
    truth = (similarity > similarity.quantile(0.9, dim=0, keepdim=True)).tolist()
    items = []
    for i in range(photos):
        columns = range(labels) if per_photo is None else torch.randperm(labels, generator=generator)[:per_photo].tolist()
        items += [Example(Path(f"/p/{i}"), "m", "Many", f"label{j}", truth[i][j], x[i]) for j in columns]
    return items, SetPrototypes(label_set, text, baseline)


def training_time(items, prototypes, span: bool) -> tuple[float, float, float]:
    """Seconds to (build the problem, fit every label once, train with the held-out check and
    calibration). ``span=False``: every label by L-BFGS in the full space (the solver before
    the span Newton), for a side-by-side ratio."""
    import torch

    from cliptagger.core.learning import training as learning

    saved = learning.SPAN_MAX_EXAMPLES
    learning.SPAN_MAX_EXAMPLES = saved if span else 0
    try:
        label_set = prototypes.label_set
        started = time.perf_counter()
        problem = learning._build_problem(items, label_set)
        build = time.perf_counter() - started
        w0 = learning.zero_shot_weights(prototypes, 100.0)
        eligible = [p >= learning.MIN_POSITIVES and q >= learning.MIN_NEGATIVES
                    for p, q in zip(problem.positives, problem.negatives)]
        zero = torch.zeros(problem.x.shape[0], len(eligible), dtype=torch.float64)
        started = time.perf_counter()
        for columns, solver in learning._solver_plan(problem, label_set.mode, eligible):
            solver(problem, columns, w0, [], learning.REGULARIZATION, label_set.mode, zero[:, columns])
        fit = time.perf_counter() - started
        started = time.perf_counter()
        learning.train_set_head(items, prototypes, 100.0)
        whole = time.perf_counter() - started - build  # the build is reported on its own
        return build, fit, whole
    finally:
        learning.SPAN_MAX_EXAMPLES = saved


def report_training_time(labels: int, dim: int, compare: bool) -> None:
    print(f"\n3. training time, {labels} labels (independent set), {dim}-d embeddings, "
          f"{platform.machine()} {cpu_name()}, torch threads {__import__('torch').get_num_threads()}")
    for name, photos, per_photo in SCENARIOS:
        items, prototypes = scenario_examples(photos, per_photo, labels, dim)
        training_time(items[:200], prototypes, True)  # warm-up: lazy initialisation
        build, fit, whole = training_time(items, prototypes, True)
        print(f"   {name}: {len(items):,} examples; fit {fit:.2f} s, with the held-out check "
              f"{whole:.2f} s (+ {build:.2f} s reading the examples)")
        counts = {}
        for example in items:
            counts[example.keyword] = counts.get(example.keyword, 0) + 1
        if compare and min(counts.values()) > SPAN_LIMIT():
            print(f"   {'':{len(name)}}  (every label has more than {SPAN_LIMIT()} examples: full-space L-BFGS "
                  "either way, nothing to compare)")
        elif compare:
            _, old_fit, old_whole = training_time(items, prototypes, False)
            print(f"   {'':{len(name)}}  full-space L-BFGS for every label: fit {old_fit:.2f} s, with the "
                  f"held-out check {old_whole:.2f} s; ratio {old_fit / fit:.1f}x / {old_whole / whole:.1f}x")


def SPAN_LIMIT() -> int:  # noqa: N802  (read at call time: tests may change it)
    from cliptagger.core.learning import training as learning

    return learning.SPAN_MAX_EXAMPLES


def cpu_name() -> str:
    """The CPU's model name (Linux), to go with every figure."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                flags = Path("/proc/cpuinfo").read_text()
                kind = "AVX512-BF16" if "avx512_bf16" in flags else "AVX2" if "avx2" in flags else "no AVX2"
                return f"{line.split(':', 1)[1].strip()} ({kind})"
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--test", type=int, default=100, help="test pictures per class")
    parser.add_argument("--dim", type=int, default=512, help="embedding size for the training-time part")
    parser.add_argument("--train-labels", type=int, default=100)
    parser.add_argument("--skip-timing", action="store_true")
    parser.add_argument("--compare", action="store_true",
                        help="also time L-BFGS in the full space for every label (the solver before), side by side")
    args = parser.parse_args()

    import torch

    from cliptagger.core.model.clip import load_model
    from cliptagger.core.model.weights import request_for

    torch.manual_seed(0)
    model = load_model(request_for("demo"), device="cpu", precision="fp32")
    print(f"model {model.model_id}, torch threads {torch.get_num_threads()}")

    worst = 0.0
    for independent in (False, True):
        print("\n2. nameable labels (Shape, Colour, Background), " +
              ("as independent yes/no labels: per-label accuracy" if independent else "exclusive: top-1 accuracy"))
        for k, (learned, zero) in nameable(model, args.repeats, args.test, independent).items():
            worst = min(worst, learned - zero)
            print(f"   k={k:<3} learned {learned:.3f}   zero-shot {zero:.3f}   difference {learned - zero:+.3f}")
    print(f"   worst difference {worst * 100:+.1f} points (goal: never below -1.0)")

    if not args.skip_timing:
        report_training_time(args.train_labels, args.dim, args.compare)

    print('\n1b. the same, harder: half the negatives are near misses (two of the three properties right)')
    for k, (learned, zero) in keepers(model, args.repeats, args.test, near_misses=0.5).items():
        print(f"   k={k:<3} learned {learned:.3f}   zero-shot {zero:.3f}")

    print('\n1. personal concept "keepers" (red or blue circles on striped backgrounds) against the rest '
          'of a library, balanced test')
    results = keepers(model, args.repeats, args.test)
    for k, (learned, zero) in results.items():
        print(f"   k={k:<3} learned {learned:.3f}   zero-shot {zero:.3f}")
    learned, zero = results[8]
    print(f"few-shot k=8: learned {learned:.2f}, zero-shot {zero:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
