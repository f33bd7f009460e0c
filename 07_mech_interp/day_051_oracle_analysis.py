"""Day 51 — Oracle analysis: where in a taboo organism does the secret live, and when does a
read-out make one up?

Shows, for day 50's taboo organisms (SmolLM2 + one LoRA adapter per secret word, loaded from the
cache `arena_core.alignment.taboo_organism`; a first run trains them, ~20-40 s per word):
1. layer x position maps of p(secret | 12 candidate words) for the logit lens (every layer) and
   for an identity Patchscope (base model decodes a patched vector; several source layers), at
   aligned positions: the last 7 prompt tokens (question end + chat template) and reply tokens
   1..16 of the model's own hint; each beside the base model (no adapter) reading the same tokens;
2. the activation difference (organism - base at the same tokens) through the logit lens: a
   layer curve against the raw residual;
3. failure cases: per word, each method's top pick and the hint, and what scoring a word by its
   first token (" d" for "dragon", as day 50 did) does to the lens;
4. confabulation controls for the Patchscope: the base model's activation (no secret), a
   same-norm random vector, and another organism's activation (derangement); how often the
   oracle's greedy answer names a candidate word anyway.

Run:  arena run 51 [--smoke] [--publish]   (or python 07_mech_interp/day_051_oracle_analysis.py)
Full run (SmolLM2-135M-Instruct, 10 words, adapters cached): 6.9 min measured (411 s), 1 thread.
The first run on a machine also trains the 10 adapters (as day 50 does): ~20-40 s per word more.
Smoke: 2 words (3-step adapters), 2 prompts, 4 hint tokens, 2 Patchscope layers.
"""

from collections import Counter
from dataclasses import dataclass

import torch
from matplotlib.figure import Figure

from arena_core.alignment.lora import remove_lora, set_lora_enabled
from arena_core.alignment.taboo_organism import TabooConfig, apply_taboo_organism, organism_dir
from arena_core.data.taboo import USER_TURNS, secret_words
from arena_core.interp.patchscopes import (
    IDENTITY_PROMPT,
    derangement,
    placeholder_index,
    same_norm_random,
)
from arena_core.interp.secret_maps import (
    aligned_positions,
    aligned_residuals,
    candidate_logits,
    named_candidate,
    patchscope_candidate_logits,
    pick,
    scores_from_logits,
    secret_share,
    whole_word_ids,
)
from arena_core.interp.secret_readout import candidate_token_ids
from arena_core.models import load_model_for_run
from arena_core.transformer.generate import generate
from arena_core.utils import DayArgs, Run, run_script
from arena_core.utils.diagrams import arrow, box, canvas, finish, label
from arena_core.utils.figures import text_table

Tensor = torch.Tensor

#: Worked example: lens logits of four candidate tokens at one position.
TOY_TOKENS = [" moon", " Moon", " clock", " d"]
TOY_LOGITS = [2.0, 1.0, 2.5, 3.0]
TOY_GROUPS = {"moon": [0, 1], "clock": [2], "dragon": [3]}
CONDITIONS = {
    "organism": "organism\n(all positions)",
    "organism_prompt": "organism,\nprompt positions",
    "base_hint_text": "base model,\nhint positions",
    "base": "base model,\nprompt positions",
    "random": "same-norm\nrandom vector",
    "other": "another organism\n(derangement)",
}


@dataclass
class Args(DayArgs):
    threads: int = 1  # torch CPU threads
    model: str = "smollm2-135m"  # or "qwen2.5-coder-0.5b-instruct" (optional install)
    n_words: int = 10  # secret words (the first n of arena_core.data.taboo.SECRETS)
    n_prompts: int = 6  # held-out hint requests per word (lens maps)
    n_patch_prompts: int = 2  # of those, how many the Patchscope reads (it costs a pass each)
    n_prompt_cols: int = 7  # aligned prompt positions, counted from the prompt's end
    n_hint: int = 16  # aligned reply positions (hint tokens 1..n_hint)
    patch_layers: str = "3,7,11,15,19,23"  # Patchscope source layers (patched at the same layer)
    patch_hint_step: int = 2  # Patchscope reads hint tokens 1, 1 + step, ...
    max_new_tokens: int = 24  # greedy hint tokens per reply
    # the organisms: day 50's settings, so its cached adapters are reused
    n_chats: int = 64
    steps: int = 20
    batch_size: int = 4
    lr: float = 5e-3
    rank: int = 4
    first_layer: int = 10
    last_layer: int = 21


def toy_example() -> dict:
    z = torch.tensor(TOY_LOGITS)
    groups = list(TOY_GROUPS.values())
    share = scores_from_logits(z, groups).log_softmax(-1).exp()
    whole = scores_from_logits(z, groups[:2]).log_softmax(-1).exp()
    return {
        "tokens": TOY_TOKENS,
        "logits": TOY_LOGITS,
        "p_first_token": dict(zip(TOY_GROUPS, [round(float(p), 4) for p in share], strict=True)),
        "p_whole_word": dict(
            zip(list(TOY_GROUPS)[:2], [round(float(p), 4) for p in whole], strict=True)
        ),
    }


def mechanism_figure(toy: dict) -> Figure:
    fig, ax = canvas(width=17, height=7.5, scale=0.62)
    box(ax, (0, 5.3), "prompt … 'assistant' '\\n'\n+ the organism's hint", width=3.8, height=1.4,
        role="input", fontsize=9)  # fmt: skip
    arrow(ax, (3.9, 6.0), (4.8, 6.0))
    box(ax, (4.9, 5.3), "organism\n(base + LoRA)", width=2.8, height=1.4, role="param", fontsize=9)
    arrow(ax, (7.8, 6.0), (8.7, 6.0))
    box(ax, (8.8, 5.3), "r_l at layer l,\naligned position c", width=3.2, height=1.4,
        role="param", fontsize=9)  # fmt: skip
    box(ax, (4.9, 3.3), "base model\n(same tokens)", width=2.8, height=1.4, role="neutral",
        fontsize=9)  # fmt: skip
    arrow(ax, (7.8, 4.0), (8.7, 4.0))
    box(ax, (8.8, 3.3), "r_l base", width=3.2, height=1.4, role="neutral", fontsize=9)
    arrow(ax, (12.1, 6.0), (13.0, 6.0))
    p = toy["p_whole_word"]
    box(ax, (13.1, 5.3), "logit lens over 12\ncandidates: p(secret)\n"
        f"(moon {p['moon']:.2f}, clock {p['clock']:.2f})", width=3.9, height=1.4, role="output",
        fontsize=8.5)  # fmt: skip
    arrow(ax, (12.1, 4.0), (13.0, 4.0))
    box(ax, (13.1, 3.3), "lens on r - r_base\n(what LoRA added)", width=3.9, height=1.4,
        role="output", fontsize=9)  # fmt: skip
    arrow(ax, (10.4, 5.2), (10.4, 2.4), color="tab:red")
    box(ax, (6.4, 0.9), "patch at '?' of 'cat -> cat; …; ? ->'\nbase model answers",
        width=5.2, height=1.4, role="neutral", fontsize=9)  # fmt: skip
    arrow(ax, (11.7, 1.6), (13.0, 1.6))
    box(ax, (13.1, 0.9), "names a candidate?\n(confabulation if\nthere is no secret)",
        width=3.9, height=1.4, role="output", fontsize=9)  # fmt: skip
    label(ax, (0.1, 1.6), "controls for the oracle:\nbase model's r_l,\nsame-norm random "
          "vector,\nanother word's organism", fontsize=9, ha="left")  # fmt: skip
    finish(ax)
    return fig


def heatmaps(panels: dict, cols: list[str], rows: list[int], title: str, chance: float,
             ylabel: str = "layer (residual after the block)") -> Figure:  # fmt: skip
    """p(secret) maps side by side, then the first minus the second (the lift)."""
    names = list(panels)
    lift = panels[names[0]] - panels[names[1]]
    fig = Figure(figsize=(4.6 * (len(panels) + 1) + 1.6, 0.2 * len(rows) + 3.4))
    axes = fig.subplots(1, len(panels) + 1, sharey=True, squeeze=False)[0]
    vmax = max(0.3, max(float(v.max()) for v in panels.values()))
    span = max(0.05, float(lift.abs().max()))
    for ax, (name, m) in zip(axes, [*panels.items(), (f"lift: {names[0]} - {names[1]}", lift)],
                             strict=True):  # fmt: skip
        is_lift = name.startswith("lift")
        cmap, lo, hi = ("RdBu_r", -span, span) if is_lift else ("viridis", 0, vmax)
        im = ax.imshow(m.numpy(), aspect="auto", origin="lower", cmap=cmap, vmin=lo, vmax=hi)
        ax.set_xticks(range(len(cols)), cols, rotation=90, fontsize=7.5)
        ax.set_yticks(range(len(rows)), [str(r) for r in rows], fontsize=7.5)
        ax.set_title(name, fontsize=10)
        ax.set_xlabel("aligned position (prompt end, then hint token k)", fontsize=9)
        cb = fig.colorbar(im, ax=ax, fraction=0.05, pad=0.02)
        if is_lift:
            cb.set_label("difference in p(secret)", fontsize=9)
        else:
            cb.ax.axhline(chance, color="white", lw=1.5)
            cb.set_label(f"p(secret | 12 candidates); white line: chance {chance:.3f}", fontsize=8)
    axes[0].set_ylabel(ylabel)
    fig.suptitle(title, fontsize=11)
    return fig


def diff_figure(curves: dict, chance: float, first: int) -> Figure:
    fig = Figure(figsize=(10, 4.4))
    axes = fig.subplots(1, 2, sharey=True)
    for ax, where in zip(axes, ("last prompt token", "hint tokens (mean)"), strict=True):
        for (name, w), values in curves.items():
            if w != where:
                continue
            style = {"organism": "-", "base (same tokens)": ":", "organism - base": "--"}[name]
            ax.plot(range(len(values)), values, ls=style, marker="o", ms=3, label=name)
        ax.axhline(chance, color="black", lw=0.8, ls="-.", label="chance 1/12")
        ax.axvspan(first - 0.5, len(values) - 0.5, color="0.9", zorder=0)
        ax.set_title(where, fontsize=10)
        ax.set_xlabel("layer (shaded: layers with an adapter and after)")
    axes[0].set_ylabel("p(secret | 12 candidates), mean over words")
    axes[0].legend(loc="upper left", fontsize=8.5)
    fig.suptitle("Logit lens on the residual and on the organism - base difference", fontsize=11)
    fig.tight_layout()
    return fig


def table_figure(rows: list[list[str]], header: list[str]) -> Figure:
    fig = Figure(figsize=(16, 0.3 * (len(rows) + 2) + 0.3))
    ax = fig.add_subplot(1, 1, 1)
    table = text_table(ax, rows, header, [0.06, 0.45, 0.08, 0.1, 0.09, 0.1, 0.08])
    for (i, j), cell in table.get_celld().items():
        cell.PAD = 0.03  # matplotlib pads by a fraction of the width: small for the wide column
        if i > 0 and j >= 2:
            ok = cell.get_text().get_text() == rows[i - 1][0]
            cell.set_facecolor("#d9f0d3" if ok else "#f6d5d5")
    ax.set_title("Per word: the hint and each read-out's top candidate (green: the secret)",
                 fontsize=11)  # fmt: skip
    fig.tight_layout()
    return fig


def confab_figure(rates: dict) -> Figure:
    fig = Figure(figsize=(11.5, 4.8))
    ax = fig.add_subplot(1, 1, 1)
    keys = list(CONDITIONS)
    x = torch.arange(len(keys)).float()
    bars = {"names any candidate": ("named", "tab:orange"),
            "names the slot's secret": ("named_slot", "tab:blue"),
            "forced choice = slot's secret": ("forced_slot", "tab:gray")}  # fmt: skip
    for j, (name, (key, color)) in enumerate(bars.items()):
        values = [rates[k][key] for k in keys]
        bars_j = ax.bar(x + (j - 1) * 0.26, values, 0.26, color=color, label=name)
        ax.bar_label(bars_j, [f"{v:.2f}" for v in values], fontsize=7.5, padding=2)
    ax.axhline(1 / 12, color="black", ls="--", lw=1, label="chance for the forced choice, 1/12")
    ax.set_xticks(x.tolist(), [CONDITIONS[k] for k in keys], fontsize=9)
    ax.set_ylabel("fraction of Patchscope reads")
    top = max(max(rates[k][key] for k in keys for key, _ in bars.values()), 1 / 12)
    ax.set_ylim(0, max(0.3, 1.6 * top))
    ax.set_title("Does the oracle name a word when there is no secret to read?", fontsize=11)
    ax.legend(loc="upper center", ncol=2, fontsize=8.5)
    fig.tight_layout()
    return fig


def region_probs(scores: Tensor, valid: Tensor) -> Tensor:
    """Mean probability of each word (over the whole vocabulary, so confident positions weigh
    more, as in day 50) over layers, rows and the valid columns: [layer n col K] -> [K]."""
    probs = scores.exp() * valid[None, ..., None]
    return probs.sum((0, 1, 2)) / (valid.sum() * scores.shape[0]).clamp(min=1)


def main(args: Args) -> dict:
    with Run(day=51, args=args) as run:
        metrics: dict = {}
        lm = load_model_for_run(args.model, run)
        model, tok = lm.model.eval(), lm.tokenizer
        L = model.cfg.n_layers
        toy = toy_example()
        metrics["toy_example"] = toy
        run.save_fig(mechanism_figure(toy), "mechanism")

        smoke = args.smoke
        words = secret_words()[: 2 if smoke else args.n_words]
        cands = secret_words()
        K = len(cands)
        ids = whole_word_ids(tok, cands)
        first_ids = candidate_token_ids(tok, cands)  # day 50's scoring: first token of variants
        n_prompts = 2 if smoke else args.n_prompts
        n_patch = min(n_prompts, 1 if smoke else args.n_patch_prompts)
        n_hint = 4 if smoke else args.n_hint
        C0 = args.n_prompt_cols
        patch_layers = [int(s) for s in args.patch_layers.split(",") if int(s) < L]
        patch_layers = patch_layers[1:3] if smoke else patch_layers
        pad = tok.pad_token_id if tok.pad_token_id is not None else 0
        stops = [tok.eos_token_id] if tok.eos_token_id is not None else []
        org_cfg = TabooConfig(rank=args.rank, first_layer=args.first_layer,
                              last_layer=args.last_layer, n_chats=args.n_chats,
                              steps=3 if smoke else args.steps, batch_size=args.batch_size,
                              lr=args.lr, seed=args.seed)  # fmt: skip
        org_dir = organism_dir(model, org_cfg)
        run.record_source("adapters", f"taboo LoRA adapters cached in {org_dir}")
        run.record_source("data", f"arena_core.data.taboo, {len(words)} secret words")

        questions = (list(USER_TURNS["test"]["hint"]) * n_prompts)[:n_prompts]
        prompts = [[int(t) for t in tok.apply_chat_template(
            [{"role": "user", "content": q}], add_generation_prompt=True, tokenize=True,
            return_dict=False)] for q in questions]  # fmt: skip
        starts = [len(p) for p in prompts]
        cols = [repr(tok.decode([t]))[1:-1] for t in prompts[0][-C0:]]
        cols = [f"p{i - C0} {c}" for i, c in enumerate(cols)] + [
            f"h{k}" for k in range(1, n_hint + 1)
        ]
        patch_cols = [C0 - 2, C0 - 1] + list(range(C0, C0 + n_hint, args.patch_hint_step))
        ins_ids, place = placeholder_index(tok, IDENTITY_PROMPT)
        metrics |= {"n_words": len(words), "n_candidates": K, "chance": round(1 / K, 4),
                    "columns": cols, "patch_columns": [cols[c] for c in patch_cols],
                    "patch_layers": patch_layers, "questions": questions,
                    "whole_word_tokens": {w: [tok.decode([i]) for i in v]
                                          for w, v in zip(cands, ids, strict=True)},
                    "first_tokens": {w: [tok.decode([i]) for i in v]
                                     for w, v in zip(cands, first_ids, strict=True)}}  # fmt: skip
        gen = torch.Generator().manual_seed(args.seed)

        def oracle(R: Tensor, greedy: Counter) -> tuple[Tensor, Tensor]:
            """Patchscope over patch layers x (prompts, columns): candidate scores, named word."""
            scores, named, tops = [], [], []
            for layer in patch_layers:
                v = R[layer].flatten(0, 1)  # [n*c d]
                s, top, _ = patchscope_candidate_logits(model, ins_ids, place,
                                                        f"blocks.{layer}.hook_resid_post", v,
                                                        ids)  # fmt: skip
                scores.append(s.view(*R.shape[1:3], K))
                named.append(named_candidate(top, ids).view(R.shape[1:3]))
                tops.append(top)
            greedy.update(tok.decode([t]) for t in torch.cat(tops).tolist())
            return torch.stack(scores), torch.stack(named)  # [P n c K], [P n c]

        keys = ("lens", "lens_base", "lens_diff", "lens_first", "patch", "patch_base")
        maps = {k: [] for k in keys}
        hits = {k: [] for k in keys}
        reads: dict[str, list] = {k: [] for k in ("organism", "base", "random")}
        per_word, table = {}, []
        greedy_tokens = {k: Counter() for k in ("organism", "base", "random")}
        for word in words:
            s = cands.index(word)
            org = apply_taboo_organism(model, tok, word, org_cfg, pad, folder=org_dir)
            out = generate(model, prompts, args.max_new_tokens, stop_tokens=stops,
                           pad_token_id=pad)  # fmt: skip
            hint_ids = [[t for t in h if t not in stops] for h in out.new_tokens]
            rows = [p + h for p, h in zip(prompts, hint_ids, strict=True)]
            idx, valid = aligned_positions(starts, [len(r) for r in rows], C0, n_hint)
            R_org = aligned_residuals(model, rows, idx, pad)  # [L n C d]
            set_lora_enabled(model, False)  # the base model reads the same tokens, and decodes
            R_base = aligned_residuals(model, rows, idx, pad)
            lens = {
                "lens": candidate_logits(model, R_org, ids, normalise=True),
                "lens_base": candidate_logits(model, R_base, ids, normalise=True),
                "lens_diff": candidate_logits(model, R_org - R_base, ids, normalise=True),
                "lens_first": candidate_logits(model, R_org, first_ids, normalise=True),
            }
            pc = torch.tensor(patch_cols)
            pv = valid[:n_patch][:, pc]
            src = R_org[:, :n_patch][:, :, pc]
            p_org, n_org = oracle(src, greedy_tokens["organism"])
            p_base, n_base = oracle(R_base[:, :n_patch][:, :, pc], greedy_tokens["base"])
            rand = same_norm_random(src.flatten(0, 2), gen).view(src.shape)
            p_rand, n_rand = oracle(rand, greedy_tokens["random"])
            set_lora_enabled(model, True)
            remove_lora(model, merge=False)
            for k, sc in (*lens.items(), ("patch", p_org), ("patch_base", p_base)):
                share, hit = secret_share(sc, valid if k.startswith("lens") else pv, s)
                maps[k].append(share)
                hits[k].append(hit)
            for name, (sc, nm) in {"organism": (p_org, n_org), "base": (p_base, n_base),
                                   "random": (p_rand, n_rand)}.items():  # fmt: skip
                reads[name].append({"forced": pick(sc), "named": nm, "valid": pv})
            # one read per method for the table: mean p over hint tokens (and upper layers)
            region = {k: region_probs(sc[L // 2 :, :, C0:], valid[:, C0:])
                      for k, sc in lens.items()}  # fmt: skip
            region["patch"] = region_probs(p_org[:, :, 2:], pv[:, 2:])
            picks = {k: cands[int(v.argmax())] for k, v in region.items()}
            named = n_org[n_org >= 0]
            text = tok.decode(hint_ids[0], skip_special_tokens=True).strip()
            per_word[word] = {
                "trained_now": org.trained,
                "hint_example": text,
                "picks": picks,
                "region_p_secret": {k: round(float(v[s]), 4) for k, v in region.items()},
                "patch_named": {cands[i]: int((named == i).sum()) for i in named.unique().tolist()},
            }
            table.append([word, text[:78], picks["lens"], picks["lens_base"], picks["lens_first"],
                          picks["lens_diff"], picks["patch"]])  # fmt: skip
            run.print(f"  {word}: picks {picks}")

        n = len(words)

        def mean_map(k: str) -> Tensor:
            return torch.stack(maps[k]).mean(0)

        lens_map, patch_map = mean_map("lens"), mean_map("patch")
        metrics["maps"] = {k: [[round(float(x), 4) for x in row] for row in mean_map(k)]
                           for k in keys}  # fmt: skip
        hit_maps = {k: torch.stack(hits[k]).mean(0) for k in keys}
        metrics["hit_maps"] = {k: [[round(float(x), 3) for x in row] for row in m]
                               for k, m in hit_maps.items()}  # fmt: skip
        best = {}
        for k in keys:
            m = mean_map(k)
            li, ci = divmod(int(m.flatten().argmax()), m.shape[1])
            colnames = cols if k.startswith("lens") else [cols[c] for c in patch_cols]
            layer = li if k.startswith("lens") else patch_layers[li]
            best[k] = {"layer": layer, "position": colnames[ci],
                       "p_secret": round(float(m[li, ci]), 4),
                       "hit_rate": round(float(hit_maps[k][li, ci]), 4)}  # fmt: skip
        metrics["best_cell"] = best
        methods = ("lens", "lens_first", "lens_diff", "lens_base", "patch")
        region_rate = {k: round(sum(per_word[w]["picks"][k] == w for w in words) / n, 4)
                       for k in methods}  # fmt: skip
        metrics["region_hit_rate"] = region_rate
        metrics["per_word"] = per_word

        # layer curves: last prompt token and mean over hint tokens
        curves = {}
        names = {
            "lens": "organism",
            "lens_base": "base (same tokens)",
            "lens_diff": "organism - base",
        }
        for k, name in names.items():
            m = mean_map(k)
            curves[(name, "last prompt token")] = m[:, C0 - 1].tolist()
            curves[(name, "hint tokens (mean)")] = m[:, C0:].mean(1).tolist()
        metrics["layer_curves"] = {f"{a} | {b}": [round(v, 4) for v in c]
                                   for (a, b), c in curves.items()}  # fmt: skip
        for where in ("last prompt token", "hint tokens (mean)"):
            raw = max(curves[("organism", where)])
            diff = max(curves[("organism - base", where)])
            metrics[f"max_p_secret_{where.split()[0]}"] = {"raw": round(raw, 4),
                                                           "diff": round(diff, 4)}  # fmt: skip

        # confabulation: organism j's reads scored against slot i = perm[j]'s word
        perm = derangement(n, gen) if n >= 2 else torch.zeros(1, dtype=torch.long)
        secrets = [cands.index(w) for w in words]

        def rates(entries: list[dict], slots: list[int]) -> dict:
            named, named_slot, forced, total = 0, 0, 0, 0
            for e, s in zip(entries, slots, strict=True):
                v = e["valid"][None].expand_as(e["named"])
                named += int((e["named"][v] >= 0).sum())
                named_slot += int((e["named"][v] == s).sum())
                forced += int((e["forced"][v] == s).sum())
                total += int(v.sum())
            return {"named": round(named / total, 4), "named_slot": round(named_slot / total, 4),
                    "forced_slot": round(forced / total, 4), "reads": total}  # fmt: skip

        def at(entries: list[dict], prompt_side: bool) -> list[dict]:
            """Only the two prompt columns (no hint text to copy), or only the hint columns."""
            out = []
            for e in entries:
                side = torch.arange(e["valid"].shape[1]) < 2
                out.append({**e, "valid": e["valid"] & (side if prompt_side else ~side)})
            return out

        # the base model at prompt positions has no secret and no hint text: a named word there
        # is invented; at hint positions it can copy the hint's words
        confab = {"organism": rates(reads["organism"], secrets),
                  "base": rates(at(reads["base"], True), secrets),
                  "random": rates(reads["random"], secrets),
                  "other": rates([reads["organism"][int(j)] for j in perm], secrets),
                  "organism_prompt": rates(at(reads["organism"], True), secrets),
                  "base_hint_text": rates(at(reads["base"], False), secrets)}  # fmt: skip
        metrics["confabulation"] = confab
        metrics["patchscope_greedy_tokens"] = {k: dict(c.most_common(6))
                                               for k, c in greedy_tokens.items()}  # fmt: skip
        metrics["derangement"] = [int(j) for j in perm]
        top_layers = range(L - 3, L)
        metrics["last_prompt_token_top_layers"] = {
            k: {str(li): {"p_secret": round(float(mean_map(k)[li, C0 - 1]), 4),
                          "hit_rate": round(float(hit_maps[k][li, C0 - 1]), 4)}
                for li in top_layers}
            for k in ("lens", "lens_base", "lens_diff")
        }  # fmt: skip
        metrics["failures"] = {k: [w for w in words if per_word[w]["picks"][k] != w]
                               for k in ("lens", "lens_first", "lens_diff", "patch")}  # fmt: skip

        chance = 1 / K
        lens_panels = {"organism": lens_map, "base model, same tokens": mean_map("lens_base")}
        run.save_fig(heatmaps(lens_panels,
                              cols, list(range(L)),
                              f"Logit lens: where is the secret readable? ({lm.name}, {n} words)",
                              chance), "lens_map")  # fmt: skip
        pcols = [cols[c] for c in patch_cols]
        run.save_fig(heatmaps({"organism's vector": patch_map,
                               "base model's vector": mean_map("patch_base")}, pcols, patch_layers,
                              "Identity Patchscope (base model decodes): where is the secret "
                              "readable?", chance, "source layer (patched at the same layer)"),
                     "patchscope_map")  # fmt: skip
        run.save_fig(diff_figure(curves, chance, args.first_layer), "difference_lens")
        header = ["secret", "a hint (greedy, held-out request)", "lens", "lens, base model",
                  "lens, first token", "lens on difference", "Patchscope"]  # fmt: skip
        metrics["table"] = {"header": header, "rows": table}
        run.save_fig(table_figure(table, header), "failures")
        run.save_fig(confab_figure(confab), "confabulation")
        return run.finish(metrics)


if __name__ == "__main__":
    run_script(main, Args)
