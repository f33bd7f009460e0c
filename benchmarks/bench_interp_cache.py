"""Activation-caching throughput: our `run_with_cache` vs TransformerLens' (days 34–62).

Run:  python benchmarks/bench_interp_cache.py [--quick]
Tokens/s of one forward that caches *every* hook point (what interpretability notebooks do by
default), both through `arena_core.interp.cache.run_with_cache`, on
- GPT-2 small with random weights (TL: `transformer_lens_twin`, our weights in a HookedTransformer),
- SmolLM2-135M with its real weights (TL: loaded by TransformerLens itself from the local HF
  directory with its own conversion, `hooked_transformer_from_hf_dir`),
at 1 and 2 torch threads, interleaved rounds (`arena_core.utils.compare`), medians. The goal is
ours >= 1.0x TL's tokens/s. The plain forward vs HF lives in `bench_transformer_forward.py`,
whose model builders are reused here.
"""

import statistics
import sys

import torch
from bench_transformer_forward import gpt2_models, tl_twin

from arena_core.interp.cache import (
    hooked_transformer_from_hf_dir,
    run_with_cache,
    smollm2_hf_dir,
)
from arena_core.utils import compare


def gpt2_pair():
    label, ours, hf = gpt2_models()
    del hf
    return label, ours.eval(), tl_twin(ours)


def smollm2_pair():
    from arena_core.models import load_smollm2

    ours, _ = load_smollm2()
    return (
        "SmolLM2-135M (real weights)",
        ours,
        hooked_transformer_from_hf_dir(smollm2_hf_dir(), n_ctx=512),
    )


def bench(label, ours, tl, batch, pos, rounds, threads):
    torch.set_num_threads(threads)
    tokens = torch.randint(0, ours.cfg.d_vocab, (batch, pos))
    our_logits, our_cache = run_with_cache(ours, tokens)
    tl_logits, tl_cache = run_with_cache(tl, tokens)
    # sanity: same logits, and ours caches every hook point TL has (TL 3.9 adds two unembed hooks)
    assert (our_logits - tl_logits).abs().max() < 1e-2, "ours != TL"
    assert set(our_cache) <= set(tl_cache), set(our_cache) - set(tl_cache)
    n_ours, n_tl = len(our_cache), len(tl_cache)
    del our_cache, tl_cache
    result = compare(
        {"tl": lambda: run_with_cache(tl, tokens), "ours": lambda: run_with_cache(ours, tokens)},
        reference="tl",
        rounds=rounds,
    )
    n_tok = batch * pos
    print(f"\n== {label}: batch {batch} x {pos} tokens, {threads} thread(s); "
          f"hooks cached: ours {n_ours}, TL {n_tl} ==")  # fmt: skip
    print(result.table())
    return {
        "ours_tok_s": n_tok / result.medians["ours"],
        "tl_tok_s": n_tok / result.medians["tl"],
        "ratio": result.medians["tl"] / result.medians["ours"],
    }


def main(argv: list[str]) -> None:
    quick = "--quick" in argv
    rounds = 3 if quick else 7
    rows = {}
    for make in (gpt2_pair, smollm2_pair):
        label, ours, tl = make()
        with torch.no_grad():
            for threads in (1, 2):
                rows[(label, threads)] = bench(label, ours, tl, 2, 128, rounds, threads)
        del ours, tl
    print(f"\n== summary (torch {torch.__version__}, fp32, batch 2 x 128 tokens, full cache) ==")
    print(f"{'model':32s} {'threads':>7s} {'ours tok/s':>11s} {'TL tok/s':>10s} {'ours/TL':>8s}")
    for (label, threads), r in rows.items():
        print(f"{label:32s} {threads:7d} {r['ours_tok_s']:11.0f} {r['tl_tok_s']:10.0f} "
              f"{r['ratio']:7.2f}x")  # fmt: skip
    median = statistics.median(r["ratio"] for r in rows.values())
    print(f"median ratio, ours / TransformerLens tokens/s (goal >= 1.0x): {median:.2f}x")


if __name__ == "__main__":
    main(sys.argv[1:])
