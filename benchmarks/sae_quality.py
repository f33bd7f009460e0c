"""Quality of the cached residual SAE (`arena_core.sae.pretrained`) by kind of text (days 47–50).

Run:  python benchmarks/sae_quality.py [--rows-per-source N] [--smoke]
Loads (or, the first time, trains) the SAE that days 47–50 use and scores it on held-out rows of
each corpus source: rows drawn with another seed, minus any row the SAE was trained on. For each
source: L0, fraction of variance explained, dead fraction, and CE loss recovered when the
reconstruction is spliced into SmolLM2-135M-Instruct (against mean- and zero-ablation; positions
above the norm cap keep their clean activation, as on day 46). The point is a per-source view:
an SAE trained on a mix can be good on average and poor on one kind of text.
"""

import argparse
import sys

import torch

from arena_core.models import load_model
from arena_core.sae.corpus import SOURCES, build_corpus
from arena_core.sae.evaluate import ce_loss_recovered, sae_stats
from arena_core.sae.pretrained import MASSIVE, SMOKE_RECIPE, SAERecipe, drop_massive, pretrained_sae
from arena_core.sae.store import token_activations


def main(argv: list[str]) -> dict:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows-per-source", type=int, default=24)
    ap.add_argument("--smoke", action="store_true", help="the small SAE, 2 rows per source")
    a = ap.parse_args(argv)
    torch.set_num_threads(1)
    lm = load_model("smollm2-135m")
    model, tok = lm.model.eval(), lm.tokenizer
    recipe = SMOKE_RECIPE if a.smoke else SAERecipe()
    p = pretrained_sae(model, tok, "smollm2-135m", recipe)
    n = 2 if a.smoke else a.rows_per_source
    seen = {tuple(r) for r in p.corpus.rows}
    chat_model = model if recipe.with_chat else None
    mix = {s: 1 for s in SOURCES}
    n_rows = 8 * n * len(SOURCES)
    fresh = build_corpus(tok, n_rows, recipe.seq_len, mix, chat_model, recipe.seed + 1)
    train_rows = p.corpus.rows[: len(p.corpus) - recipe.held_rows]
    x_train = token_activations(model, train_rows[: 16 if a.smoke else 64], p.hook)
    median = x_train.norm(dim=1).median().item()
    mean_act = drop_massive(x_train, median).mean(0)
    out = {"sae": str(p.folder.name), "trained_on": p.meta["corpus"], "sources": {}}
    print(f"SAE {p.folder.name}: {p.meta['corpus']}")
    print(f"{'source':12s} {'rows':>5s} {'L0':>7s} {'FVE':>7s} {'dead':>6s} "
          f"{'CE clean':>9s} {'spliced':>8s} {'rec. vs mean':>13s} {'vs zero':>8s}")  # fmt: skip
    for s in SOURCES:
        rows = [r for r, src in zip(fresh.rows, fresh.source, strict=True)
                if src == s and tuple(r) not in seen][:n]  # fmt: skip
        if not rows:
            print(f"{s:12s} no held-out rows (all of this source's text was used in training)")
            continue
        x = drop_massive(token_activations(model, rows, p.hook), median)
        st = sae_stats(p.sae, x)
        tokens = torch.tensor(rows)
        mask = torch.ones_like(tokens)
        ce = ce_loss_recovered(model, p.sae, tokens, mask, p.hook, mean_act, MASSIVE * median)
        out["sources"][s] = {"rows": len(rows), "l0": st.l0, "fve": st.fve,
                             "dead_fraction": st.dead_fraction, **ce}  # fmt: skip
        print(f"{s:12s} {len(rows):5d} {st.l0:7.1f} {st.fve:7.3f} {st.dead_fraction:6.3f} "
              f"{ce['ce_clean']:9.3f} {ce['ce_spliced']:8.3f} {ce['recovered_vs_mean']:13.3f} "
              f"{ce['recovered_vs_zero']:8.3f}")  # fmt: skip
    return out


if __name__ == "__main__":
    main(sys.argv[1:])
