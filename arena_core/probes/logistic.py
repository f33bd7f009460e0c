"""L2-regularised logistic regression, fitted by Newton's method in float64 (days 39–44).

The probe of Alain & Bengio (2016) and of most probing papers. We minimise scikit-learn's
objective, so that the two can be compared on the same data with the same `C`:

    f(w, b) = C · Σᵢ log(1 + exp(−ỹᵢ (wᵀxᵢ + b))) + ½‖w‖²,     ỹᵢ = ±1,

with the intercept b not penalised. f is strictly convex, so Newton's method (IRLS),

    g = C Xᵀ(p − y) + [w; 0],   H = C Xᵀ diag(p(1 − p)) X + diag(1, …, 1, 0),   step = H⁻¹ g,

converges in a handful of full-batch steps; a backtracking line search keeps f decreasing when
the data are nearly separable and the first steps overshoot. One Newton step costs O(n d² + d³):
fine for d ≤ a few thousand (residual streams of 576 … 2048).

Used by days 39 (logistic vs mass-mean probes), 40 (coup probes), 41 (control tasks,
Hewitt & Liang 2019) and the layer sweeps in `arena_core.probes.sweeps`.
"""

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from jaxtyping import Float, Shaped
from torch import Tensor

from arena_core.probes.directions import ProbeInputError


@dataclass(frozen=True)
class LogisticProbe:
    """Fitted weights `coef [d]` and `intercept` (float64); `scores` are logits."""

    coef: Tensor
    intercept: Tensor
    n_iter: int
    converged: bool

    def scores(self, acts: Float[Tensor, "n d"]) -> Float[Tensor, " n"]:
        """Logit wᵀx + b of each row."""
        return acts.double() @ self.coef + self.intercept

    def predict_proba(self, acts: Float[Tensor, "n d"]) -> Float[Tensor, " n"]:
        return torch.sigmoid(self.scores(acts))

    def predict(self, acts: Float[Tensor, "n d"]) -> Tensor:
        return self.scores(acts) > 0

    def unit_direction(self) -> Float[Tensor, " d"]:
        return self.coef / self.coef.norm()


def _objective(x: Tensor, s: Tensor, theta: Tensor, c: float, penalised: Tensor) -> Tensor:
    # log(1 + exp(-s·z)) = softplus(-s·z), stable for large |z|
    return c * F.softplus(-s * (x @ theta)).sum() + 0.5 * (theta * penalised).square().sum()


def fit_logistic(
    acts: Float[Tensor, "n d"],
    labels: Shaped[Tensor, " n"],
    C: float = 1.0,
    fit_intercept: bool = True,
    max_iter: int = 100,
    tol: float = 1e-12,
) -> LogisticProbe:
    """Logistic regression with scikit-learn's objective (`C`, unpenalised intercept), by Newton.

    Stops when the Newton decrement λ²/2 = gᵀH⁻¹g/2 (the predicted decrease of f, quadratic
    convergence makes it a tight bound near the optimum) falls below `tol · max(1, f)`."""
    if C <= 0:
        raise ProbeInputError(f"C must be > 0, got {C}")
    if acts.dim() != 2 or labels.shape != acts.shape[:1]:
        raise ProbeInputError(f"activations {tuple(acts.shape)} and labels {tuple(labels.shape)}")
    y = labels.bool()
    if bool(y.all()) or not bool(y.any()):
        raise ProbeInputError("labels must contain both classes")
    x = acts.double()
    n, d = x.shape
    if fit_intercept:
        x = torch.cat([x, torch.ones(n, 1, dtype=x.dtype)], dim=1)
    penalised = torch.ones(x.shape[1], dtype=x.dtype)
    if fit_intercept:
        penalised[-1] = 0.0
    yf, s = y.double(), y.double() * 2 - 1
    theta = torch.zeros(x.shape[1], dtype=x.dtype)
    f = _objective(x, s, theta, C, penalised)
    converged, n_iter = False, 0
    for n_iter in range(1, max_iter + 1):  # noqa: B007 (the count is returned)
        p = torch.sigmoid(x @ theta)
        grad = C * x.T @ (p - yf) + penalised * theta
        w = p * (1 - p)
        hess = C * (x.T * w) @ x + torch.diag(penalised)
        # H is positive definite (the data term is PSD, the penalty adds 1 to each weight); the
        # intercept's curvature C·Σ p(1 − p) can underflow on separable data: a tiny jitter
        hess = hess + 1e-12 * torch.eye(x.shape[1], dtype=x.dtype)
        step = torch.linalg.solve(hess, grad)
        decrement = float(grad @ step) / 2
        if decrement <= tol * max(1.0, float(f)):
            theta = theta - step  # a last full step costs nothing and lands closer still
            converged = True
            break
        t = 1.0
        while True:  # backtracking (Armijo) line search on f
            new = theta - t * step
            f_new = _objective(x, s, new, C, penalised)
            if f_new <= f - 1e-4 * t * (grad @ step) or t < 1e-10:
                break
            t /= 2
        theta, f = new, f_new
    coef = theta[:d] if fit_intercept else theta
    intercept = theta[d] if fit_intercept else torch.zeros((), dtype=x.dtype)
    return LogisticProbe(coef.clone(), intercept.clone(), n_iter, converged)
