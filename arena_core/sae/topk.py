"""TopK SAE (Gao et al. 2024, "Scaling and evaluating sparse autoencoders"; days 45–48).

    f = ReLU(TopK_k(pre))    (keep the k largest pre-activations of each row, zero the rest)
    L = ‖x̂ − x‖²

L0 is fixed at (at most) k by construction, so there is no sparsity penalty to tune and no
shrinkage: the kept activations are free to take their best size. The gradient flows only into
the k chosen latents; latents never chosen get no gradient and die, which is why Gao et al. add
an auxiliary loss and why our trainer resamples dead latents.
"""

import torch
from torch import Tensor

from arena_core.sae.base import SAE, SAEConfig, SAEError


class TopKSAE(SAE):
    architecture = "topk"

    def __init__(self, cfg: SAEConfig, seed: int | None = 0):
        if cfg.k > cfg.d_sae:
            raise SAEError(f"k = {cfg.k} is larger than the number of latents d_sae = {cfg.d_sae}")
        super().__init__(cfg, seed)

    def activation(self, pre: Tensor) -> Tensor:
        values, index = pre.topk(self.cfg.k, dim=-1, sorted=False)
        return torch.zeros_like(pre).scatter(-1, index, values.relu())

    def sparsity_loss(self, feats: Tensor, pre: Tensor) -> Tensor:
        return pre.new_zeros(())
