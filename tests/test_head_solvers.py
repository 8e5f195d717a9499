"""The two solvers of learned heads find the same minimum.

Independent labels with few examples are fitted by Newton in the span of their examples
(``span_newton``), the rest by L-BFGS in the whole embedding space. The problem is convex and
the span contains its minimum (the representer theorem), so both must agree on the head and
on every held-out fold: which solver ran must never change what the user sees.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

torch = pytest.importorskip("torch")

from cliptagger.core.learning import training as learning  # noqa: E402
from cliptagger.core.learning.training import _fit_full_space, _fit_in_span, _Problem  # noqa: E402
from cliptagger.core.tagging.labels import Mode  # noqa: E402


def make_problem(seed: int, photos: int = 60, dim: int = 24, labels: int = 5, density: float = 0.5) -> tuple[_Problem, object]:
    """Random embeddings crowded around a common direction (as CLIP's are), prototypes near
    some of them, and a sparse, imbalanced set of decisions per label."""
    generator = torch.Generator().manual_seed(seed)
    common = torch.nn.functional.normalize(torch.randn(dim, generator=generator), dim=0)
    x = torch.nn.functional.normalize(torch.randn(photos, dim, generator=generator) + 2.0 * common, dim=-1).double()
    w0 = 20.0 * torch.randn(labels, dim, generator=generator, dtype=torch.float64) / dim ** 0.5
    target = (torch.rand(photos, labels, generator=generator) < 0.3).double()
    mask = (torch.rand(photos, labels, generator=generator) < density).double()
    positives = [int(v) for v in (target * mask).sum(0).tolist()]
    negatives = [int(v) for v in ((1 - target) * mask).sum(0).tolist()]
    weight = mask.clone()
    for j in range(labels):
        if positives[j] and negatives[j]:
            total = positives[j] + negatives[j]
            weight[:, j] = torch.where(target[:, j] > 0, mask[:, j] * total / (2 * positives[j]),
                                       mask[:, j] * total / (2 * negatives[j]))
    return _Problem(x, target, weight, positives, negatives), w0


def both(problem: _Problem, w0, folds: int, monkeypatch) -> tuple[tuple, tuple]:
    monkeypatch.setattr(learning, "FOLD_ITERATIONS", 500)  # let the L-BFGS folds converge too
    monkeypatch.setattr(learning, "MAX_ITERATIONS", 500)
    columns = list(range(w0.shape[0]))
    tests = learning._folds(problem, folds) if folds >= 2 else []
    zero = torch.full((problem.x.shape[0], len(columns)), 0.5, dtype=torch.float64)
    span = _fit_in_span(problem, columns, w0, tests, learning.REGULARIZATION, Mode.INDEPENDENT, zero)
    full = _fit_full_space(problem, columns, w0, tests, learning.REGULARIZATION, Mode.INDEPENDENT, zero)
    return span, full


def probabilities(problem: _Problem, w, c):
    return torch.sigmoid(problem.x @ w.T + c[None, :])


def objective(problem: _Problem, w0, w, c):
    """Per label: the regularized weighted log-loss both solvers minimize (float64)."""
    logits = problem.x @ w.T + c[None, :]
    data = (problem.weight * (torch.nn.functional.softplus(logits) - problem.target * logits)).sum(0)
    return data + 0.5 * learning.REGULARIZATION * (((w - w0) ** 2).sum(1) + c ** 2)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_span_newton_finds_the_full_space_minimum(seed, monkeypatch):
    problem, w0 = make_problem(seed)
    (span_w, span_c, span_held, _), (full_w, full_c, full_held, _) = both(problem, w0, 5, monkeypatch)
    mask = problem.weight > 0
    # L-BFGS runs in float32 to a gradient tolerance: the exact Newton minimum is never worse
    assert bool((objective(problem, w0, span_w, span_c) <= objective(problem, w0, full_w, full_c) + 1e-9).all())
    assert torch.allclose(probabilities(problem, span_w, span_c)[mask],
                          probabilities(problem, full_w, full_c)[mask], rtol=0, atol=5e-4)
    # held-out probabilities (one fit per fold) agree on every photo with a decision
    assert torch.allclose(span_held[mask], full_held[mask], rtol=0, atol=1e-3)
    # and the fit actually moved away from zero-shot (the test would pass trivially otherwise)
    assert float((span_w - w0).abs().max()) > 0.1


def gradient(problem: _Problem, w0, w, c):
    """Per label: the primal gradient of the objective in float64 (zero at the minimum)."""
    design = torch.cat([problem.x, torch.ones(problem.x.shape[0], 1, dtype=torch.float64)], dim=1)
    logits = problem.x @ w.T + c[None, :]
    g = problem.weight * (torch.sigmoid(logits) - problem.target)
    theta = torch.cat([(w - w0).T, c[None, :]], dim=0)
    return design.T @ g + learning.REGULARIZATION * theta


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 10_000), photos=st.integers(8, 80), density=st.floats(0.05, 1.0),
       labels=st.integers(1, 6))
def test_the_span_fit_is_the_exact_minimum_of_generated_problems(seed, photos, density, labels, monkeypatch):
    problem, w0 = make_problem(seed, photos=photos, labels=labels, density=density)
    if not bool((problem.weight > 0).any()):
        return
    (span_w, span_c, _, _), (full_w, full_c, _, _) = both(problem, w0, 0, monkeypatch)
    # first-order optimality in the full space, checked in float64 on the primal problem
    scale = max(1.0, float(problem.weight.sum(0).max()))
    assert float(gradient(problem, w0, span_w, span_c).abs().max()) <= 1e-5 * scale
    # and never a worse objective than L-BFGS in the full space
    assert bool((objective(problem, w0, span_w, span_c) <= objective(problem, w0, full_w, full_c) + 1e-7).all())


def test_a_photo_without_a_say_does_not_move_the_fit(monkeypatch):
    """Rows of weight 0 (padding to the batch's size, photos held out of a fold) are inert."""
    problem, w0 = make_problem(3)
    columns = list(range(w0.shape[0]))
    zero = torch.zeros(problem.x.shape[0], len(columns), dtype=torch.float64)
    w, c, _, _ = _fit_in_span(problem, columns, w0, [], learning.REGULARIZATION, Mode.INDEPENDENT, zero)
    extra = torch.nn.functional.normalize(torch.randn(7, problem.x.shape[1], dtype=torch.float64), dim=-1)
    bigger = _Problem(torch.cat([problem.x, extra]), torch.cat([problem.target, torch.ones(7, len(columns))]),
                      torch.cat([problem.weight, torch.zeros(7, len(columns))]), problem.positives, problem.negatives)
    zero = torch.zeros(bigger.x.shape[0], len(columns), dtype=torch.float64)
    w2, c2, _, _ = _fit_in_span(bigger, columns, w0, [], learning.REGULARIZATION, Mode.INDEPENDENT, zero)
    assert torch.allclose(w, w2, atol=1e-9) and torch.allclose(c, c2, atol=1e-9)


def test_labels_are_split_between_solvers_by_their_number_of_examples(monkeypatch):
    problem, w0 = make_problem(4, photos=80, density=0.9)
    counts = (problem.weight > 0).sum(0).tolist()
    monkeypatch.setattr(learning, "SPAN_MAX_EXAMPLES", sorted(counts)[len(counts) // 2])
    plan = learning._solver_plan(problem, Mode.INDEPENDENT, [True] * len(counts))
    solvers = {solver: columns for columns, solver in plan}
    assert set(solvers) == {_fit_in_span, _fit_full_space}
    assert all(counts[j] <= learning.SPAN_MAX_EXAMPLES for j in solvers[_fit_in_span])
    assert all(counts[j] > learning.SPAN_MAX_EXAMPLES for j in solvers[_fit_full_space])
    # an exclusive set is one multinomial problem: every label in the full space together
    assert learning._solver_plan(problem, Mode.EXCLUSIVE, [True] * len(counts)) == \
        [(list(range(len(counts))), _fit_full_space)]


def test_span_fits_are_deterministic():
    problem, w0 = make_problem(5)
    columns = list(range(w0.shape[0]))
    tests = learning._folds(problem, 5)
    zero = torch.zeros(problem.x.shape[0], len(columns), dtype=torch.float64)
    first = _fit_in_span(problem, columns, w0, tests, learning.REGULARIZATION, Mode.INDEPENDENT, zero)
    second = _fit_in_span(problem, columns, w0, tests, learning.REGULARIZATION, Mode.INDEPENDENT, zero)
    assert all(torch.equal(a, b) for a, b in zip(first, second))


def test_labels_fitted_a_few_at_a_time_give_the_same_heads(monkeypatch):
    """Big sets are fitted ``SPAN_BATCH`` labels at a time, sorted by their number of
    examples: the result cannot depend on the batching."""
    problem, w0 = make_problem(6, labels=6, density=0.4)
    columns = list(range(w0.shape[0]))
    tests = learning._folds(problem, 3)
    zero = torch.zeros(problem.x.shape[0], len(columns), dtype=torch.float64)
    together = _fit_in_span(problem, columns, w0, tests, learning.REGULARIZATION, Mode.INDEPENDENT, zero)
    monkeypatch.setattr(learning, "SPAN_BATCH", 2)
    in_pairs = _fit_in_span(problem, columns, w0, tests, learning.REGULARIZATION, Mode.INDEPENDENT, zero)
    for a, b in zip(together, in_pairs):
        assert torch.allclose(a, b, rtol=0, atol=1e-6)


def span_batch(batch: int, k: int, dim: int, seed: int = 0):
    """Span problems as learning builds them: (batch, k) examples of CLIP-like embeddings
    with a bias column, some padding rows, balanced-ish targets."""
    from cliptagger.core.learning import span_newton

    generator = torch.Generator().manual_seed(seed)
    common = torch.nn.functional.normalize(torch.randn(dim, generator=generator), dim=0)
    x = torch.nn.functional.normalize(torch.randn(batch, k, dim, generator=generator) + 2.0 * common, dim=-1)
    examples = torch.cat([x, torch.ones(batch, k, 1)], dim=-1).double()
    weight = (torch.rand(batch, k, generator=generator) < 0.9).double()  # ~10% padding
    examples = examples * weight[..., None]
    gram = examples @ examples.transpose(1, 2)
    base = 3.0 * torch.randn(batch, k, generator=generator, dtype=torch.float64)
    target = (torch.rand(batch, k, generator=generator) < 0.4).double()
    return span_newton.SpanProblems(gram, base, target, weight)


def span_residual(problems, alpha):
    p = torch.sigmoid(problems.base + (problems.gram @ alpha[..., None])[..., 0])
    residual = problems.weight * (p - problems.target) + learning.REGULARIZATION * alpha
    return (residual * (problems.gram @ residual[..., None])[..., 0]).sum(-1).clamp_min(0).sqrt()


def test_the_batch_that_broke_the_lu_solve_on_two_threads_is_solved():
    """Issue 17: `learn` crashed on a (33, 200, 200) float32 batch with 2 threads inside
    oneMKL's batched LU. The Newton system is now solved by Cholesky of an SPD matrix."""
    from cliptagger.core.learning import span_newton

    problems = span_batch(33, 200, 64)
    previous = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        alpha, failed = span_newton.solve(problems, learning.REGULARIZATION)
    finally:
        torch.set_num_threads(previous)
    assert not bool(failed.any())
    assert bool(torch.isfinite(alpha).all())
    limit = 1e-6 * problems.weight.sum(-1).clamp_min(1.0)
    assert bool((span_residual(problems, alpha) <= limit).all())  # every problem at its minimum


def test_newton_steps_match_a_direct_solve():
    """The Woodbury/Cholesky step is the Newton step (D G + lambda I)^-1 (-r)."""
    from cliptagger.core.learning import span_newton

    problems = span_batch(6, 30, 16, seed=3)
    generator = torch.Generator().manual_seed(1)
    alpha = 0.1 * torch.randn(6, 30, generator=generator, dtype=torch.float64)
    p = torch.sigmoid(problems.base + (problems.gram @ alpha[..., None])[..., 0])
    curvature = problems.weight * p * (1 - p)
    residual = problems.weight * (p - problems.target) + learning.REGULARIZATION * alpha
    kernel_residual = (problems.gram @ residual[..., None])[..., 0]
    step, failed = span_newton.newton_steps(curvature, problems.gram.float(), residual, kernel_residual,
                                            learning.REGULARIZATION)
    system = curvature[..., :, None] * problems.gram + learning.REGULARIZATION * torch.eye(30, dtype=torch.float64)
    direct = -torch.linalg.solve(system, residual)
    assert not bool(failed.any())
    # compared in theta-space (what the fit uses): G-weighted, float32 factor
    difference = step - direct
    norm = lambda v: (v * (problems.gram @ v[..., None])[..., 0]).sum(-1).sqrt()  # noqa: E731
    assert bool((norm(difference) <= 1e-4 * norm(direct).clamp_min(1e-12)).all())


def test_a_problem_that_cannot_be_solved_is_reported_not_raised():
    from cliptagger.core.learning import span_newton

    problems = span_batch(4, 20, 8, seed=5)
    problems.gram[2, 0, 0] = float("nan")  # one poisoned problem
    alpha, failed = span_newton.solve(problems, learning.REGULARIZATION)
    assert failed.tolist() == [False, False, True, False]
    healthy = torch.tensor([0, 1, 3])
    assert bool(torch.isfinite(alpha[healthy]).all())


def test_a_label_whose_fit_fails_keeps_zero_shot_with_a_warning(monkeypatch, caplog):
    """A numerical failure in one label's fit: that label keeps zero-shot (weights, bias and
    held-out probabilities), is named in one warning and in its stats; the others learn."""
    import logging

    from cliptagger.core.learning import span_newton
    from cliptagger.core.tagging.labels import Label, LabelSet
    from cliptagger.core.tagging.scoring import SetPrototypes

    problem, w0 = make_problem(7, photos=60, labels=3, density=0.8)
    original = span_newton.newton_steps

    calls = []

    def fail_first_problem(curvature, *args):
        step, failed = original(curvature, *args)
        if not calls:  # the first step of the first batch: the label with fewest examples
            failed = failed.clone()
            failed[0] = True
        calls.append(1)
        return step, failed

    monkeypatch.setattr(span_newton, "newton_steps", fail_first_problem)
    columns = list(range(3))
    zero = torch.full((60, 3), 0.5, dtype=torch.float64)
    _, _, _, failed = _fit_in_span(problem, columns, w0, [], learning.REGULARIZATION, Mode.INDEPENDENT, zero)
    assert int(failed.sum()) == 1
    calls.clear()

    label_set = LabelSet("Scene", tuple(Label(k) for k in ("beach", "forest", "city")), mode=Mode.INDEPENDENT)
    monkeypatch.setattr(learning, "_build_problem", lambda _examples, _set: problem)
    monkeypatch.setattr(learning, "zero_shot_weights", lambda _p, _s: w0)  # float64, as the real one returns
    generator = torch.Generator().manual_seed(11)  # zero-shot probabilities need real prototypes
    dim = problem.x.shape[1]
    prototypes = SetPrototypes(label_set, text=torch.nn.functional.normalize(torch.randn(3, dim, generator=generator), dim=-1),
                               baseline=torch.nn.functional.normalize(torch.randn(dim, generator=generator), dim=0))
    with caplog.at_level(logging.WARNING, logger="cliptagger.core.learning.training"):
        head = learning.train_set_head([], prototypes, 100.0)
    broken = [s for s in head.stats if s.failure == learning.NUMERICAL_FAILURE]
    assert len(broken) == 1
    assert not broken[0].used and "zero-shot kept" in broken[0].summary()
    j = [s.keyword for s in head.stats].index(broken[0].keyword)
    assert torch.equal(head.weight[j], w0[j].float()) and float(head.bias[j]) == 0.0
    assert any(broken[0].keyword in r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)
    others = [s for s in head.stats if s is not broken[0]]
    # the other labels were fitted (used, or kept zero-shot by the never-hide rule on this random data)
    assert all(s.learned_accuracy is not None and (s.used or s.failure == learning.HIDES_ZERO_SHOT_TAGS)
               for s in others)
