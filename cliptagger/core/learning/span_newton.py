"""Exact, fast fits of independent (binary) heads whose labels have few examples.

A binary head's problem (``learning`` module docstring) for one label j with examples
``X_j`` (k rows, each ``[x, 1]``), targets y and weights a is

    min_theta  sum_i a_i * logloss(y_i, b_i + X_j[i] . theta)  +  lambda/2 * ||theta||^2

with ``b = X_j . [W0_j, 0]`` the zero-shot logits and ``theta = [W_j - W0_j, c_j]``. Its
gradient is ``X_j^T g + lambda theta``, so the minimum lies in the span of the label's own
examples: ``theta = X_j^T alpha`` (the representer theorem). With the Gram matrix
``G = X_j X_j^T`` the logits are ``b + G alpha``, and Newton's step in theta-space,
``(X_j^T D X_j + lambda I) dtheta = -(X_j^T g + lambda theta)``, is exactly
``dtheta = X_j^T dalpha`` with

    (D G + lambda I) dalpha = -(g + lambda alpha),     D = diag(a * p * (1 - p)).

So a label with k examples is solved exactly by Newton on k unknowns instead of L-BFGS on
``dim + 1``: a few iterations of a k x k solve, all labels (and every held-out fold) in one
batch. That is the usual case for decisions made in review (a few hundred per label); a
label with thousands of examples (a library's own keywords) is left to L-BFGS in the full
space, where a k x k solve would cost more than it saves.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

#: Newton iterations at most (it converges quadratically: typically 6 to 10).
MAX_NEWTON = 40
ARMIJO = 1e-4


@dataclass
class SpanProblems:
    """A batch of independent binary problems, padded to the same number of examples k.

    Padding rows have weight 0 and zero rows and columns in ``gram``; a row with weight 0
    (padding, or a photo held out of this fold) gets alpha 0 and does not move the fit."""

    gram: Any       # (B, k, k) float64: X_j X_j^T with the bias column
    base: Any       # (B, k) zero-shot logits
    target: Any     # (B, k) 1 / 0
    weight: Any     # (B, k) example weights, 0 for padding and held-out rows


def _value(gram: Any, base: Any, target: Any, weight: Any, alpha: Any, regularization: float) -> Any:
    import torch

    kernel_alpha = (gram @ alpha[..., None])[..., 0]
    logits = base + kernel_alpha
    loss = weight * (torch.nn.functional.softplus(logits) - target * logits)
    return loss.sum(-1) + 0.5 * regularization * (alpha * kernel_alpha).sum(-1)


def newton_steps(curvature: Any, gram32: Any, residual: Any, kernel_residual: Any,
                 regularization: float) -> tuple[Any, Any]:
    """Solve ``(D G + lambda I) step = -r`` for a batch, by Cholesky: (steps, failed mask).

    ``D G + lambda I`` is not symmetric, and a batched LU of it on several threads has been
    seen to fail inside oneMKL ("Parameter 6 was incorrect on entry to SLASWP", then
    "Pivots given to lu_solve must all be greater or equal to 1", on a (33, 200, 200)
    float32 batch with 2 threads). With ``d = sqrt(D)`` and Woodbury,

        (lambda I + D G)^-1 = (I - d M^-1 d G) / lambda,   M = d G d + lambda I,

    and M is symmetric positive definite (eigenvalues >= lambda), so its Cholesky factor
    exists. It is taken in float32 (half the cost), problems whose factor fails there again
    in float64; a problem that fails both (or gives a non-finite step) is reported in the
    mask with a zero step, never raised, so the caller can keep zero-shot for that label.
    """
    import torch

    d = curvature.clamp_min(0).sqrt()
    d32 = d.float()
    m = d32[..., :, None] * gram32 * d32[..., None, :]
    m.diagonal(dim1=-2, dim2=-1).add_(regularization)
    rhs = (d * kernel_residual)[..., None]
    factor, info = torch.linalg.cholesky_ex(m)
    solved = torch.cholesky_solve(rhs.float(), factor).double()
    retry = (info != 0) | ~torch.isfinite(solved).all(dim=(-2, -1))
    if bool(retry.any()):
        m64 = d[retry][..., :, None] * gram32[retry].double() * d[retry][..., None, :]
        m64.diagonal(dim1=-2, dim2=-1).add_(regularization)
        factor64, info64 = torch.linalg.cholesky_ex(m64)
        solved[retry] = torch.cholesky_solve(rhs[retry], factor64)
        still = torch.zeros_like(retry)
        still[retry] = info64 != 0
        retry = still
    step = -(residual - d * solved[..., 0]) / regularization
    failed = retry | ~torch.isfinite(step).all(dim=-1)
    return torch.where(failed[:, None], torch.zeros_like(step), step), failed


def solve(problems: SpanProblems, regularization: float, start: Any = None,
          tolerance: float = 1e-7) -> tuple[Any, Any]:
    """(alpha (B, k), failed (B,) bool): every problem of the batch minimized (damped Newton,
    per-problem steps); ``failed`` marks problems whose Newton system could not be solved
    (``newton_steps``); their alpha is where they stopped and must not be used.

    Stops when every problem's theta-gradient norm ``sqrt(r^T G r)``, r = g + lambda alpha,
    is below ``tolerance`` times its total weight, or after ``MAX_NEWTON`` iterations. Only
    the problems not converged yet are worked on (most converge in a few iterations, a few
    take twice as many). The k x k systems are factored in float32, which halves their cost:
    the residual is float64, so an inexact step only slows the last digits, not the answer.
    """
    import torch

    gram, base, target, weight = problems.gram, problems.base, problems.target, problems.weight
    batch, k = base.shape
    alpha = torch.zeros(batch, k, dtype=torch.float64) if start is None else start.clone()
    failed = torch.zeros(batch, dtype=torch.bool)
    gram32 = gram.float()
    limit = tolerance * weight.sum(-1).clamp_min(1.0)
    active = torch.arange(batch)
    value = _value(gram, base, target, weight, alpha, regularization)
    g, g32, b, y, a, lim = gram, gram32, base, target, weight, limit  # the active problems' data
    for _ in range(MAX_NEWTON):
        x = alpha[active]
        p = torch.sigmoid(b + (g @ x[..., None])[..., 0])
        residual = a * (p - y) + regularization * x
        kernel_residual = (g @ residual[..., None])[..., 0]
        norm = (residual * kernel_residual).sum(-1).clamp_min(0).sqrt()
        broken = ~torch.isfinite(norm)  # NaN compares False: it must not read as converged
        failed[active[broken]] = True
        still = (norm > lim) & ~broken
        if not bool(still.all()):  # compact once per shrink, not every iteration
            active, g, g32, b, y, a, lim, x, residual, kernel_residual, p = (
                t[still] for t in (active, g, g32, b, y, a, lim, x, residual, kernel_residual, p))
        if active.numel() == 0:
            break
        step, broken = newton_steps(a * p * (1 - p), g32, residual, kernel_residual, regularization)
        if bool(broken.any()):  # these stop here, reported; the others go on
            failed[active[broken]] = True
            keep = ~broken
            active, g, g32, b, y, a, lim, x, residual, kernel_residual, p, step = (
                t[keep] for t in (active, g, g32, b, y, a, lim, x, residual, kernel_residual, p, step))
            if active.numel() == 0:
                break
        slope = (kernel_residual * step).sum(-1)  # theta-gradient . dtheta  (< 0)
        current = value[active]
        size = torch.ones(active.numel(), dtype=torch.float64)
        for _ in range(30):  # backtracking per problem; a full step is the rule near the minimum
            candidate = x + size[:, None] * step
            new_value = _value(g, b, y, a, candidate, regularization)
            ok = new_value <= current + ARMIJO * size * slope
            if bool(ok.all()):
                break
            size = torch.where(ok, size, size * 0.5)
        candidate = torch.where(ok[:, None], candidate, x)  # no decrease float64 can see: stay
        alpha[active], value[active] = candidate, torch.where(ok, new_value, current)
    return alpha, failed
