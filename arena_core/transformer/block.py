"""A pre-norm transformer block (day 30): the residual stream is read by attention and by the MLP,
each behind its own norm, and each writes its output back by addition.

    resid_mid  = resid_pre + attn(ln1(resid_pre))
    resid_post = resid_mid + mlp(ln2(resid_mid))

The block takes its parts as arguments, so GPT-2 (LayerNorm + GELU MLP) and Llama (RMSNorm +
SwiGLU) share this one class without any architecture switches. An attention-only block (day 37's
two-layer model, Elhage et al. 2021) passes `ln2=mlp=None`: then `resid_post = resid_pre + attn`
and, as in TransformerLens, it has no `hook_resid_mid` / `hook_mlp_out`.
"""

from jaxtyping import Float
from torch import Tensor, nn

from arena_core.transformer.attention import Attention
from arena_core.transformer.hooks import HookPoint
from arena_core.transformer.kv_cache import KVCacheEntry


class TransformerBlock(nn.Module):
    def __init__(
        self, ln1: nn.Module, attn: Attention, ln2: nn.Module | None, mlp: nn.Module | None
    ):
        super().__init__()
        if (ln2 is None) != (mlp is None):
            raise ValueError("give both ln2 and mlp, or neither (attention-only block)")
        self.ln1, self.attn, self.ln2, self.mlp = ln1, attn, ln2, mlp
        self.hook_resid_pre = HookPoint()
        self.hook_attn_out = HookPoint()
        if mlp is not None:
            self.hook_resid_mid = HookPoint()
            self.hook_mlp_out = HookPoint()
        self.hook_resid_post = HookPoint()

    def forward(
        self,
        resid: Float[Tensor, "batch pos d_model"],
        mask: Tensor | None = None,
        rope: tuple[Tensor, Tensor] | None = None,
        cache: KVCacheEntry | None = None,
    ) -> Float[Tensor, "batch pos d_model"]:
        resid = self.hook_resid_pre(resid)
        attn_out = self.hook_attn_out(self.attn(self.ln1(resid), mask, rope, cache))
        if self.mlp is None:
            return self.hook_resid_post(resid + attn_out)
        resid = self.hook_resid_mid(resid + attn_out)
        mlp_out = self.hook_mlp_out(self.mlp(self.ln2(resid)))
        return self.hook_resid_post(resid + mlp_out)
