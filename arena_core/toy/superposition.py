"""The toy model of superposition: ReLU(WᵀW x + b), many instances trained at once (day 64).

Elhage et al. (2022), "Toy Models of Superposition", compress `n` features into `d < n` hidden
dimensions with a tied linear map and read them back through a ReLU:

    h = W x            W: [d, n], one column W_i per feature
    x' = ReLU(Wᵀ h + b) = ReLU(Σ_j (W_i · W_j) x_j + b_i)   for each output i

Output i receives its own feature with weight ‖W_i‖² and every other feature j with the
*interference* weight W_i · W_j; the negative bias and the ReLU can cut interference away when it is
rare, which is why sparse features end up sharing directions (superposition). Features are
uniform in [0, 1) when present, present with probability p ("feature probability", 1 − sparsity),
and the loss weights feature i by its importance I_i:  L = E_x Σ_i I_i (x_i − x'_i)².

`ToyModel` holds `n_instances` independent models (W `[inst d n]`, b `[inst n]`), so a whole sweep
over sparsity or importance is one vectorised training: the total loss is the *sum* of the
per-instance losses, so every instance gets exactly the gradient it would get alone, and Adam's
state is element-wise, so the optimiser does not couple instances either (tested against one model
per instance). `dimensionality` is the paper's per-feature fraction of a dimension,

    D_i = ‖W_i‖² / Σ_j (Ŵ_i · W_j)²,

1 for a feature with its own direction, 1/2 for an antipodal pair, 2/5 in a pentagon.
"""

import torch
from jaxtyping import Float, Int
from torch import Tensor, nn

from arena_core.errors import UserError
from arena_core.utils.progress import progress


class SuperpositionInputError(UserError, ValueError):
    """A toy-model shape, probability or setting that cannot work (the message says which)."""


class ToyModel(nn.Module):
    """`n_instances` independent ReLU output models, x' = ReLU(x Wᵀ W + b), run in one einsum."""

    def __init__(
        self,
        n_instances: int,
        n_features: int,
        d_hidden: int,
        generator: torch.Generator | None = None,
    ):
        super().__init__()
        if min(n_instances, n_features, d_hidden) < 1:
            raise SuperpositionInputError(
                f"ToyModel needs positive sizes, got {n_instances=}, {n_features=}, {d_hidden=}"
            )
        # Xavier-normal per instance: std sqrt(2 / (fan_in + fan_out))
        std = (2.0 / (n_features + d_hidden)) ** 0.5
        w = torch.randn(n_instances, d_hidden, n_features, generator=generator) * std
        self.W = nn.Parameter(w)
        self.b = nn.Parameter(torch.zeros(n_instances, n_features))

    @property
    def n_instances(self) -> int:
        return self.W.shape[0]

    @property
    def n_features(self) -> int:
        return self.W.shape[2]

    @property
    def d_hidden(self) -> int:
        return self.W.shape[1]

    @classmethod
    def from_weights(cls, W: Float[Tensor, "..."], b: Float[Tensor, "..."]) -> "ToyModel":
        """A model holding copies of W `[inst d n]` and b `[inst n]` (e.g. one of a batch)."""
        if W.ndim != 3 or b.shape != (W.shape[0], W.shape[2]):
            raise SuperpositionInputError(
                f"W must be [inst d n] and b [inst n], got {tuple(W.shape)} and {tuple(b.shape)}"
            )
        model = cls(W.shape[0], W.shape[2], W.shape[1])
        with torch.no_grad():
            model.W.data = W.detach().clone()
            model.b.data = b.detach().clone()
        return model

    def hidden(self, x: Float[Tensor, "batch inst n"]) -> Float[Tensor, "batch inst d"]:
        """h = W x for every instance."""
        self._check_input(x)
        return torch.einsum("bin,idn->bid", x, self.W)

    def forward(self, x: Float[Tensor, "batch inst n"]) -> Float[Tensor, "batch inst n"]:
        h = self.hidden(x)
        # x'_i = ReLU(W_iᵀ h + b_i) = ReLU(Σ_j (W_i·W_j) x_j + b_i)
        return torch.relu(torch.einsum("bid,idn->bin", h, self.W) + self.b)

    def _check_input(self, x: Tensor) -> None:
        if x.ndim != 3 or x.shape[1:] != (self.n_instances, self.n_features):
            raise SuperpositionInputError(
                f"input must be [batch, {self.n_instances} instances, {self.n_features} features],"
                f" got {tuple(x.shape)}"
            )


def _as_instance_features(
    value: float | Tensor, n_instances: int, n_features: int, name: str
) -> Float[Tensor, "inst n"]:
    """Broadcast a scalar, `[n]`, `[inst]` or `[inst n]` setting to `[inst n]`."""
    t = torch.as_tensor(value, dtype=torch.float32)
    if t.ndim == 1 and t.shape[0] == n_instances and t.shape[0] != n_features:
        t = t[:, None]  # one value per instance
    try:
        return torch.broadcast_to(t, (n_instances, n_features)).clone()
    except RuntimeError:
        raise SuperpositionInputError(
            f"{name} must be a scalar, [n_features], [n_instances] or [n_instances, n_features]"
            f" = [{n_instances}, {n_features}], got shape {tuple(t.shape)}"
        ) from None


def generate_batch(
    batch_size: int,
    feature_probability: Float[Tensor, "..."],
    n_correlated_pairs: int = 0,
    n_anticorrelated_pairs: int = 0,
    generator: torch.Generator | None = None,
) -> Float[Tensor, "batch inst n"]:
    """Sparse features `[batch inst n]`: uniform in [0, 1) when present, 0 otherwise.

    Features come in this order: `n_correlated_pairs` pairs (both present or both absent, with the
    pair's probability p), then `n_anticorrelated_pairs` pairs (never both present, each present
    with probability p, so p ≤ 1/2), then independent features. Every feature's marginal
    probability of being present is its entry of `feature_probability`; the two features of a
    pair must share it.
    """
    p = feature_probability
    if p.ndim != 2:
        raise SuperpositionInputError(f"feature_probability must be [inst n], got {tuple(p.shape)}")
    if batch_size < 1:
        raise SuperpositionInputError(f"batch_size must be positive, got {batch_size}")
    if not bool(((p >= 0) & (p <= 1)).all()):
        raise SuperpositionInputError("feature probabilities must lie in [0, 1]")
    n_inst, n = p.shape
    n_paired = 2 * (n_correlated_pairs + n_anticorrelated_pairs)
    if min(n_correlated_pairs, n_anticorrelated_pairs) < 0 or n_paired > n:
        raise SuperpositionInputError(
            f"{n_correlated_pairs} correlated + {n_anticorrelated_pairs} anti-correlated pairs need"
            f" {n_paired} features, the model has {n}"
        )
    first = torch.arange(0, n_paired, 2)
    if not torch.equal(p[:, first], p[:, first + 1]):
        raise SuperpositionInputError("the two features of a pair need the same probability")
    anti = first[n_correlated_pairs:]
    if bool((p[:, anti] > 0.5).any()):
        raise SuperpositionInputError(
            "anti-correlated pairs need feature probability ≤ 0.5 (never both present)"
        )
    values = torch.rand(batch_size, n_inst, n, generator=generator)
    u = torch.rand(batch_size, n_inst, n, generator=generator)
    present = u < p
    corr = first[:n_correlated_pairs]
    present[..., corr + 1] = present[..., corr]
    # one uniform r per anti-correlated pair: first present if r < p, second if p ≤ r < 2p
    r, pa = u[..., anti], p[:, anti]
    present[..., anti] = r < pa
    present[..., anti + 1] = (r >= pa) & (r < 2 * pa)
    return values * present


def importance_weighted_loss(
    out: Float[Tensor, "..."],
    x: Float[Tensor, "..."],
    importance: Float[Tensor, "..."],
) -> Float[Tensor, " inst"]:
    """Per-instance loss  E_batch Σ_i I_i (x_i − x'_i)²  (Elhage et al. 2022, §2)."""
    if out.shape != x.shape or x.shape[1:] != importance.shape:
        raise SuperpositionInputError(
            f"shapes do not match: out {tuple(out.shape)}, x {tuple(x.shape)},"
            f" importance {tuple(importance.shape)} (want [batch inst n] twice and [inst n])"
        )
    return (importance * (x - out) ** 2).sum(-1).mean(0)


def train_toy_model(
    model: ToyModel,
    feature_probability: float | Tensor,
    importance: float | Tensor = 1.0,
    steps: int = 3000,
    batch_size: int = 1024,
    lr: float = 1e-3,
    n_correlated_pairs: int = 0,
    n_anticorrelated_pairs: int = 0,
    generator: torch.Generator | None = None,
    sample=None,
    desc: str = "toy model",
) -> Float[Tensor, "steps inst"]:
    """Train every instance at once with Adam; returns the per-instance loss of every step.

    `feature_probability` and `importance` are scalars, `[n]`, `[inst]` or `[inst n]`. The batch
    of step t comes from `generate_batch` with `generator`, or from `sample(t)` when given (a
    fixed data stream, which is how the tests compare n instances with n single models). The
    learning rate decays linearly to lr/10 over the last half of training so the weights settle.
    """
    if steps < 1 or lr <= 0:
        raise SuperpositionInputError(f"need steps ≥ 1 and lr > 0, got {steps=}, {lr=}")
    n_inst, n = model.n_instances, model.n_features
    p = _as_instance_features(feature_probability, n_inst, n, "feature_probability")
    imp = _as_instance_features(importance, n_inst, n, "importance")
    p, imp = p.to(model.W.device), imp.to(model.W.device, model.W.dtype)
    optimiser = torch.optim.Adam(model.parameters(), lr=lr)
    half = steps // 2
    losses = torch.empty(steps, n_inst)
    for step in progress(range(steps), desc=desc):
        frac = max(0, step - half) / max(1, steps - half)
        for group in optimiser.param_groups:
            group["lr"] = lr * (1.0 - 0.9 * frac)
        if sample is None:
            x = generate_batch(batch_size, p.cpu(), n_correlated_pairs, n_anticorrelated_pairs,
                               generator)  # fmt: skip
        else:
            x = sample(step)
        x = x.to(model.W.device, model.W.dtype)
        loss = importance_weighted_loss(model(x), x, imp)
        optimiser.zero_grad()
        loss.sum().backward()  # a sum keeps each instance's gradient its own
        optimiser.step()
        losses[step] = loss.detach().cpu()
    return losses


@torch.no_grad()
def evaluate_loss(
    model: ToyModel,
    feature_probability: float | Tensor,
    importance: float | Tensor = 1.0,
    n_samples: int = 20_000,
    n_correlated_pairs: int = 0,
    n_anticorrelated_pairs: int = 0,
    generator: torch.Generator | None = None,
) -> Float[Tensor, " inst"]:
    """Each instance's loss on one large fresh batch (to compare replicas fairly)."""
    n_inst, n = model.n_instances, model.n_features
    p = _as_instance_features(feature_probability, n_inst, n, "feature_probability")
    imp = _as_instance_features(importance, n_inst, n, "importance")
    x = generate_batch(n_samples, p, n_correlated_pairs, n_anticorrelated_pairs, generator)
    x = x.to(model.W.device, model.W.dtype)
    return importance_weighted_loss(model(x), x, imp.to(x)).cpu()


def best_replicas(loss: Float[Tensor, " inst"], n_replicas: int) -> Int[Tensor, " settings"]:
    """Indices of the lowest-loss instance in each block of `n_replicas` consecutive instances.

    Small models often stop in a local minimum; training a few replicas of every setting and
    keeping the best is how Elhage et al. report their sweeps.
    """
    if n_replicas < 1 or loss.ndim != 1 or loss.shape[0] % n_replicas:
        raise SuperpositionInputError(
            f"{loss.shape[0]} instances do not split into blocks of {n_replicas} replicas"
        )
    blocks = loss.view(-1, n_replicas)
    return blocks.argmin(1) + torch.arange(blocks.shape[0]) * n_replicas


def dimensionality(W: Float[Tensor, "..."]) -> Float[Tensor, "..."]:
    """D_i = ‖W_i‖² / Σ_j (Ŵ_i · W_j)² per column W_i of W `[..., d, n]`; 0 for a zero column."""
    if W.ndim < 2:
        raise SuperpositionInputError(f"W must be [..., d, n], got shape {tuple(W.shape)}")
    sq_norms = (W**2).sum(-2)  # [..., n]
    unit = W / sq_norms.sqrt().clamp_min(1e-12).unsqueeze(-2)
    overlaps = torch.einsum("...di,...dj->...ij", unit, W)  # Ŵ_i · W_j
    denom = (overlaps**2).sum(-1)
    return torch.where(sq_norms > 1e-12, sq_norms / denom.clamp_min(1e-24), torch.zeros_like(denom))


#: Codes of `two_feature_regime`, and their names in figures.
REGIMES = {0: "not represented", 1: "dedicated dimension", 2: "superposition"}


def two_feature_regime(W: Float[Tensor, "..."], threshold: float = 0.5) -> Int[Tensor, " inst"]:
    """What happened to feature 2 in 2-features-in-1-dimension models W `[inst 1 2]` (§3).

    0: ‖W_2‖ < threshold (dropped); 1: feature 2 kept and feature 1 dropped (a dimension of its
    own); 2: both kept, necessarily on one line (in 1-D, superposition means an antipodal pair).
    """
    if W.ndim != 3 or W.shape[1:] != (1, 2):
        raise SuperpositionInputError(f"W must be [inst 1 2], got shape {tuple(W.shape)}")
    norms = W.abs()[:, 0, :]
    kept2, kept1 = norms[:, 1] >= threshold, norms[:, 0] >= threshold
    return torch.where(~kept2, 0, torch.where(kept1, 2, 1))
