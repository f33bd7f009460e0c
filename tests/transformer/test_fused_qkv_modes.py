"""The cached fused QKV weight built under inference_mode must not leak into a later pass that
autograd records (frozen weights, input that needs grad: e.g. LoRA fine-tuning after generation)."""

import torch

from arena_core.transformer import Llama, TransformerConfig

CFG = TransformerConfig(d_model=16, n_layers=2, n_heads=2, d_head=8, d_mlp=24, d_vocab=11, n_ctx=8)


def test_backward_after_an_inference_mode_pass():
    torch.manual_seed(0)
    model = Llama(CFG).eval().requires_grad_(False)
    tokens = torch.randint(0, CFG.d_vocab, (2, 5))
    with torch.inference_mode():
        ref = model(tokens)
    x = model.embed(tokens).detach().requires_grad_(True)

    def swap(act, hook=None):  # feed a leaf that needs grad in place of the embeddings
        return x

    with model.hooks([("hook_embed", swap)]):
        out = model(tokens)
    out.sum().backward()  # raised "Inference tensors cannot be saved for backward" before
    assert x.grad is not None and torch.isfinite(x.grad).all()
    torch.testing.assert_close(out.detach(), ref.clone())
