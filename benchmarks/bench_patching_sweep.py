"""A full head x position activation-patching sweep: ours vs TransformerLens (days 53–55).

Run:  python benchmarks/bench_patching_sweep.py [--layers 4] [--batch 2] [--threads 1]

The sweep patches one head's output `hook_z` at one position from the clean run into the
corrupted run and scores the normalised IOI logit difference, for every (layer, position, head):
`layers x positions x heads` forward passes in TransformerLens
(`transformer_lens.patching.get_act_patch_attn_head_out_by_pos`), and ours
(`arena_core.interp.patching_heads.patch_head_out_by_pos`), which runs `--cells-per-pass` cells per
pass and starts each pass at the patched layer from the cached corrupted residual stream.

Model: SmolLM2-135M-Instruct cut to its first `--layers` blocks (real weights, then the final norm
and the tied unembedding), because the full 30-layer sweep (3,780 passes at batch 2 x 14 tokens)
takes about 20 minutes per side on TL on this machine. TL side: `transformer_lens_twin`, our
weights in a HookedTransformer (same architecture: 9 query heads, 3 KV heads, RoPE, RMSNorm,
gated MLP). Same prompts (IOI template 1, "abc" corruption: three fresh names), same thread
count, full logits on both sides (ours is not allowed `last_only`). The two grids must agree.
Interleaved rounds (`arena_core.utils.compare`), medians; goal ours >= 1.0x TL's speed.
"""

import argparse
import os
import sys

os.environ.setdefault("TQDM_DISABLE", "1")  # TL's sweep draws a bar per cell

import torch

from arena_core.data.ioi import corrupt, ioi_dataset
from arena_core.interp.patching import logit_diff, patching_setup
from arena_core.interp.patching_heads import patch_head_out_by_pos
from arena_core.models import load_model
from arena_core.transformer.config import SMOLLM2_135M
from arena_core.transformer.llama import Llama
from arena_core.transformer.tl_twin import transformer_lens_twin
from arena_core.utils import compare


def truncated_smollm2(n_layers: int) -> Llama:
    """SmolLM2-135M-Instruct's first `n_layers` blocks, its final norm and unembedding."""
    full = load_model("smollm2-135m").model
    model = Llama(SMOLLM2_135M.with_(n_layers=n_layers), init=False)
    keep = {k: v for k, v in full.state_dict().items()
            if not k.startswith("blocks.") or int(k.split(".")[1]) < n_layers}  # fmt: skip
    model.load_state_dict(keep)
    return model.eval()


def main(argv: list[str]) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--batch", type=int, default=2)
    p.add_argument("--template", type=int, default=1)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--cells-per-pass", type=int, default=16)
    p.add_argument("--rounds", type=int, default=1)
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    tok = load_model("smollm2-135m").tokenizer
    ours = truncated_smollm2(a.layers)
    tl = transformer_lens_twin(ours)
    clean = ioi_dataset(tok, a.batch, seed=0, templates=(a.template,))
    abc = corrupt(tok, clean, "abc", seed=0)
    clean_tokens, corrupted = torch.tensor(clean.tokens), torch.tensor(abc.tokens)
    answers = torch.tensor([clean.io_ids, clean.s_ids]).T
    s = patching_setup(ours, clean_tokens, corrupted, answers)
    # The cut model has no IOI behaviour (clean and abc LD nearly equal), so the normalised
    # metric would divide by ~0 and magnify float32 rounding: both sides score the raw mean LD.
    s.metric = lambda logits: logit_diff(logits, answers)
    with torch.no_grad():
        _, tl_cache = tl.run_with_cache(clean_tokens)
    cells = a.layers * corrupted.shape[1] * ours.cfg.n_heads
    print(f"{a.layers} layers x {corrupted.shape[1]} positions x {ours.cfg.n_heads} heads = "
          f"{cells} cells; batch {a.batch}; {a.threads} thread(s); LD clean "
          f"{s.clean_logit_diff:.3f}, corrupted {s.corrupted_logit_diff:.3f}")  # fmt: skip
    grids = {}

    def run_tl():
        import transformer_lens.patching as tlp

        with torch.no_grad():
            grids["tl"] = tlp.get_act_patch_attn_head_out_by_pos(tl, corrupted, tl_cache, s.metric)

    def run_ours():
        grids["ours"] = patch_head_out_by_pos(
            ours, corrupted, s.clean_cache, s.metric, cells_per_pass=a.cells_per_pass,
            show_progress=False,
        )  # fmt: skip

    result = compare({"tl": run_tl, "ours": run_ours}, reference="tl", rounds=a.rounds, warmup=0)
    diff = (grids["ours"] - grids["tl"].double()).abs().max().item()
    print(result.table())
    ratio = result.medians["tl"] / result.medians["ours"]
    print(f"TL {result.medians['tl']:.1f} s, ours {result.medians['ours']:.1f} s; speed ours / TL "
          f"{ratio:.2f}x (goal >= 1.0x); max |grid difference| {diff:.2e}")  # fmt: skip
    assert diff < 1e-3, "the two grids disagree"  # float32 logits of size ~10


if __name__ == "__main__":
    main(sys.argv[1:])
