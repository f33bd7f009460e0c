"""Day 42 — Activation patching on in-context learning: which heads carry the task to the answer?

Shows, with 5-shot "Q: x\\nA: y" prompts of one pair task (present → past by default):
1. clean = the demonstrations with their true labels, corrupted = the same demonstrations with
   the labels shuffled among them (same query); P(answer's first token) in both runs;
2. residual-stream patching: the clean residual stream entering layer L at one of the last three
   positions copied into the corrupted run, for every (layer, position); the fraction of the
   clean − corrupted gap in P(answer) that comes back;
3. per-head patching: one head's clean output (z, before W_O) at the last position copied into
   the corrupted run, each prompt its own clean value, for every (layer, head);
4. the same heads ranked by Todd et al.'s causal indirect effect (the MEAN clean output patched
   in), the agreement of the two rankings, and the top ten heads patched together.

Run:  arena run 42 [--smoke] [--publish]   (or python 07_mech_interp/day_042_act_patch.py)
Full run (SmolLM2-135M-Instruct, 24 prompts): about 1.5 min of CPU time on 1 thread.
`--model qwen2.5-coder-0.5b-instruct` runs the same on the larger optional model (falls back to
SmolLM2 with one log line when it is not installed).
Smoke: 6 prompts.
"""

from dataclasses import dataclass

import torch
from matplotlib.figure import Figure

from arena_core.data.facts import load_dataset
from arena_core.errors import ArgumentError
from arena_core.interp.suffix_patching import (
    answer_probs,
    head_z_last,
    patch_heads_last,
    patch_resid_suffix,
    resid_pre_suffix,
)
from arena_core.models import load_model_for_run
from arena_core.probes.function_vectors import causal_indirect_effect, top_heads
from arena_core.probes.head_maps import plot_head_map, rank_agreement
from arena_core.probes.icl import (
    PAIR_TASKS,
    answer_token_ids,
    first_token_accuracy,
    icl_prompts,
    tokenize_prompts,
)
from arena_core.utils import DayArgs, Run, run_script
from arena_core.utils.diagrams import arrow, box, canvas, finish, label

# The worked example of the post: P(answer) in the three runs, and the recovered fraction.
TOY_P = {"clean": 0.8, "corrupted": 0.1, "patched": 0.45}


@dataclass
class Args(DayArgs):
    threads: int = 1  # torch CPU threads
    model: str = "smollm2-135m"  # or "qwen2.5-coder-0.5b-instruct" (optional install)
    task: str = "present_past"  # a pair task of arena_core.data.facts
    n_prompts: int = 24  # clean/corrupted prompt pairs
    n_shots: int = 5  # demonstrations per prompt
    n_positions: int = 3  # last positions patched in the residual stream
    k: int = 10  # heads compared between the two rankings and patched together
    batch_size: int = 16  # prompts per forward pass


def recovered(p_patched: float, p_clean: float, p_corrupted: float) -> float:
    """(P_patched − P_corrupted) / (P_clean − P_corrupted): 0 = corrupted, 1 = clean."""
    return (p_patched - p_corrupted) / (p_clean - p_corrupted)


def mechanism_figure(toy: dict) -> Figure:
    fig, ax = canvas(width=16, height=6.4, scale=0.62)
    runs = ((4.2, "clean: true labels", "input", toy["clean"]),
            (0.4, "corrupted: shuffled labels", "highlight", toy["corrupted"]))  # fmt: skip
    for y, name, role, p in runs:
        label(ax, (0, y + 1.75), name, fontsize=11, ha="left", weight="bold")
        demo = (
            "Q: go A: went\n…\nQ: eat A: ?" if role == "input" else "Q: go A: ran\n…\nQ: eat A: ?"
        )
        box(ax, (0, y), demo, width=3.2, height=1.4, role="input", fontsize=9)
        arrow(ax, (3.3, y + 0.7), (4.3, y + 0.7))
        for i, name_i in enumerate(("layer 0", "…", "layer L", "…", "last layer")):
            r = "param" if name_i == "layer L" else "neutral"
            box(ax, (4.4 + 1.9 * i, y + 0.2), name_i, width=1.6, height=1.0, role=r, fontsize=9)
            if i:
                arrow(ax, (4.4 + 1.9 * i - 0.3, y + 0.7), (4.4 + 1.9 * i, y + 0.7))
        arrow(ax, (13.4, y + 0.7), (14.0, y + 0.7))
        box(ax, (14.1, y + 0.2), f"P(' ate')\n= {p:g}", width=1.8, height=1.0, role="output")
    arrow(ax, (8.2 + 0.8, 4.35), (8.2 + 0.8, 1.65), "copy head h's output\nat the last token",
          color="tab:red", text_offset=(1.9, -0.6))  # fmt: skip
    label(ax, (12.2, -0.55), f"patched run: P = {toy['patched']:g} → recovered "
          f"({toy['patched']:g} − {toy['corrupted']:g}) / ({toy['clean']:g} − {toy['corrupted']:g})"
          f" = {toy['recovered']:.2f}", fontsize=9.5)  # fmt: skip
    finish(ax)
    return fig


def resid_figure(rec: torch.Tensor, tokens: list[str], model_name: str) -> Figure:
    fig = Figure(figsize=(5.6, 7.2))
    ax = fig.add_subplot(1, 1, 1)
    im = ax.imshow(rec, cmap="RdBu_r", vmin=-1, vmax=1, aspect="auto", interpolation="nearest")
    ax.set_xticks(range(len(tokens)), [repr(t) for t in tokens])
    ax.set_yticks(range(0, rec.shape[0], 2))
    ax.set_xlabel("position (last tokens of the prompt)")
    ax.set_ylabel("residual stream entering layer")
    ax.set_title(f"Residual-stream patching, clean → shuffled\n{model_name}")
    ax.grid(False)
    fig.colorbar(im, ax=ax, fraction=0.05, label="fraction of P(answer) gap recovered")
    fig.tight_layout()
    return fig


def heads_figure(rec: torch.Tensor, cie: torch.Tensor, k: int, model_name: str) -> Figure:
    fig = Figure(figsize=(11, 7.2))
    ax1, ax2 = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    plot_head_map(ax1, rec, "each prompt's own clean output patched",
                  "fraction of P(answer) gap recovered", marked=top_heads(rec, k))  # fmt: skip
    plot_head_map(ax2, cie, "mean clean output patched (CIE)", "increase in P(answer)",
                  marked=top_heads(cie, k))  # fmt: skip
    fig.suptitle(f"One head at the last token, clean → shuffled labels ({model_name});"
                 f" boxes: top {k}")  # fmt: skip
    fig.tight_layout()
    return fig


def main(args: Args) -> dict:
    with Run(day=42, args=args) as run:
        metrics: dict = {}
        toy = dict(TOY_P, recovered=recovered(TOY_P["patched"], TOY_P["clean"], TOY_P["corrupted"]))
        metrics["toy_example"] = toy
        run.save_fig(mechanism_figure(toy), "mechanism")

        lm = load_model_for_run(args.model, run)
        model, tok = lm.model.eval(), lm.tokenizer
        metrics["model"] = lm.name
        if args.task not in PAIR_TASKS:
            raise ArgumentError(f"--task must be a pair task: {', '.join(PAIR_TASKS)}")
        ds = load_dataset(args.task, seed=args.seed)
        run.record_source("data", f"{args.task}: {ds.meta.get('source')}")
        n = 6 if args.smoke else args.n_prompts
        p = icl_prompts(ds.pairs(), n, args.n_shots, seed=args.seed)
        clean, corrupted = tokenize_prompts(tok, p.few_shot), tokenize_prompts(tok, p.shuffled)
        ids = answer_token_ids(tok, p.answers)
        metrics["example_clean"], metrics["example_corrupted"] = p.few_shot[0], p.shuffled[0]
        bs, k = args.batch_size, args.k

        # 1. the two unpatched runs
        p_clean = answer_probs(model, clean, ids, bs).mean().item()
        p_corr = answer_probs(model, corrupted, ids, bs).mean().item()
        acc_clean = first_token_accuracy(model, clean, ids, bs).accuracy
        acc_corr = first_token_accuracy(model, corrupted, ids, bs).accuracy
        metrics |= {"p_clean": round(p_clean, 4), "p_corrupted": round(p_corr, 4),
                    "accuracy_clean": round(acc_clean, 4),
                    "accuracy_corrupted": round(acc_corr, 4)}  # fmt: skip
        run.print(f"  P(answer): clean {p_clean:.3f}, corrupted {p_corr:.3f}")

        # 2. residual stream, last few positions (the query's tokens are the same in both runs)
        kpos = args.n_positions
        if any(c[-kpos:] != r[-kpos:] for c, r in zip(clean, corrupted, strict=True)):
            raise ArgumentError(
                f"--n-positions {kpos} reaches into the demonstrations: clean and corrupted "
                "prompts differ there; use fewer positions"
            )
        values = resid_pre_suffix(model, clean, kpos, bs)
        resid = patch_resid_suffix(model, corrupted, ids, values, bs).mean(-1)
        resid_rec = (resid - p_corr) / (p_clean - p_corr)  # [layer position]
        tokens = [tok.decode([t]) for t in clean[0][-kpos:]]
        metrics["resid_tokens"] = tokens
        metrics["resid_recovered"] = [[round(v, 4) for v in row] for row in resid_rec.tolist()]
        last = resid_rec[:, -1]
        half = [L for L in range(len(last)) if last[L:].min() >= 0.5]
        metrics["resid_last_position_first_layer_all_after_above_half"] = half[0] if half else -1
        run.save_fig(resid_figure(resid_rec, tokens, lm.name), "resid_patching")

        # 3. one head at a time, each prompt its own clean value
        z_clean = head_z_last(model, clean, None, bs)  # [n layer head d_head]
        heads = patch_heads_last(model, corrupted, ids, z_clean, None, bs).mean(-1)
        head_rec = (heads - p_corr) / (p_clean - p_corr)

        # 4. Todd et al.'s CIE: the mean clean value instead of each prompt's own
        cie = causal_indirect_effect(model, clean, corrupted, ids, bs)
        agree = rank_agreement(head_rec, cie, k)
        top = top_heads(head_rec, k)
        metrics["head_top"] = [[L, h, round(head_rec[L, h].item(), 4)] for L, h in top]
        metrics["cie_top"] = [[L, h, round(cie[L, h].item(), 5)] for L, h in top_heads(cie, k)]
        metrics["head_max_recovered"] = round(head_rec.max().item(), 4)
        metrics["cie_max"] = round(cie.max().item(), 5)
        metrics["rank_spearman"] = round(agree["spearman"], 4)
        metrics["top_k_overlap"] = agree["top_k_overlap"]
        metrics["k"] = k
        run.save_fig(heads_figure(head_rec, cie, k, lm.name), "head_patching")

        # the top-k heads patched together (each prompt's own clean value)
        def set_heads(layer_heads: list[int], z_layer: torch.Tensor):
            def hook(z, hook):
                z = z.clone()
                z[:, -1, layer_heads] = z_layer[:, layer_heads].to(z.dtype)
                return z

            return hook

        hooks = []
        for L in sorted({L for L, _ in top}):
            hs = [h for L2, h in top if L2 == L]
            hooks.append((f"blocks.{L}.attn.hook_z", set_heads(hs, z_clean[:, L])))
        together = first_token_accuracy(model, corrupted, ids, batch_size=len(corrupted),
                                        fwd_hooks=hooks)  # fmt: skip
        metrics["top_k_together_recovered"] = round(
            recovered(together.p_correct, p_clean, p_corr), 4
        )
        metrics["top_k_together_accuracy"] = round(together.accuracy, 4)
        metrics["n_prompts"], metrics["n_shots"] = n, args.n_shots
        metrics["n_layers"], metrics["n_heads"] = model.cfg.n_layers, model.cfg.n_heads
        run.print(f"  top heads {top}; together recover {metrics['top_k_together_recovered']}")
        return run.finish(metrics)


if __name__ == "__main__":
    run_script(main, Args)
