"""The two MLPs: GPT-2's GELU MLP and Llama's SwiGLU (Shazeer 2020) — day 30.

GELU MLP:   post = gelu_tanh(x @ W_in + b_in);         out = post @ W_out + b_out
SwiGLU MLP: post = silu(x @ W_gate) * (x @ W_in);      out = post @ W_out
Hook names follow TransformerLens: `hook_pre` (the pre-activation, for SwiGLU the gate branch),
`hook_pre_linear` (SwiGLU's linear branch) and `hook_post` (the hidden activation).
"""

import torch
import torch.nn.functional as F
from jaxtyping import Float
from torch import Tensor, nn

from arena_core.transformer.config import TransformerConfig
from arena_core.transformer.hooks import HookPoint


class GeluMLP(nn.Module):
    """GPT-2's MLP. Its GELU is the tanh approximation ("gelu_new" in HF and TransformerLens)."""

    def __init__(self, cfg: TransformerConfig):
        super().__init__()
        self.W_in = nn.Parameter(torch.empty(cfg.d_model, cfg.d_mlp))
        self.b_in = nn.Parameter(torch.zeros(cfg.d_mlp))
        self.W_out = nn.Parameter(torch.empty(cfg.d_mlp, cfg.d_model))
        self.b_out = nn.Parameter(torch.zeros(cfg.d_model))
        self.hook_pre = HookPoint()
        self.hook_post = HookPoint()

    def forward(self, x: Float[Tensor, "batch pos d_model"]) -> Float[Tensor, "batch pos d_model"]:
        flat = x.reshape(-1, x.shape[-1])
        pre = self.hook_pre(torch.addmm(self.b_in, flat, self.W_in).view(*x.shape[:-1], -1))
        post = self.hook_post(F.gelu(pre, approximate="tanh"))
        out = torch.addmm(self.b_out, post.reshape(-1, post.shape[-1]), self.W_out)
        return out.view(x.shape)


class SwiGLUMLP(nn.Module):
    """Llama's gated MLP, no biases."""

    def __init__(self, cfg: TransformerConfig):
        super().__init__()
        self.W_gate = nn.Parameter(torch.empty(cfg.d_model, cfg.d_mlp))
        self.W_in = nn.Parameter(torch.empty(cfg.d_model, cfg.d_mlp))
        self.W_out = nn.Parameter(torch.empty(cfg.d_mlp, cfg.d_model))
        self.hook_pre = HookPoint()
        self.hook_pre_linear = HookPoint()
        self.hook_post = HookPoint()

    def forward(self, x: Float[Tensor, "batch pos d_model"]) -> Float[Tensor, "batch pos d_model"]:
        gate = self.hook_pre(x @ self.W_gate)
        linear = self.hook_pre_linear(x @ self.W_in)
        return self.hook_post(F.silu(gate) * linear) @ self.W_out
