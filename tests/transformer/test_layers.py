"""Single layers against torch / HF references."""

import pytest
import torch
import torch.nn.functional as F

from arena_core.transformer import Attention, LayerNorm, RMSNorm, TransformerConfig
from arena_core.transformer.rotary import apply_rotary, rotary_angles


@pytest.mark.parametrize("hooked", [False, True])
def test_layernorm_matches_torch(hooked):
    ln = LayerNorm(37, eps=1e-5).double()
    with torch.no_grad():
        ln.w.normal_(), ln.b.normal_()
    if hooked:  # forces the explicit (hook-visible) path
        ln.hook_scale.add_hook(lambda x, hook: None)
    x = torch.randn(3, 5, 37, dtype=torch.float64) * 3 + 1
    torch.testing.assert_close(ln(x), F.layer_norm(x, (37,), ln.w, ln.b, 1e-5))


def test_rmsnorm_matches_torch():
    norm = RMSNorm(19, eps=1e-6).double()
    with torch.no_grad():
        norm.w.normal_()
    x = torch.randn(2, 7, 19, dtype=torch.float64)
    torch.testing.assert_close(norm(x), F.rms_norm(x, (19,), norm.w, 1e-6))


def test_rotary_matches_hf_llama():
    from transformers.models.llama.modeling_llama import apply_rotary_pos_emb

    positions = torch.tensor([[0, 1, 2, 5, 9], [3, 3, 4, 5, 6]])
    cos, sin = rotary_angles(positions, 16, 500.0)
    q = torch.randn(2, 5, 3, 16, dtype=torch.float64)  # [batch pos heads d_head]
    ours = apply_rotary(q, cos, sin)
    ref, _ = apply_rotary_pos_emb(q.transpose(1, 2), q.transpose(1, 2), cos, sin)
    torch.testing.assert_close(ours, ref.transpose(1, 2))
    # a rotation: norms are preserved, and q·k depends only on the position difference
    torch.testing.assert_close(ours.norm(dim=-1), q.norm(dim=-1))


def test_attention_paths_agree_with_manual_softmax():
    cfg = TransformerConfig(
        d_model=24, n_heads=6, n_kv_heads=3, d_head=5, n_layers=1, d_mlp=8, d_vocab=10, n_ctx=16
    )
    attn = Attention(cfg, bias=True).double()
    for p in attn.parameters():
        torch.nn.init.normal_(p, std=0.3)
    x = torch.randn(2, 7, 24, dtype=torch.float64)
    fast = attn(x)
    # manual reference: per head, softmax(q k^T / sqrt(d) + causal) v, then W_O
    q = torch.einsum("bpd,hde->bhpe", x, attn.W_Q) + attn.b_Q[:, None]
    k = torch.einsum("bpd,hde->bhpe", x, attn.W_K) + attn.b_K[:, None]
    v = torch.einsum("bpd,hde->bhpe", x, attn.W_V) + attn.b_V[:, None]
    k, v = k.repeat_interleave(2, 1), v.repeat_interleave(2, 1)
    scores = q @ k.transpose(-1, -2) / 5**0.5
    scores = scores + torch.full((7, 7), float("-inf"), dtype=torch.float64).triu(1)
    z = scores.softmax(-1) @ v
    expected = torch.einsum("bhpe,hed->bpd", z, attn.W_O) + attn.b_O
    torch.testing.assert_close(fast, expected)
    attn.hook_pattern.add_hook(lambda x, hook: None)
    torch.testing.assert_close(attn(x), expected)


def test_cached_fused_qkv_sees_in_place_weight_edits():
    """The fused QKV weight is cached outside autograd; editing a weight must invalidate it.
    Reference: the manual einsum attention above, recomputed after the edit."""
    cfg = TransformerConfig(d_model=16, n_heads=2, d_head=8, n_layers=1, d_mlp=8, d_vocab=10)
    attn = Attention(cfg, bias=True).double()
    for p in attn.parameters():
        torch.nn.init.normal_(p, std=0.3)
    x = torch.randn(1, 4, 16, dtype=torch.float64)
    with torch.no_grad():
        before = attn(x)
        attn.W_Q[0].zero_()  # ablate head 0's queries in place
        after = attn(x)
        fresh = Attention(cfg, bias=True).double()
        fresh.load_state_dict(attn.state_dict())
        expected = fresh(x)
    assert not torch.allclose(before, after)
    torch.testing.assert_close(after, expected, atol=0, rtol=0)
    # with autograd on, gradients reach W_Q through the fused weight
    attn(x).sum().backward()
    assert attn.W_Q.grad is not None and attn.W_Q.grad[1].abs().sum() > 0
