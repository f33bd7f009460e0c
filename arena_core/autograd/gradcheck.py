"""Finite-difference gradient checking for both engines (day 24; also used by tests).

Central differences approximate a partial derivative with error O(eps^2) from truncation plus
O(machine_eps / eps) from rounding:

    df/dx_i ~ (f(x + eps e_i) - f(x - eps e_i)) / (2 eps)

so in float64 eps ~ 1e-6 balances the two (error ~1e-10 relative). For a tensor-valued `f` we
check the scalar projection <v, f(x)> with a fixed random `v`, which tests the vector-Jacobian
product that backward computes (a full Jacobian check, as torch.autograd.gradcheck does, costs
n_out times more).
"""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from arena_core.autograd.grad_mode import no_grad
from arena_core.autograd.tensor import Tensor
from arena_core.autograd.value import Value


@dataclass(frozen=True)
class GradcheckResult:
    analytic: list[np.ndarray]
    numeric: list[np.ndarray]
    max_abs_error: float
    max_rel_error: float  # max |a - n| / max(max |a|, max |n|) per input, the worst input
    ok: bool


def _compare(analytic, numeric, atol: float, rtol: float) -> GradcheckResult:
    abs_err, rel_err, ok = 0.0, 0.0, True
    for a, n in zip(analytic, numeric, strict=True):
        diff = np.abs(a - n)
        abs_err = max(abs_err, float(diff.max(initial=0.0)))
        # relative to the gradient's largest entry: elementwise ratios blow up on entries that
        # are ~0 (e.g. 1e-7 with a harmless 1e-11 rounding difference)
        scale = max(float(np.abs(a).max(initial=0.0)), float(np.abs(n).max(initial=0.0)), 1e-12)
        rel_err = max(rel_err, float(diff.max(initial=0.0)) / scale)
        ok = ok and bool(np.allclose(a, n, atol=atol, rtol=rtol))
    return GradcheckResult(analytic, numeric, abs_err, rel_err, ok)


def numeric_grad(f: Callable[[list[np.ndarray]], float], arrays: list[np.ndarray], eps: float):
    """Central-difference gradient of scalar `f` with respect to each array (float64 copies)."""
    arrays = [np.array(a, dtype=np.float64) for a in arrays]
    grads = []
    for a in arrays:
        g = np.zeros_like(a)
        flat, gflat = a.reshape(-1), g.reshape(-1)
        for i in range(flat.size):
            orig = flat[i]
            flat[i] = orig + eps
            plus = f(arrays)
            flat[i] = orig - eps
            minus = f(arrays)
            flat[i] = orig
            gflat[i] = (plus - minus) / (2 * eps)
        grads.append(g)
    return grads


def gradcheck_tensor(
    f: Callable[..., Tensor],
    arrays: list[np.ndarray],
    eps: float = 1e-6,
    atol: float = 1e-6,
    rtol: float = 1e-5,
    seed: int = 0,
) -> GradcheckResult:
    """Compare our Tensor engine's backward of `f(*tensors)` with central differences (float64)."""
    arrays = [np.asarray(a, dtype=np.float64) for a in arrays]
    with no_grad():
        out_shape = f(*[Tensor(a) for a in arrays]).shape
    v = np.random.default_rng(seed).standard_normal(out_shape)  # random projection of the output

    def projected(arrs):
        with no_grad():
            return float((f(*[Tensor(a) for a in arrs]).data * v).sum())

    leaves = [Tensor(a.copy(), requires_grad=True) for a in arrays]
    f(*leaves).backward(v)
    analytic = [
        leaf.grad.data if leaf.grad is not None else np.zeros_like(leaf.data) for leaf in leaves
    ]
    return _compare(analytic, numeric_grad(projected, arrays, eps), atol, rtol)


def gradcheck_value(
    f: Callable[..., Value],
    xs: list[float],
    eps: float = 1e-6,
    atol: float = 1e-6,
    rtol: float = 1e-5,
) -> GradcheckResult:
    """Compare the Value engine's backward of scalar `f(*values)` with central differences."""
    leaves = [Value(x) for x in xs]
    f(*leaves).backward()
    analytic = [np.array([leaf.grad]) for leaf in leaves]
    numeric = numeric_grad(
        lambda arrs: f(*[Value(a[0]) for a in arrs]).data, [np.array([x]) for x in xs], eps
    )
    return _compare(analytic, numeric, atol, rtol)


def finite_difference_errors(
    f: Callable[[float], float],
    df: Callable[[float], float],
    x: float,
    eps_values,
    dtype=np.float64,
) -> dict[str, np.ndarray]:
    """|forward difference - f'(x)| and |central difference - f'(x)| for each eps, in `dtype`.

    Shows the V-shaped error curve: truncation error falls with eps (slope 1 for forward, 2 for
    central differences) until rounding error ~ machine_eps / eps takes over.
    """
    x_ = dtype(x)
    exact = df(x)
    forward, central = [], []
    for eps in eps_values:
        e = dtype(eps)
        forward.append(abs(float((dtype(f(x_ + e)) - dtype(f(x_))) / e) - exact))
        central.append(abs(float((dtype(f(x_ + e)) - dtype(f(x_ - e))) / (dtype(2) * e)) - exact))
    return {
        "eps": np.asarray(eps_values),
        "forward": np.array(forward),
        "central": np.array(central),
    }
