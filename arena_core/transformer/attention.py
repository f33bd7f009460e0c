"""Causal multi-head self-attention with grouped-query support (Vaswani et al. 2017;
GQA: Ainslie et al. 2023) — the heart of day 29, used by every model afterwards.

Weights in TransformerLens layout: `W_Q [n_heads d_model d_head]`, `W_K`/`W_V
[n_kv_heads d_model d_head]`, `W_O [n_heads d_head d_model]`, biases `b_Q [n_heads d_head]`, ...
With grouped-query attention, query head h reads key/value head h // (n_heads / n_kv_heads).

Biases: GPT-2 has all four; Llama none; Qwen2 has b_Q, b_K, b_V but no b_O, and HF's Llama with
`attention_bias=True` has all four. So `bias` switches the Q/K/V biases and `out_bias` (default:
the same as `bias`) switches b_O.

Scores are divided by `attn_scale`: sqrt(d_head) (Vaswani et al.), or 1 when
`cfg.use_attn_scale` is off, times (layer_idx + 1) when `cfg.scale_attn_by_inverse_layer_idx` is
on (a GPT-2 option that keeps deep layers' scores small in low precision).

Two paths compute the same thing:
- the explicit path forms `attn_scores = q·k / attn_scale` (masked with -inf), softmaxes it
  into `pattern` and mixes the values. It runs whenever a hook is attached to `hook_attn_scores`
  or `hook_pattern` (so `run_with_cache` / `run_with_hooks` always see real patterns);
- otherwise the fast path calls `torch.nn.functional.scaled_dot_product_attention` (fused, never
  materialises the pattern in Python). `hook_q/k/v/z` fire on both paths.
Queries, keys and values are computed with one fused matmul and then split (views), so `hook_q`
sees `[batch pos n_heads d_head]` exactly as in TransformerLens.
"""

import math

import torch
import torch.nn.functional as F
from jaxtyping import Bool, Float
from torch import Tensor, nn
from torch.nn.utils import parametrize

from arena_core.transformer.config import TransformerConfig
from arena_core.transformer.hooks import HookPoint
from arena_core.transformer.kv_cache import KVCacheEntry
from arena_core.transformer.rotary import apply_rotary


class Attention(nn.Module):
    def __init__(
        self,
        cfg: TransformerConfig,
        bias: bool = True,
        rotary: bool = False,
        out_bias: bool | None = None,
        layer_idx: int = 0,
    ):
        super().__init__()
        self.cfg = cfg
        h, kv, d, e = cfg.n_heads, cfg.kv_heads, cfg.d_model, cfg.d_head
        self.rotary = rotary
        self.attn_scale = math.sqrt(e) if cfg.use_attn_scale else 1.0
        if cfg.scale_attn_by_inverse_layer_idx:
            self.attn_scale *= layer_idx + 1
        self.W_Q = nn.Parameter(torch.empty(h, d, e))
        self.W_K = nn.Parameter(torch.empty(kv, d, e))
        self.W_V = nn.Parameter(torch.empty(kv, d, e))
        self.W_O = nn.Parameter(torch.empty(h, e, d))
        if bias:
            self.b_Q = nn.Parameter(torch.zeros(h, e))
            self.b_K = nn.Parameter(torch.zeros(kv, e))
            self.b_V = nn.Parameter(torch.zeros(kv, e))
        else:
            self.b_Q = self.b_K = self.b_V = None
        out_bias = bias if out_bias is None else out_bias
        self.b_O = nn.Parameter(torch.zeros(d)) if out_bias else None
        for name in ("q", "k", "v", "rot_q", "rot_k", "attn_scores", "pattern", "z"):
            if name.startswith("rot") and not rotary:
                continue
            setattr(self, f"hook_{name}", HookPoint())

    def fused_qkv_weight(self) -> tuple[Tensor, Tensor | None]:
        """`[d_model (heads d_head)]` with W_Q, W_K, W_V side by side (and the stacked biases).

        Building it copies 3 x d_model^2 numbers, which costs as much as the matmul itself when
        decoding one token at a time. So outside autograd it is cached and rebuilt only when a
        parameter changes (in-place updates bump `_version`; `.to()` changes `data_ptr`).
        Caveat: writes through `param.data` bypass the version counter; use `param.copy_()`
        under `torch.no_grad()` (as `load_state_dict` and torch.optim do) to edit weights."""
        params = [self.W_Q, self.W_K, self.W_V]
        if self.b_Q is not None:
            params += [self.b_Q, self.b_K, self.b_V]
        if torch.is_grad_enabled() and any(p.requires_grad for p in params):
            return self._build_fused()  # differentiable, never cached
        if parametrize.is_parametrized(self):
            # e.g. LoRA: each read computes a fresh tensor whose version and address say
            # nothing about the adapter, so the cache could go stale; rebuild every time.
            return self._build_fused()
        # a tensor built under inference_mode cannot be saved for a later backward pass (frozen
        # weights, input that needs grad), so the mode is part of the key
        key = tuple((p._version, p.data_ptr(), p.dtype, p.device) for p in params)
        key += (torch.is_inference_mode_enabled(),)
        if self.__dict__.get("_fused_key") != key:
            self.__dict__["_fused"] = self._build_fused()
            self.__dict__["_fused_key"] = key
        return self.__dict__["_fused"]

    def _build_fused(self) -> tuple[Tensor, Tensor | None]:
        d_model = self.cfg.d_model
        W = torch.cat([self.W_Q, self.W_K, self.W_V]).permute(1, 0, 2).reshape(d_model, -1)
        b = None if self.b_Q is None else torch.cat([self.b_Q, self.b_K, self.b_V]).reshape(-1)
        return W, b

    def qkv(self, x: Float[Tensor, "batch pos d_model"]) -> tuple[Tensor, Tensor, Tensor]:
        """q `[batch pos n_heads d_head]`, k and v `[batch pos n_kv_heads d_head]` in one matmul."""
        h, kv, e = self.cfg.n_heads, self.cfg.kv_heads, self.cfg.d_head
        W, b = self.fused_qkv_weight()
        if b is None:
            out = x @ W
        else:
            out = torch.addmm(b, x.reshape(-1, x.shape[-1]), W).view(*x.shape[:-1], -1)
        q, k, v = out.split([h * e, kv * e, kv * e], dim=-1)
        batch, pos = x.shape[:2]
        return (q.view(batch, pos, h, e), k.view(batch, pos, kv, e), v.view(batch, pos, kv, e))

    def forward(
        self,
        x: Float[Tensor, "batch pos d_model"],
        mask: Bool[Tensor, "batch 1 pos kv_pos"] | None = None,
        rope: tuple[Tensor, Tensor] | None = None,
        cache: KVCacheEntry | None = None,
    ) -> Float[Tensor, "batch pos d_model"]:
        """`mask`: True where query i may attend to key j (None = causal without padding: every
        query sees the keys up to its own position, counted from the end of the keys).
        `rope`: (cos, sin) for these positions (Llama). `cache`: appended to in place."""
        q, k, v = self.qkv(x)
        q, k, v = self.hook_q(q), self.hook_k(k), self.hook_v(v)
        if self.rotary:
            q = self.hook_rot_q(apply_rotary(q, *rope))
            k = self.hook_rot_k(apply_rotary(k, *rope))
        q, k, v = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)  # [batch heads pos e]
        if cache is not None:
            k, v = cache.append(k, v)
        if self.hook_pattern.active or self.hook_attn_scores.active:
            z = self._explicit(q, k, v, mask)
        else:
            z = F.scaled_dot_product_attention(
                q,
                k,
                v,
                attn_mask=mask,
                is_causal=mask is None and q.shape[2] > 1,  # one query sees all keys
                scale=1.0 / self.attn_scale,
                enable_gqa=self.cfg.kv_heads != self.cfg.n_heads,
            )
        z = self.hook_z(z.transpose(1, 2))  # [batch pos n_heads d_head]
        batch, pos = x.shape[:2]
        # out = sum_h z_h @ W_O[h]: one matmul over the flattened (head, d_head) axis.
        W_O = self.W_O.reshape(-1, self.cfg.d_model)
        z = z.reshape(batch * pos, -1)
        out = z @ W_O if self.b_O is None else torch.addmm(self.b_O, z, W_O)
        return out.view(batch, pos, -1)

    def _explicit(self, q: Tensor, k: Tensor, v: Tensor, mask: Tensor | None) -> Tensor:
        group = self.cfg.n_heads // self.cfg.kv_heads
        if group > 1:  # query head h uses key/value head h // group
            k, v = k.repeat_interleave(group, dim=1), v.repeat_interleave(group, dim=1)
        scores = q @ k.transpose(-1, -2) / self.attn_scale
        if mask is None:
            q_pos, k_pos = scores.shape[-2:]
            mask = torch.ones(q_pos, k_pos, dtype=torch.bool, device=q.device).tril(k_pos - q_pos)
        scores = self.hook_attn_scores(scores.masked_fill(~mask, float("-inf")))
        pattern = self.hook_pattern(scores.softmax(dim=-1))
        return pattern @ v
