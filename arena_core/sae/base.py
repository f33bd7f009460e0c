"""The shape every sparse autoencoder here shares: encode, a sparse code, decode (days 45–48).

An SAE rewrites an activation x ∈ R^d as a sparse non-negative code f ∈ R^m (m > d) and a linear
read-out of it (Bricken et al. 2023, "Towards Monosemanticity"; Cunningham et al. 2023):

    pre  = (x − b_dec) W_enc + b_enc            W_enc [d_in d_sae], b_enc [d_sae]
    f    = σ(pre)                               σ: ReLU, TopK or JumpReLU (one file each)
    x̂    = f W_dec + b_dec                      W_dec [d_sae d_out], b_dec [d_out]

Training minimises ‖x̂ − x‖² (summed over the d_out coordinates, averaged over the batch) plus a
sparsity term that each architecture defines (`sparsity_loss`). Parameter names and the
subtraction of `b_dec` from the input follow SAELens (`apply_b_dec_to_input`), so weights move
between the two without renaming (`saelens.py`). A transcoder (`transcoder.py`) is the same
module with a different target: it reads the MLP input and predicts the MLP output.

Rows of `W_dec` are the features' directions in activation space. `normalize_decoder` rescales
them to unit norm and `remove_parallel_grad` projects out the gradient component that would
only change a row's length (the constraint of Bricken et al. 2023).
"""

from dataclasses import dataclass

import torch
from jaxtyping import Float
from torch import Tensor, nn

from arena_core.errors import UserError


class SAEError(UserError, ValueError):
    """A bad SAE configuration or an input that does not fit the SAE."""


@dataclass(frozen=True)
class SAEConfig:
    """Sizes and hyper-parameters. `d_out` defaults to `d_in` (an autoencoder); a transcoder sets
    it to the MLP's output width. `l1_coeff` is used by ReLU, `k` by TopK, `threshold` (initial
    value) / `bandwidth` / `l0_coeff` by JumpReLU."""

    d_in: int
    d_sae: int
    d_out: int | None = None
    l1_coeff: float = 1.0
    k: int = 8
    threshold: float = 0.01
    bandwidth: float = 0.05
    l0_coeff: float = 1.0
    aux_coeff: float = 0.0  # TopK's AuxK loss weight (Gao et al. use 1/32; 0 turns it off)
    apply_b_dec_to_input: bool = True

    def __post_init__(self):
        for name in ("d_in", "d_sae", "k"):
            if int(getattr(self, name)) < 1:
                raise SAEError(f"{name} must be a positive integer, got {getattr(self, name)}")
        if self.d_out is not None and self.d_out < 1:
            raise SAEError(f"d_out must be positive, got {self.d_out}")
        coeffs = (self.l1_coeff, self.l0_coeff, self.aux_coeff)
        if min(coeffs) < 0 or self.bandwidth <= 0 or self.threshold <= 0:
            raise SAEError("coefficients must be >= 0 and threshold / bandwidth > 0")

    @property
    def out(self) -> int:
        return self.d_in if self.d_out is None else self.d_out


@dataclass
class SAEOutput:
    """One forward pass: reconstruction, code, pre-activations and the loss terms."""

    recon: Tensor
    feats: Tensor
    pre: Tensor
    mse: Tensor
    sparsity: Tensor

    @property
    def loss(self) -> Tensor:
        return self.mse + self.sparsity


class SAE(nn.Module):
    """Base class; subclasses set `architecture` and implement `activation` and `sparsity_loss`."""

    architecture = "base"

    def __init__(self, cfg: SAEConfig, seed: int | None = 0):
        super().__init__()
        self.cfg = cfg
        gen = torch.Generator().manual_seed(seed) if seed is not None else None
        # decoder rows: random unit directions; encoder starts as the decoder's transpose
        # (Conerly et al. 2024 / Gao et al. 2024 initialisation), which needs d_out == d_in
        w_dec = torch.randn(cfg.d_sae, cfg.out, generator=gen)
        w_dec = w_dec / w_dec.norm(dim=1, keepdim=True)
        w_enc = (
            w_dec.T.clone()
            if cfg.out == cfg.d_in
            else torch.randn(cfg.d_in, cfg.d_sae, generator=gen) / cfg.d_in**0.5
        )
        self.W_enc = nn.Parameter(w_enc)
        self.b_enc = nn.Parameter(torch.zeros(cfg.d_sae))
        self.W_dec = nn.Parameter(w_dec)
        self.b_dec = nn.Parameter(torch.zeros(cfg.out))

    # -- the three steps -------------------------------------------------------------------
    def pre_acts(self, x: Float[Tensor, "*batch d_in"]) -> Float[Tensor, "*batch d_sae"]:
        if x.shape[-1] != self.cfg.d_in:
            raise SAEError(f"input has width {x.shape[-1]}, the SAE expects d_in = {self.cfg.d_in}")
        if self.cfg.apply_b_dec_to_input:
            x = x - self.b_dec
        return x @ self.W_enc + self.b_enc

    def activation(self, pre: Tensor) -> Tensor:
        raise NotImplementedError

    def sparsity_loss(self, feats: Tensor, pre: Tensor) -> Tensor:
        raise NotImplementedError

    def aux_loss(self, out: SAEOutput, target: Tensor, dead: Tensor) -> Tensor:
        """An extra training loss that uses the dead-latent mask (TopK's AuxK); none here."""
        return out.mse.new_zeros(())

    def encode(self, x: Float[Tensor, "*batch d_in"]) -> Float[Tensor, "*batch d_sae"]:
        return self.activation(self.pre_acts(x))

    def decode(self, feats: Float[Tensor, "*batch d_sae"]) -> Float[Tensor, "*batch d_out"]:
        return feats @ self.W_dec + self.b_dec

    def forward(self, x: Float[Tensor, "*batch d_in"]) -> Float[Tensor, "*batch d_out"]:
        return self.decode(self.encode(x))

    def run(self, x: Tensor, target: Tensor | None = None) -> SAEOutput:
        """Forward pass with the training loss; `target` defaults to `x` (autoencoder)."""
        target = x if target is None else target
        if target.shape[-1] != self.cfg.out:
            raise SAEError(f"target has width {target.shape[-1]}, expected {self.cfg.out}")
        pre = self.pre_acts(x)
        feats = self.activation(pre)
        recon = self.decode(feats)
        mse = (recon - target).pow(2).sum(-1).mean()
        return SAEOutput(recon, feats, pre, mse, self.sparsity_loss(feats, pre))

    # -- the decoder-norm constraint ---------------------------------------------------------
    @torch.no_grad()
    def normalize_decoder(self) -> None:
        self.W_dec.data /= self.W_dec.data.norm(dim=1, keepdim=True).clamp_min(1e-8)

    @torch.no_grad()
    def remove_parallel_grad(self) -> None:
        """g ← g − (g·w) w for each unit decoder row w: a step then only turns the row."""
        if self.W_dec.grad is None:
            return
        w = self.W_dec.data / self.W_dec.data.norm(dim=1, keepdim=True).clamp_min(1e-8)
        self.W_dec.grad -= (self.W_dec.grad * w).sum(1, keepdim=True) * w

    @torch.no_grad()
    def fold_input_scale(self, c: float) -> None:
        """Make an SAE trained on c·x act on x directly (and reconstruct x, not c·x):
        W_enc ← c W_enc, W_dec ← W_dec / c, b_dec ← b_dec / c; the code f is unchanged."""
        if not c > 0:
            raise SAEError(f"scale must be positive, got {c}")
        self.W_enc.mul_(c)
        if self.cfg.out == self.cfg.d_in:
            self.W_dec.div_(c)
            self.b_dec.div_(c)
