"""Activation extraction for probes: ours vs nnsight `.trace()` vs TransformerLens (days 39–44).

Run:  python benchmarks/bench_activations.py [--quick]
Tokens/s of reading the residual stream at a few layers, last token, for a set of prompts — what
a probe needs (issue 13 §3) — on SmolLM2-135M-Instruct with its real weights, fp32, at 1 and 2
torch threads:
- ours: `arena_core.probes.activations.extract_activations` (stops the forward after the deepest
  requested layer, no unembedding);
- nnsight 0.8: `LanguageModel(hf_model).trace(...)` on HF's `LlamaForCausalLM` with the same
  weights, `.save()` of `model.layers[L].output[:, -1]`, whole forward and with `tracer.stop()`
  after the deepest layer;
- TransformerLens 3.9: `run_with_cache(names_filter=hooks)` on a `HookedTransformer` converted by
  TL itself from the same HF directory, whole forward and with `stop_at_layer=L+1`.
All get the same token ids, left-padded the same way, in the same batches, and must agree on the
activations (checked before timing). The references do their own batching over the same padded
batches; the goal is ours >= 1.0x the faster reference (tokens/s, interleaved rounds, medians).
"""

import statistics
import sys

import beartype  # noqa: F401  (before nnsight, which patches `object`; see shared/offline.md)
import torch

from arena_core.data.facts import load_dataset
from arena_core.interp.cache import hooked_transformer_from_hf_dir, smollm2_hf_dir
from arena_core.models import load_model
from arena_core.probes.activations import extract_activations, pad_batch, tokenize
from arena_core.utils import compare

LAYERS = (6, 15)
HOOKS = [f"blocks.{layer}.hook_resid_post" for layer in LAYERS]
N_PROMPTS, BATCH = 64, 16


def load_all():
    from nnsight import LanguageModel
    from transformers import AutoModelForCausalLM

    lm = load_model("smollm2-135m")
    hf_dir = smollm2_hf_dir()
    hf = AutoModelForCausalLM.from_pretrained(str(hf_dir), dtype=torch.float32).eval()
    tl = hooked_transformer_from_hf_dir(hf_dir, n_ctx=512, hf_model=hf)
    nn_model = LanguageModel(hf, tokenizer=lm.tokenizer)
    return lm, hf, tl, nn_model


def batches(rows: list[list[int]], pad_id: int):
    """The padded batches every candidate sees (ours pads the same way internally)."""
    out = []
    for b0 in range(0, len(rows), BATCH):
        tokens, mask = pad_batch(rows[b0 : b0 + BATCH], pad_id, "left")
        # HF's Llama forward numbers positions 0..pos-1 whatever the mask: with left padding it
        # needs explicit position ids (ours and TL derive them from the mask).
        position_ids = (mask.cumsum(dim=1) - 1).clamp(min=0)
        out.append((tokens, mask, position_ids))
    return out


def ours_fn(model, rows, tok):
    return lambda: extract_activations(model, rows, HOOKS, "last", BATCH, "left", tokenizer=tok)


def tl_fn(tl, padded, stop: bool):
    stop_at = max(LAYERS) + 1 if stop else None

    def run():
        got = {h: [] for h in HOOKS}
        with torch.no_grad():
            for tokens, mask, _ in padded:
                _, cache = tl.run_with_cache(
                    tokens,
                    attention_mask=mask,
                    padding_side="left",
                    names_filter=HOOKS,
                    stop_at_layer=stop_at,
                )
                for h in HOOKS:
                    got[h].append(cache[h][:, -1])
        return {h: torch.cat(v) for h, v in got.items()}

    return run


def nnsight_fn(nn_model, padded, stop: bool):
    layers = nn_model.model.layers

    def run():
        got = {h: [] for h in HOOKS}
        with torch.no_grad():
            for tokens, mask, position_ids in padded:
                inputs = {"input_ids": tokens, "attention_mask": mask}
                saved = []  # filled inside the trace (names bound there do not reach this frame)
                with nn_model.trace(inputs, position_ids=position_ids) as tracer:
                    # a decoder layer returns the residual stream itself (transformers >= 4.56)
                    for layer in LAYERS:
                        saved.append(layers[layer].output[:, -1].save())
                    if stop:
                        tracer.stop()
                for h, s in zip(HOOKS, saved, strict=True):
                    got[h].append(s)
        return {h: torch.cat(v) for h, v in got.items()}

    return run


def bench(candidates, n_tok, rounds, threads):
    torch.set_num_threads(threads)
    result = compare(candidates, reference="ours", rounds=rounds)
    print(f"\n== {threads} thread(s): {n_tok} real tokens per call ==")
    print(result.table())
    return {name: n_tok / t for name, t in result.medians.items()}


def main(argv: list[str]) -> None:
    quick = "--quick" in argv
    rounds = 3 if quick else 7
    try:
        import nnsight  # noqa: F401
    except ImportError:
        print("bench_activations: skipped, nnsight is not installed (pip install -e '.[dev]')")
        return
    lm, hf, tl, nn_model = load_all()
    tok = lm.tokenizer
    prompts = load_dataset("cities", seed=0).prompts[:N_PROMPTS]
    rows = tokenize(tok, prompts)
    padded = batches(rows, tok.pad_token_id or 0)
    n_tok = sum(len(r) for r in rows)
    candidates = {
        "ours": ours_fn(lm.model, rows, tok),
        "nnsight": nnsight_fn(nn_model, padded, stop=False),
        "nnsight+stop": nnsight_fn(nn_model, padded, stop=True),
        "TL": tl_fn(tl, padded, stop=False),
        "TL+stop_at_layer": tl_fn(tl, padded, stop=True),
    }
    # the same numbers first: a benchmark of wrong activations is worthless
    ours = candidates["ours"]()
    for name, fn in candidates.items():
        theirs = fn()
        for h in HOOKS:
            diff = (theirs[h] - ours[h]).abs().max().item()
            scale = ours[h].abs().max().item()
            print(f"check {name:17s} {h}: max |diff| {diff:.2e} (max |act| {scale:.1f})")
            assert diff <= 1e-4 * max(scale, 1.0), f"{name} disagrees with ours at {h}"
    rows_out = {t: bench(candidates, n_tok, rounds, t) for t in (1, 2)}
    names = list(candidates)
    print(
        f"\n== summary (torch {torch.__version__}, fp32, SmolLM2-135M, {N_PROMPTS} prompts, "
        f"batch {BATCH}, {', '.join(HOOKS)}, last token) =="
    )
    print(f"{'threads':>7s} " + " ".join(f"{n + ' tok/s':>22s}" for n in names))
    for t, r in rows_out.items():
        print(f"{t:7d} " + " ".join(f"{r[n]:22.0f}" for n in names))
    ratios = []
    for t, r in rows_out.items():
        best = max((n for n in names if n != "ours"), key=lambda n: r[n])
        ratios.append(r["ours"] / r[best])
        print(f"{t} thread(s): ours / fastest reference ({best}) = {ratios[-1]:.2f}x")
    print(
        f"median ratio, ours / fastest reference (goal >= 1.0x): {statistics.median(ratios):.2f}x"
    )


if __name__ == "__main__":
    main(sys.argv[1:])
