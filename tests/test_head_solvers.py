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

from cliptagger.core import learning  # noqa: E402
from cliptagger.core.labels import Mode  # noqa: E402
from cliptagger.core.learning import _fit_full_space, _fit_in_span, _Problem  # noqa: E402


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
    (span_w, span_c, span_held), (full_w, full_c, full_held) = both(problem, w0, 5, monkeypatch)
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
    (span_w, span_c, _), (full_w, full_c, _) = both(problem, w0, 0, monkeypatch)
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
    w, c, _ = _fit_in_span(problem, columns, w0, [], learning.REGULARIZATION, Mode.INDEPENDENT, zero)
    extra = torch.nn.functional.normalize(torch.randn(7, problem.x.shape[1], dtype=torch.float64), dim=-1)
    bigger = _Problem(torch.cat([problem.x, extra]), torch.cat([problem.target, torch.ones(7, len(columns))]),
                      torch.cat([problem.weight, torch.zeros(7, len(columns))]), problem.positives, problem.negatives)
    zero = torch.zeros(bigger.x.shape[0], len(columns), dtype=torch.float64)
    w2, c2, _ = _fit_in_span(bigger, columns, w0, [], learning.REGULARIZATION, Mode.INDEPENDENT, zero)
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
