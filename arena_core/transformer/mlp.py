"""The two MLPs: GPT-2's MLP and Llama's gated SwiGLU (Shazeer 2020) — day 30.

GPT-2 MLP:  post = act(x @ W_in + b_in);                       out = post @ W_out + b_out
SwiGLU MLP: post = act(x @ W_gate + b_gate) * (x @ W_in + b_in); out = post @ W_out + b_out
GPT-2's `act` is the tanh approximation of GELU ("gelu_new"), Llama's is SiLU, and Llama has no
biases; released variants change either (`cfg.act_fn`, `cfg.mlp_bias`). Hook names follow
TransformerLens: `hook_pre` (the pre-activation, for SwiGLU the gate branch), `hook_pre_linear`
(SwiGLU's linear branch) and `hook_post` (the hidden activation).
"""

from collections.abc import Callable

import torch
import torch.nn.functional as F
from jaxtyping import Float
from torch import Tensor, nn

from arena_core.transformer.config import TransformerConfig, UnsupportedConfigError
from arena_core.transformer.hooks import HookPoint


def _gelu_tanh(x: Tensor) -> Tensor:
    # 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), Hendrycks & Gimpel's approximation
    return F.gelu(x, approximate="tanh")


def _relu_squared(x: Tensor) -> Tensor:
    return F.relu(x).square()


#: Activations by their HuggingFace names. HF's "gelu_new", "gelu_fast" and "gelu_pytorch_tanh"
#: are three spellings of the same tanh approximation; "swish" is another name for SiLU.
ACTIVATIONS: dict[str, Callable[[Tensor], Tensor]] = {
    "gelu_new": _gelu_tanh,
    "gelu_pytorch_tanh": _gelu_tanh,
    "gelu_fast": _gelu_tanh,
    "gelu": F.gelu,  # exact: x * Phi(x)
    "relu": F.relu,
    "relu2": _relu_squared,  # Primer (So et al. 2021)
    "silu": F.silu,
    "swish": F.silu,
}


def activation(name: str) -> Callable[[Tensor], Tensor]:
    """The activation called `name`; raises `UnsupportedConfigError` for one we don't have."""
    if name not in ACTIVATIONS:
        raise UnsupportedConfigError(
            f"act_fn={name!r} is not implemented; known: {sorted(ACTIVATIONS)}"
        )
    return ACTIVATIONS[name]


class GeluMLP(nn.Module):
    """GPT-2's MLP: GELU (tanh approximation) unless `cfg.act_fn` names another activation."""

    def __init__(self, cfg: TransformerConfig):
        super().__init__()
        self.act = activation(cfg.act_fn or "gelu_new")
        self.W_in = nn.Parameter(torch.empty(cfg.d_model, cfg.d_mlp))
        self.b_in = nn.Parameter(torch.zeros(cfg.d_mlp))
        self.W_out = nn.Parameter(torch.empty(cfg.d_mlp, cfg.d_model))
        self.b_out = nn.Parameter(torch.zeros(cfg.d_model))
        self.hook_pre = HookPoint()
        self.hook_post = HookPoint()

    def forward(self, x: Float[Tensor, "batch pos d_model"]) -> Float[Tensor, "batch pos d_model"]:
        flat = x.reshape(-1, x.shape[-1])
        pre = self.hook_pre(torch.addmm(self.b_in, flat, self.W_in).view(*x.shape[:-1], -1))
        post = self.hook_post(self.act(pre))
        out = torch.addmm(self.b_out, post.reshape(-1, post.shape[-1]), self.W_out)
        return out.view(x.shape)


class SwiGLUMLP(nn.Module):
    """Llama's gated MLP: SiLU gate unless `cfg.act_fn` says otherwise (GELU gives GeGLU); no
    biases unless `cfg.mlp_bias`. Note: TransformerLens' gated MLP adds its `b_in` after the
    product, so a biased SwiGLU (ours and HF's) has no TransformerLens counterpart."""

    def __init__(self, cfg: TransformerConfig):
        super().__init__()
        self.act = activation(cfg.act_fn or "silu")
        self.W_gate = nn.Parameter(torch.empty(cfg.d_model, cfg.d_mlp))
        self.W_in = nn.Parameter(torch.empty(cfg.d_model, cfg.d_mlp))
        self.W_out = nn.Parameter(torch.empty(cfg.d_mlp, cfg.d_model))
        if cfg.mlp_bias:
            self.b_gate = nn.Parameter(torch.zeros(cfg.d_mlp))
            self.b_in = nn.Parameter(torch.zeros(cfg.d_mlp))
            self.b_out = nn.Parameter(torch.zeros(cfg.d_model))
        else:
            self.b_gate = self.b_in = self.b_out = None
        self.hook_pre = HookPoint()
        self.hook_pre_linear = HookPoint()
        self.hook_post = HookPoint()

    def forward(self, x: Float[Tensor, "batch pos d_model"]) -> Float[Tensor, "batch pos d_model"]:
        gate = self.hook_pre(_linear(x, self.W_gate, self.b_gate))
        linear = self.hook_pre_linear(_linear(x, self.W_in, self.b_in))
        return _linear(self.hook_post(self.act(gate) * linear), self.W_out, self.b_out)


def _linear(x: Tensor, W: Tensor, b: Tensor | None) -> Tensor:
    """x @ W (+ b), W in TransformerLens' `[in out]` layout."""
    return x @ W if b is None else x @ W + b
