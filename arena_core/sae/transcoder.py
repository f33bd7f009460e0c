"""Transcoder: a sparse code that reads the MLP input and predicts the MLP output (days 45, 56–58).

Dunefsky et al. 2024 ("Transcoders find interpretable LLM feature circuits") replace an MLP by

    f = ReLU(x_in W_enc + b_enc),   ŷ = f W_dec + b_dec,   L = ‖ŷ − MLP(x_in)‖² + λ Σ f_i ‖W_dec[i]‖

so each latent is an input-dependent feature with a fixed output direction: the MLP becomes a
sum of sparse, linear-in-output pieces, which is what circuit analysis through MLPs needs. The
input and output widths may differ, so `b_dec` is not subtracted from the input.
"""

from torch import Tensor

from arena_core.sae.base import SAEConfig, SAEError
from arena_core.sae.relu import ReluSAE


class Transcoder(ReluSAE):
    architecture = "transcoder"

    def __init__(self, cfg: SAEConfig, seed: int | None = 0):
        if cfg.apply_b_dec_to_input:
            raise SAEError(
                "a transcoder needs apply_b_dec_to_input=False (input and output differ)"
            )
        super().__init__(cfg, seed)

    def run(self, x: Tensor, target: Tensor | None = None):
        if target is None:
            raise SAEError("a transcoder needs a target (the MLP output for input x)")
        return super().run(x, target)
