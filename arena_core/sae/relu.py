"""ReLU SAE with an L1 penalty weighted by decoder norms (Anthropic 2023/2024; days 45–48).

    f = ReLU(pre),   L = ‖x̂ − x‖² + λ Σ_i f_i ‖W_dec[i]‖₂

The L1 term pushes codes to zero; multiplying each latent's activation by its decoder row's norm
(Anthropic's April 2024 update) stops the SAE from cheating the penalty by shrinking f_i and
growing the decoder row. With the unit-norm constraint (`normalize_decoder` after each step, the
2023 recipe, used by our trainer) the weights are 1 and the penalty is the plain L1 of f.
The cost of L1 is shrinkage: it also pulls the active latents' sizes down.
"""

from torch import Tensor

from arena_core.sae.base import SAE


class ReluSAE(SAE):
    architecture = "standard"  # SAELens's name for it

    def activation(self, pre: Tensor) -> Tensor:
        return pre.relu()

    def sparsity_loss(self, feats: Tensor, pre: Tensor) -> Tensor:
        return self.cfg.l1_coeff * (feats * self.W_dec.norm(dim=1)).sum(-1).mean()
