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

Speed. torch's softmax family is one fused kernel that reads each row once; ours is a few
whole-tensor passes (max, subtract, exp, sum, normalise), so the work is to make each pass cheap:
- exp(y) is computed as 2 ** (y * log2 e) with `exp2_`: torch's CPU exp2 kernel measured ~3.5x
  faster than its exp (float32, torch 2.14), and the scaling costs one in-place multiply. Rounding
  y * log2 e adds a relative error of at most |y| * 2^-24 to exp(y) in float32: 2e-7 near the
  max, 4e-6 at y = -70 (a probability of 4e-31); the tests bound it against a float64 reference.
- Every pass after the first subtraction works in place on a tensor we just allocated, never on
  the caller's input. Under autograd that stays safe except where a tensor is saved for the
  backward pass: `exp2_` saves its output, so `softmax` normalises in place, and `log_softmax`
  reuses its exponentials' buffer for the output, only when autograd is not recording.

Used by day 3 (ARENA 0.0 prerequisites), and by every later day that computes a loss or samples.
"""

import torch
from jaxtyping import Float, Int
from torch import Tensor

LOG2_E = 1.4426950408889634  # log2(e): exp(y) = 2 ** (y * log2 e)


def _safe_max(x: Tensor, dim: int, replace_posinf: bool = True) -> Tensor:
    """max along `dim` (kept), replaced by 0 where it is -inf (all -inf rows), +inf (when
    `replace_posinf`) or where the row is empty. Subtracting 0 there leaves the infinities alone,
    so logsumexp of an all -inf row is -inf and of a row holding +inf is +inf, as torch has it."""
    if x.shape[dim] == 0:
        shape = list(x.shape)
        shape[dim] = 1
        return x.new_zeros(shape)
    # amax of the detached input is a fresh tensor: fixing it up in place touches nothing else
    m = x.detach().amax(dim=dim, keepdim=True)
    return m.masked_fill_(torch.isinf(m) if replace_posinf else m == -float("inf"), 0.0)


def _exp_(t: Tensor) -> Tensor:
    """exp(t) = 2 ** (t * log2 e), in place. Only for a fresh intermediate that we own: the
    multiply by a constant saves nothing for autograd, and `exp2_` saves its own output."""
    return t.mul_(LOG2_E).exp2_()


def _shift_and_log_norm(x: Tensor, dim: int, replace_posinf: bool) -> tuple[Tensor, Tensor]:
    """(m, log sum_j exp(x_j - m)) along `dim`, both kept; logsumexp(x) = m + the second."""
    m = _safe_max(x, dim, replace_posinf)
    # m is a constant shift (detached): the gradient of the sum flows through x only, and
    # d/dx of m + log_norm is exp(x - lse) = softmax(x) exactly.
    return m, _exp_(x - m).sum(dim=dim, keepdim=True).log()


def logsumexp(
    x: Float[Tensor, "..."], dim: int = -1, keepdim: bool = False
) -> Float[Tensor, "..."]:
    """log(sum(exp(x), dim)) without overflow: m + log(sum(exp(x - m))) with m = max(x)."""
    m, log_norm = _shift_and_log_norm(x, dim, replace_posinf=True)
    out = m + log_norm
    return out if keepdim else out.squeeze(dim)


def log_softmax(x: Float[Tensor, "..."], dim: int = -1) -> Float[Tensor, "..."]:
    """log softmax(x)_i = x_i - logsumexp(x); exact for huge logits, -inf where x_i = -inf."""
    # Shift by m, keeping m = +inf for a row holding +inf: then the row's log-normaliser is
    # log(NaN) and every entry comes out NaN, as in torch (not a misleading mix of NaN and -inf).
    m = _safe_max(x, dim, replace_posinf=False)
    shifted = x - m
    # Return (x - m) - log_norm rather than x - (m + log_norm): x - m is exact for the entries
    # near the max, so a log-probability near 0 keeps its digits even when the logits are ~1000.
    if shifted.requires_grad:
        # autograd is recording: exponentiate a copy (exp2_ saves it for the backward pass);
        # nothing saved `shifted` (the multiply saves only log2 e), so it may change in place.
        log_norm = (shifted * LOG2_E).exp2_().sum(dim=dim, keepdim=True).log()
        return shifted.sub_(log_norm)
    # No autograd: one full-size buffer serves twice, first for the exponentials, then for the
    # output (x - m recomputed into it). A second full-size temporary would cost more than the
    # extra subtraction: a fresh allocation this large is page-faulted in again on every call
    # whenever the allocator has handed the memory back to the OS.
    log_norm = _exp_(shifted).sum(dim=dim, keepdim=True).log_()
    return torch.sub(x, m, out=shifted).sub_(log_norm)


def softmax(x: Float[Tensor, "..."], dim: int = -1) -> Float[Tensor, "..."]:
    """softmax(x)_i = exp(x_i - m) / sum_j exp(x_j - m) with m = max(x); NaN for all -inf rows."""
    # a +inf logit makes the row inf/inf = NaN everywhere (keep +inf in m, as torch does)
    e = _exp_(x - _safe_max(x, dim, replace_posinf=False))
    total = e.sum(dim=dim, keepdim=True)
    if e.requires_grad:
        # autograd is recording (grad mode on and x requires grad): exp2_ saved e to compute its
        # gradient, so e must not be overwritten; divide out of place.
        return e / total
    # otherwise normalise in place: one reciprocal per row and a multiply per entry is cheaper
    # than a divide per entry. An all -inf row gives 0 * (1 / 0) = NaN, as torch.
    return e.mul_(total.reciprocal_())


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
        terms = torch.where(targets > 0, targets * logq, 0.0)  # no full-size zeros tensor
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
        # -log q_t = logsumexp(logits) - logits_t = (m - logits_t) + log sum_j exp(logits_j - m):
        # one row-sum of exponentials, no need to build the whole log-softmax. m - logits_t first
        # keeps a small loss exact when the logits are large (m + log_norm would round to m's
        # ulp). m keeps +inf, so a row holding +inf gives log_norm = NaN and a NaN loss, as torch.
        picked = logits.gather(-1, safe.unsqueeze(-1))
        m, log_norm = _shift_and_log_norm(logits, -1, replace_posinf=False)
        loss = ((m - picked) + log_norm).squeeze(-1)
        losses = torch.where(keep, loss, torch.zeros_like(loss))
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
