"""Our LoRA against peft 0.21.2 on the HF twin of a small random Llama, in float64.

Same base weights, same A and B (copied into peft through `to_peft_state_dict`), same r, alpha
and target modules: the logits and the gradients of every A and B must agree. HF computes RoPE
angles and RMSNorm in float32 even in a float64 model, which alone gives ~1e-7 differences; the
twin's rotary embedding and norms are therefore replaced by their textbook formulas in float64
(`_float64_twin`), after which the only difference is the order of summation (W x + s B A x in
peft vs (W + s B A) x in ours), errors ~1e-13. The tolerance 1e-9 is far below any real mismatch
(a wrong layout or scaling shows at ~1e-2).
"""

import pytest
import torch
from peft import LoraConfig, get_peft_model, set_peft_model_state_dict
from torch import nn

from arena_core.alignment.lora import HF_LLAMA_NAMES, apply_lora, to_peft_state_dict
from tests.transformer._refs import hf_llama_pair

CFG = dict(
    vocab_size=97, hidden_size=32, intermediate_size=48, num_hidden_layers=2,
    num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64,
)  # fmt: skip
TARGET_SETS = [("W_Q", "W_V"), ("W_Q", "W_K", "W_V", "W_O", "W_gate", "W_in", "W_out")]


class Rope64(nn.Module):
    """cos/sin of angle p * base^(-2i/d_head), in float64 (HF's rotary module casts to float32)."""

    def __init__(self, d_head: int, base: float):
        super().__init__()
        self.inv_freq = base ** (-torch.arange(0, d_head, 2, dtype=torch.float64) / d_head)

    def forward(self, x, position_ids):
        angles = position_ids[..., None].double() * self.inv_freq
        emb = torch.cat([angles, angles], dim=-1)
        return emb.cos().to(x.dtype), emb.sin().to(x.dtype)


def _rms_norm64(norm: nn.Module):
    def forward(x):  # x / sqrt(mean(x^2) + eps) * w, without HF's cast to float32
        mean_square = x.pow(2).mean(-1, keepdim=True)
        return norm.weight * x * torch.rsqrt(mean_square + norm.variance_epsilon)

    return forward


def _float64_twin(hf, ours):
    hf.model.rotary_emb = Rope64(ours.cfg.d_head, ours.cfg.rotary_base)
    for module in hf.modules():
        if type(module).__name__.endswith("RMSNorm"):
            module.forward = _rms_norm64(module)
    return hf


def test_float64_twin_matches_base_model():
    hf, ours = hf_llama_pair(dtype=torch.float64, **CFG)
    tokens = torch.randint(0, CFG["vocab_size"], (2, 9))
    with torch.no_grad():
        torch.testing.assert_close(
            ours(tokens), _float64_twin(hf, ours)(tokens).logits, rtol=0, atol=1e-11
        )


def _pair_with_adapters(targets, r, alpha, layers=None):
    hf, ours = hf_llama_pair(dtype=torch.float64, **CFG)
    _float64_twin(hf, ours)
    apply_lora(ours, r=r, alpha=alpha, targets=targets, layers=layers, seed=1)
    with torch.no_grad():  # B starts at zero; make it non-zero so the update is really tested
        for name, p in ours.named_parameters():
            if name.endswith(".B"):
                p.copy_(0.3 * torch.randn_like(p))
    modules = sorted({HF_LLAMA_NAMES[t].split(".")[1] for t in targets})
    peft_cfg = LoraConfig(
        r=r, lora_alpha=alpha, target_modules=modules, lora_dropout=0.0,
        layers_to_transform=layers, bias="none",
    )  # fmt: skip
    peft_model = get_peft_model(hf, peft_cfg)
    result = set_peft_model_state_dict(peft_model, to_peft_state_dict(ours))
    assert not result.unexpected_keys
    assert not [k for k in result.missing_keys if "lora_" in k]
    return peft_model.double(), ours


@pytest.mark.parametrize("targets", TARGET_SETS)
@pytest.mark.parametrize("r,alpha", [(4, 8.0), (3, 5.0)])
def test_outputs_and_gradients_match_peft(targets, r, alpha):
    peft_model, ours = _pair_with_adapters(targets, r, alpha)
    tokens = torch.randint(0, CFG["vocab_size"], (3, 11))
    theirs_logits = peft_model(input_ids=tokens).logits
    our_logits = ours(tokens)
    torch.testing.assert_close(our_logits, theirs_logits, rtol=0, atol=1e-9)
    weights = torch.randn_like(our_logits)  # a random linear loss reaches every logit
    (theirs_logits * weights).sum().backward()
    (our_logits * weights).sum().backward()
    theirs = {n: p.grad for n, p in peft_model.named_parameters() if "lora_" in n}
    n_checked = 0
    for key, value in to_peft_state_dict(ours).items():
        lora_name = key.removesuffix(".weight").rsplit(".", 1)[1]  # lora_A / lora_B
        stem = key.removeprefix("base_model.model.model.layers.").removesuffix(".weight")
        i, rest = stem.split(".", 1)
        module = rest.removesuffix("." + lora_name)
        ours_name = {v: k for k, v in HF_LLAMA_NAMES.items()}[module]
        part = "attn" if module.startswith("self_attn") else "mlp"
        ours_mod = ours.get_submodule(f"blocks.{i}.{part}.parametrizations.{ours_name}.0")
        ours_grad = getattr(ours_mod, lora_name[-1]).grad
        peft_grad = theirs[key.replace(f"{lora_name}.weight", f"{lora_name}.default.weight")]
        assert value.shape == ours_grad.shape
        torch.testing.assert_close(ours_grad, peft_grad, rtol=0, atol=1e-9)
        assert peft_grad.abs().max() > 1e-3  # a real gradient, not two zeros
        n_checked += 1
    assert n_checked == 2 * 2 * len(targets) == len(theirs)


def test_layers_subset_matches_peft():
    peft_model, ours = _pair_with_adapters(("W_Q", "W_out"), 2, 4.0, layers=[1])
    tokens = torch.randint(0, CFG["vocab_size"], (2, 7))
    torch.testing.assert_close(ours(tokens), peft_model(input_ids=tokens).logits, rtol=0, atol=1e-9)


def test_trainable_parameter_count_matches_peft():
    from arena_core.alignment.lora import count_parameters

    peft_model, ours = _pair_with_adapters(TARGET_SETS[1], 4, 8.0)
    trainable, _ = peft_model.get_nb_trainable_parameters()
    assert count_parameters(ours)["trainable"] == trainable
