"""Greedy decoding speed: our KV-cache `generate` vs HuggingFace `generate` and TransformerLens
`HookedTransformer.generate`, and our KV cache vs recomputing the whole sequence every step.

Two models, fp32, batch 1, a 16-token prompt, exactly N new tokens (no early stop):
- GPT-2 small's architecture (124 M parameters) with random weights: HF `GPT2LMHeadModel` built from
  a config, the same weights copied into our `GPT2` and into a `HookedTransformer`;
- SmolLM2-135M offline (our `Llama` from the model registry vs HF's `LlamaForCausalLM` dequantised
  from the same GGUF; TransformerLens is not run on it).
Interleaved timing (`arena_core.utils.compare`), same thread count for everyone; ratios last.

Goals (issue "Module 1a"): ours >= 0.9x HF's tokens/s, >= 3x TransformerLens', and the KV cache
>= 4x faster than recomputation at 64 new tokens.

Findings (2026-11-22). A first run on a machine with load average ~15 gave garbage timings (0.70x
HF). A profile then put ~40% of a decode step in re-building the fused QKV weight; `attention.py`
now caches it. Further decode-path changes: `generate` asks for the last position's logits only
(`model(..., last_only=True)`: GPT-2's 50,257 x 768 unembedding once per step instead of once per
position), the KV cache is preallocated (`KVCache.empty(capacity=...)`, written in place, no
`torch.cat` of the whole history per step), an unpadded one-token step builds no mask, and Llama's
RoPE cos/sin come from a table computed once. A torch.profiler trace of a cached GPT-2 decode step
is now ~89% matmuls (addmm + the unembedding mm): at batch 1 a step is bound by reading the weights.

Measured (load ~1-2, 2 threads, 5 interleaved rounds, 16-token prompt, 64 new tokens):
GPT-2 small 47.9 tok/s vs HF 44.3 (1.08x) and TransformerLens 7.2 (6.70x); SmolLM2-135M 33.0
vs HF 32.4 (1.02x). The KV-cache speedup over the same `generate(use_cache=False)` is 2.67x
(GPT-2) and 2.50x (SmolLM2): the 4x goal is MISSED at the spec's setting. Why: with a 16-token
prompt the no-cache path re-runs at most 80 positions per step, and a step of <= 80 positions
costs little more than a 1-position step because both read every weight once (the no-cache path
also gets `last_only`, which made it faster: 2.67x now vs 3.32x before these changes). With a
128-token prompt (`--prompt-tokens 128 --skip-tl`; its summary line says "128-token prompt") the
goal is met: 5.32x (GPT-2) and 5.06x (SmolLM2), with ours at 1.08x / 1.04x HF's tokens/s.

Run: python benchmarks/bench_generation.py [--threads 2] [--new-tokens 64] [--rounds 5]
                                           [--prompt-tokens 16] [--skip-smollm2] [--skip-tl]
"""

import argparse
import platform
import time

import torch

from arena_core.transformer.generate import generate
from arena_core.utils import compare


def gpt2_small_models(seed: int = 0):
    from transformers import GPT2Config, GPT2LMHeadModel

    from arena_core.models import gpt2_from_hf_model
    from arena_core.transformer.tl_twin import transformer_lens_twin

    torch.manual_seed(seed)
    hf = GPT2LMHeadModel(GPT2Config(n_ctx=1024)).eval()
    ours = gpt2_from_hf_model(hf)
    return ours, hf, transformer_lens_twin(ours, dtype=torch.float32)


def smollm2_models():
    from arena_core.models import load_hf_smollm2, load_model

    return load_model("smollm2-135m").model, load_hf_smollm2()


def candidates(ours, hf, tl, prompt: torch.Tensor, n_new: int) -> dict:
    ids = prompt[0].tolist()

    def run_ours():
        return generate(ours, [ids], n_new, use_cache=True).new_tokens[0]

    def run_ours_no_cache():
        return generate(ours, [ids], n_new, use_cache=False).new_tokens[0]

    @torch.inference_mode()
    def run_hf():
        out = hf.generate(
            input_ids=prompt,
            attention_mask=torch.ones_like(prompt),
            do_sample=False,
            max_new_tokens=n_new,
            min_new_tokens=n_new,
            pad_token_id=0,
            eos_token_id=None,
        )
        return out[0, prompt.shape[1] :].tolist()

    cands = {
        "ours (KV cache)": run_ours,
        "ours (no cache)": run_ours_no_cache,
        "HF generate": run_hf,
    }
    if tl is not None:

        @torch.inference_mode()
        def run_tl():
            out = tl.generate(
                prompt,
                max_new_tokens=n_new,
                do_sample=False,
                stop_at_eos=False,
                use_past_kv_cache=True,
                verbose=False,
                return_type="tokens",
            )
            return out[0, prompt.shape[1] :].tolist()

        cands["TransformerLens generate"] = run_tl
    return cands


def bench(label: str, cands: dict, n_new: int, rounds: int) -> dict[str, float]:
    outputs = {name: fn() for name, fn in cands.items()}
    ref = outputs["HF generate"]
    for name, toks in outputs.items():
        same = sum(a == b for a, b in zip(toks, ref, strict=False))
        print(
            f"  [{label}] {name}: {len(toks)} tokens, {same}/{len(ref)} equal to HF's greedy tokens"
        )
    result = compare(cands, reference="ours (KV cache)", rounds=rounds, warmup=0)
    print(f"\n{label}: {n_new} new tokens, batch 1\n{result.table()}")
    return {name: n_new / sec for name, sec in result.medians.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--new-tokens", type=int, default=64)
    parser.add_argument("--prompt-tokens", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--skip-smollm2", action="store_true")
    parser.add_argument("--skip-tl", action="store_true", help="leave TransformerLens out")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; "
        f"{platform.processor() or platform.machine()}; torch {torch.__version__}; "
        f"{torch.get_num_threads()} threads"
    )

    prompt = torch.randint(
        100, 5000, (1, args.prompt_tokens), generator=torch.Generator().manual_seed(0)
    )
    results = {}
    ours, hf, tl = gpt2_small_models()
    tl = None if args.skip_tl else tl
    results["GPT-2 small (random)"] = bench(
        "GPT-2 small (random weights)",
        candidates(ours, hf, tl, prompt, args.new_tokens),
        args.new_tokens,
        args.rounds,
    )
    del ours, hf, tl
    if not args.skip_smollm2:
        ours, hf = smollm2_models()
        results["SmolLM2-135M"] = bench(
            "SmolLM2-135M",
            candidates(ours, hf, None, prompt, args.new_tokens),
            args.new_tokens,
            args.rounds,
        )

    print(
        f"\ntokens/s (median of {args.rounds} interleaved rounds) and ratios; "
        f"{args.prompt_tokens}-token prompt, {args.new_tokens} new tokens"
    )
    for label, tps in results.items():
        cache = tps["ours (KV cache)"]
        parts = [f"{name} {v:.1f}" for name, v in tps.items()]
        print(f"{label}: " + ", ".join(parts))
        print(f"  ours / HF generate:            {cache / tps['HF generate']:.2f}x  (goal >= 0.9x)")
        if "TransformerLens generate" in tps:
            print(
                f"  ours / TransformerLens:        "
                f"{cache / tps['TransformerLens generate']:.2f}x  (goal >= 3x)"
            )
        print(
            f"  KV cache / no cache at {args.new_tokens}:     "
            f"{cache / tps['ours (no cache)']:.2f}x  (goal >= 4x)"
        )


if __name__ == "__main__":
    main()
