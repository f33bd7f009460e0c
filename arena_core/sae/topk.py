"""TopK SAE (Gao et al. 2024, "Scaling and evaluating sparse autoencoders"; days 45–48).

    f = ReLU(TopK_k(pre))    (keep the k largest pre-activations of each row, zero the rest)
    L = ‖x̂ − x‖²

L0 is fixed at (at most) k by construction, so there is no sparsity penalty to tune and no
shrinkage: the kept activations are free to take their best size. The gradient flows only into
the k chosen latents; latents never chosen get no gradient and die. Gao et al.'s remedy is the
auxiliary loss AuxK (on when `cfg.aux_coeff > 0`): the dead latents with the k_aux = d_in / 2
largest pre-activations try to reconstruct what the live ones missed,

    e = x − x̂ (no gradient),   ê = TopK_{k_aux}(pre over dead latents) W_dec,
    L_aux = aux_coeff · min(n_dead / k_aux, 1) · ‖ê − e‖²

so a dead latent gets a gradient toward a direction the SAE still lacks (the down-weighting when
few latents are dead is SAELens's). Our trainer can also resample dead latents instead.
"""

import torch
from torch import Tensor

from arena_core.sae.base import SAE, SAEConfig, SAEError, SAEOutput


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

    def aux_loss(self, out: SAEOutput, target: Tensor, dead: Tensor) -> Tensor:
        n_dead = int(dead.sum())
        if self.cfg.aux_coeff == 0 or n_dead == 0:
            return out.mse.new_zeros(())
        k_aux = target.shape[-1] // 2
        scale = min(n_dead / k_aux, 1.0)
        values, index = out.pre.masked_fill(~dead, float("-inf")).topk(min(k_aux, n_dead), dim=-1)
        acts = torch.zeros_like(out.pre).scatter(-1, index, values)
        residual = (target - out.recon).detach()
        return self.cfg.aux_coeff * scale * (acts @ self.W_dec - residual).pow(2).sum(-1).mean()
