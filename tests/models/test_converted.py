"""The converted-model cache format shared by the offline models (models/converted.py)."""

import torch

from arena_core.models.converted import is_converted, load_converted, save_converted
from arena_core.transformer.config import TransformerConfig
from arena_core.transformer.llama import Llama


def test_a_saved_model_loads_back_with_the_same_outputs(tmp_path):
    cfg = TransformerConfig(
        d_model=16, n_layers=2, n_heads=4, d_head=4, n_kv_heads=2, d_mlp=32, d_vocab=50,
        n_ctx=32, tie_embeddings=False, attn_qkv_bias=True,
    )  # fmt: skip
    torch.manual_seed(0)
    model = Llama(cfg).eval()
    assert not is_converted(tmp_path)
    save_converted(tmp_path, cfg, model.state_dict(), {"source": "a random test model"})
    assert is_converted(tmp_path)
    loaded, info = load_converted(tmp_path, dtype=torch.float64)
    assert info["source"] == "a random test model" and info["config"]["d_model"] == 16
    tokens = torch.randint(0, 50, (2, 7))
    expected = model.double()(tokens)
    assert not loaded.training and next(loaded.parameters()).dtype == torch.float64
    torch.testing.assert_close(loaded(tokens), expected, rtol=0, atol=1e-12)
