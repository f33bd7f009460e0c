"""Numerically stable logsumexp, softmax, log-softmax, cross-entropy, sigmoid and log-sigmoid.

The one trick behind all of them: for any constant m,

    log sum_i exp(x_i) = m + log sum_i exp(x_i - m),

and choosing m = max_i x_i makes every exponent <= 0, so nothing overflows and the largest term is
exactly exp(0) = 1, so the sum never underflows to 0 either. Naively, exp(1000) is inf in float32
and float64 alike, so logsumexp([1000, 1000, 1000, 1000]) would come out as inf instead of
1000 + log 4.

Conventions (the same as torch's built-ins, which the tests compare against):
- `dim` defaults to the last dimension; a row is the 1-D slice along `dim`.
- A row that is all -inf has logsumexp -inf (the log of an empty sum, 0). Its softmax and
  log-softmax are NaN, as in torch: every entry is 0/0 — there is no distribution to normalise.
- A row holding +inf has logsumexp +inf and NaN softmax / log-softmax (again as torch).
- Rows that mix -inf with finite values are fine: the -inf entries get probability exactly 0.
- An empty `dim` (size 0) gives logsumexp -inf (empty sum) and empty softmax outputs.

Used by day 3 (ARENA 0.0 prerequisites), and by every later day that computes a loss or samples.
"""

import torch
from jaxtyping import Float, Int
from torch import Tensor


def _safe_max(x: Tensor, dim: int, replace_posinf: bool = True) -> Tensor:
    """max along `dim` (kept), replaced by 0 where it is -inf (all -inf rows), +inf (when
    `replace_posinf`) or where the row is empty. Subtracting 0 there leaves the infinities alone,
    so logsumexp of an all -inf row is -inf and of a row holding +inf is +inf, as torch has it."""
    if x.shape[dim] == 0:
        shape = list(x.shape)
        shape[dim] = 1
        return x.new_zeros(shape)
    m = x.detach().amax(dim=dim, keepdim=True)
    bad = torch.isinf(m) if replace_posinf else m == -float("inf")
    return torch.where(bad, torch.zeros_like(m), m)


def logsumexp(
    x: Float[Tensor, "..."], dim: int = -1, keepdim: bool = False
) -> Float[Tensor, "..."]:
    """log(sum(exp(x), dim)) without overflow: m + log(sum(exp(x - m))) with m = max(x)."""
    m = _safe_max(x, dim)
    # m is a constant shift (detached): d/dx of the result is exp(x - lse) = softmax(x) exactly.
    # exp_ in place on the fresh tensor x - m saves one allocation (autograd supports it)
    out = m + torch.log((x - m).exp_().sum(dim=dim, keepdim=True))
    return out if keepdim else out.squeeze(dim)


def log_softmax(x: Float[Tensor, "..."], dim: int = -1) -> Float[Tensor, "..."]:
    """log softmax(x)_i = x_i - logsumexp(x); exact for huge logits, -inf where x_i = -inf."""
    # Shift by m, keeping m = +inf for a row holding +inf: then the row's log-normaliser is
    # log(NaN) and every entry comes out NaN, as in torch (not a misleading mix of NaN and -inf).
    shifted = x - _safe_max(x, dim, replace_posinf=False)
    return shifted - torch.log(torch.exp(shifted).sum(dim=dim, keepdim=True))


def softmax(x: Float[Tensor, "..."], dim: int = -1) -> Float[Tensor, "..."]:
    """softmax(x)_i = exp(x_i - m) / sum_j exp(x_j - m) with m = max(x); NaN for all -inf rows."""
    # a +inf logit makes the row inf/inf = NaN everywhere (keep +inf in m, as torch does)
    e = (x - _safe_max(x, dim, replace_posinf=False)).exp_()
    return e / e.sum(dim=dim, keepdim=True)


def cross_entropy(
    logits: Float[Tensor, "*batch classes"],
    targets: Int[Tensor, "*batch"] | Float[Tensor, "*batch classes"],
    ignore_index: int = -100,
    reduction: str = "mean",
) -> Float[Tensor, "..."]:
    """Cross-entropy -sum_c p_c log q_c with q = softmax(logits) over the LAST dim.

    `targets` is either class indices (`*batch`, integer; entries equal to `ignore_index` are left
    out of the sum and of the mean's denominator) or a probability per class (`*batch classes`).
    `reduction` is "mean" (over the kept batch entries), "sum" or "none".

    A target class whose predicted probability is 0 (logit -inf) costs +inf, as it should: the
    model said "impossible" and it happened. For probability targets we use the convention
    0 * log 0 = 0, so classes with target probability 0 contribute nothing even when q_c = 0.
    """
    if targets.is_floating_point():
        logq = log_softmax(logits, dim=-1)
        if targets.shape != logits.shape:
            raise ValueError(f"probability targets {tuple(targets.shape)} must match logits shape")
        terms = torch.where(targets > 0, targets * logq, torch.zeros_like(logq))
        losses = -terms.sum(dim=-1)
        keep = torch.ones_like(losses, dtype=torch.bool)
    else:
        if targets.shape != logits.shape[:-1]:
            raise ValueError(
                f"index targets {tuple(targets.shape)} must match logits batch shape "
                f"{tuple(logits.shape[:-1])}"
            )
        keep = targets != ignore_index
        # ignored entries read class 0 (any valid index) and are zeroed right after
        safe = torch.where(keep, targets, torch.zeros_like(targets))
        # -log q_t = logsumexp(logits) - logits_t: no need to build the whole log-softmax
        picked = logits.gather(-1, safe.unsqueeze(-1)).squeeze(-1)
        losses = torch.where(keep, logsumexp(logits, dim=-1) - picked, torch.zeros_like(picked))
    if reduction == "none":
        return losses
    if reduction == "sum":
        return losses.sum()
    if reduction == "mean":
        # an empty batch or all-ignored batch gives 0/0 = NaN, as torch does
        return losses.sum() / keep.sum().to(losses.dtype)
    raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def sigmoid(x: Float[Tensor, "..."]) -> Float[Tensor, "..."]:
    """1 / (1 + exp(-x)), evaluated with z = exp(-|x|) <= 1 so neither branch overflows."""
    z = torch.exp(-x.abs())
    return torch.where(x >= 0, 1 / (1 + z), z / (1 + z))


def log_sigmoid(x: Float[Tensor, "..."]) -> Float[Tensor, "..."]:
    """log sigmoid(x) = -softplus(-x) = min(x, 0) - log1p(exp(-|x|)); exact for x = -1000."""
    return torch.clamp(x, max=0) - torch.log1p(torch.exp(-x.abs()))
