"""Day 35 — The logit lens and direct logit attribution on SmolLM2-135M.

Shows:
1. the logit lens (nostalgebraist 2020): every layer's residual stream read out through the final
   RMSNorm (scale recomputed for that residual) and the unembedding, on a factual-recall prompt,
   a repeated sentence, a Shakespeare line, the weekdays and the alphabet — when does the final
   answer become the top token, how likely is it per layer, how far is each layer from the output
   (KL); a layer x position grid with the top token written in each cell;
2. direct logit attribution (Elhage et al. 2021) of " Paris" minus " London" on
   "The capital of France is": which layers and which heads write the answer directly, and the
   check that the pieces add up to the model's logit difference.

Run:  arena run 35 [--smoke] [--publish]   (or python 07_mech_interp/day_035_logit_lens.py)
Full run: 8 s on a quiet 2-core machine, 1 thread (five short prompts, one cached forward each).
The mechanism diagram reads a 2-wide toy residual through the project's own final norm.
Smoke: ~5 s (a tiny random Llama with grouped-query attention and random tokens).
"""

from dataclasses import dataclass

import torch
from matplotlib.figure import Figure

from arena_core.interp.attribution import dla, head_dla_grid, layer_dla, logit_diff_direction
from arena_core.interp.cache import run_with_cache
from arena_core.interp.logit_lens import (
    answer_rank_and_prob,
    apply_final_norm_recomputed,
    kl_to_final,
    logit_lens,
    top_k_tokens,
)
from arena_core.models import load_model
from arena_core.transformer import Llama, TransformerConfig
from arena_core.utils import DayArgs, Run, run_script
from arena_core.utils import diagrams as dg

# (name, prompt, expected next token): the expectation is checked against the model at run time.
PROMPTS = [
    ("capital", "The capital of France is", " Paris"),
    (
        "repeat",
        "The quick brown fox jumps over the lazy dog. The quick brown fox jumps over the lazy",
        " dog",
    ),  # noqa: E501
    ("shakespeare", "To be, or not to be, that is the", " question"),
    ("weekdays", "Monday, Tuesday, Wednesday, Thursday,", " Friday"),
    ("alphabet", "A, B, C, D, E, F,", " G"),
]
GRID_PROMPTS = ("capital",)  # the layer x position grids drawn

# The worked example of the post: a 2-wide residual stream, a 3-token vocabulary, an early
# residual (small) and a final one (large, pointing elsewhere); the final RMSNorm's gain is 1.
TOY = {
    "W_U": [[1.0, 0.0, 0.5], [0.0, 1.0, 0.5]],
    "r_early": [1.0, 7.0],
    "r_final": [70.0, 10.0],
}
TOY_TOKENS = ["' Paris'", "' London'", "' the'"]


@dataclass
class Args(DayArgs):
    threads: int = 1  # torch CPU threads
    dla_prompt: str = "The capital of France is"  # prompt for direct logit attribution
    dla_correct: str = " Paris"  # the answer token ...
    dla_wrong: str = " London"  # ... minus this one: the logit-difference direction
    top_k: int = 3  # tokens listed per layer in metrics


def tiny_model() -> Llama:
    cfg = TransformerConfig(
        d_model=48, n_layers=3, n_heads=3, n_kv_heads=1, d_head=16, d_mlp=64, d_vocab=97, n_ctx=64
    )
    return Llama(cfg).eval()


def toy_lens_numbers() -> dict:
    """The lens on the toy residuals with the project's `apply_final_norm_recomputed` (each
    residual divided by its own RMS scale), and the wrong reading that divides the early residual
    by the final residual's scale."""
    cfg = TransformerConfig(
        d_model=2, n_layers=1, n_heads=1, d_head=2, d_mlp=2, d_vocab=3, n_ctx=4,
        tie_embeddings=False,
    )  # fmt: skip
    model = Llama(cfg).eval()
    W_U = torch.tensor(TOY["W_U"])
    with torch.no_grad():
        model.unembed.W_U.copy_(W_U)
        model.ln_final.w.fill_(1.0)
    out = {}
    for name in ("r_early", "r_final"):
        r = torch.tensor(TOY[name])
        scale = (r.pow(2).mean() + model.ln_final.eps).sqrt().item()
        with torch.no_grad():
            normed = apply_final_norm_recomputed(model, r)
        logits = normed @ W_U
        out[name] = {
            "scale": scale,
            "normed": normed.tolist(),
            "logits": logits.tolist(),
            "probs": logits.softmax(-1).tolist(),
        }
    wrong = torch.tensor(TOY["r_early"]) / out["r_final"]["scale"]
    logits = wrong @ W_U
    out["r_early_with_final_scale"] = {
        "scale": out["r_final"]["scale"],
        "normed": wrong.tolist(),
        "logits": logits.tolist(),
        "probs": logits.softmax(-1).tolist(),
    }
    return out


def mechanism_figure(toy: dict) -> Figure:
    """The lens as a pipeline: a residual, divided by its own RMS scale, times W_U, softmax; the
    same early residual divided by the final scale gives a flat, meaningless distribution."""
    fig, ax = dg.canvas(width=15, height=10)
    rows = [
        ("r_early", "residual entering\nan early layer", "its own scale", 5.0),
        ("r_final", "final residual", "its own scale", 2.8),
        ("r_early_with_final_scale", "the early residual,\nwrong scale", "the FINAL scale", 0.6),
    ]
    dg.matrix(ax, TOY["W_U"], xy=(8.5, 7.4), title="W_U (shared by every row)", cmap=None,
              fmt="{:g}", col_labels=TOY_TOKENS, fontsize=9)  # fmt: skip
    for key, name, which, y in rows:
        data = toy[key]
        resid = TOY["r_early"] if key != "r_final" else TOY["r_final"]
        grey = key == "r_early_with_final_scale"
        colour = "#d62728" if grey else "0.25"
        dg.label(ax, (0.9, y + 0.5), name, fontsize=9.5, ha="right", color=colour)
        dg.matrix(ax, [resid], xy=(1.1, y), cmap=None, fmt="{:g}")
        dg.arrow(ax, (3.2, y + 0.5), (5.0, y + 0.5), f"÷ {which}\n({data['scale']:.3g})",
                 color=colour, fontsize=8.5)  # fmt: skip
        dg.matrix(ax, [data["normed"]], xy=(5.1, y), cmap=None, fmt="{:.2f}")
        dg.arrow(ax, (7.2, y + 0.5), (8.4, y + 0.5), "× W_U", color=colour, fontsize=8.5)
        dg.matrix(ax, [data["logits"]], xy=(8.5, y), cmap=None, fmt="{:.2f}",
                  col_labels=TOY_TOKENS if key == "r_early" else None, fontsize=9,
                  title="logits" if key == "r_early" else None)  # fmt: skip
        dg.arrow(ax, (11.6, y + 0.5), (12.4, y + 0.5), "softmax", color=colour, fontsize=8.5)
        top = max(range(3), key=lambda i: data["probs"][i])
        dg.matrix(ax, [data["probs"]], xy=(12.5, y), cmap=None if grey else "Greens",
                  fmt="{:.2f}", fontsize=9,
                  highlight=[] if grey else [(0, top)],
                  title="probabilities" if key == "r_early" else None,
                  col_labels=TOY_TOKENS if key == "r_early" else None)  # fmt: skip
    dg.label(ax, (7.8, -0.2), "divided by the final scale, an early residual says nothing: "
             "every token gets about 1/3", fontsize=9.5, color="#d62728")  # fmt: skip
    dg.finish(ax)
    return fig


def grid_figure(lens, str_tokens: list[str], decode, title: str) -> Figure:
    """Layers down (embeddings at the top), positions across; colour = top-token probability."""
    probs, ids = top_k_tokens(lens.log_probs, k=1)
    probs, ids = probs[..., 0], ids[..., 0]
    n_layers, n_pos = probs.shape
    fig = Figure(figsize=(2.2 + 1.2 * n_pos, 1.2 + 0.3 * n_layers))
    ax = fig.add_subplot(1, 1, 1)
    im = ax.imshow(probs, cmap="viridis", vmin=0, vmax=1, aspect="auto")
    ax.grid(False)
    for layer in range(n_layers):
        for pos in range(n_pos):
            text = decode(int(ids[layer, pos])).replace("\n", "\\n")[:9]
            colour = "black" if probs[layer, pos] > 0.6 else "white"
            ax.text(pos, layer, repr(text), ha="center", va="center", fontsize=8.5, color=colour)
    ax.set_xticks(range(n_pos), [t.replace("\n", "\\n") for t in str_tokens])
    ylabels = [lab.removeprefix("L") if lab != "final" else "output" for lab in lens.labels]
    ax.set_yticks(range(n_layers), ylabels, fontsize=8.5)
    ax.set_xlabel("input token (each cell: the predicted next token)")
    ax.set_ylabel("residual stream entering layer")
    ax.set_title(title)
    fig.colorbar(im, ax=ax, fraction=0.04, label="probability of the top token")
    fig.tight_layout()
    return fig


def answer_figure(curves: dict[str, dict[str, list[float]]], labels: list[str]) -> Figure:
    fig = Figure(figsize=(13, 4.6))
    panels = [("prob", "probability of the final answer", "linear"),
              ("rank", "rank of the final answer (0 = top)", "symlog"),
              ("kl", "KL(output || layer), nats", "linear")]  # fmt: skip
    x = range(len(labels))
    ticks = [i for i in x if i % 5 == 0 or i == len(labels) - 1]
    names = [lab.removeprefix("L") if lab != "final" else "out" for lab in labels]
    for i, (key, ylabel, scale) in enumerate(panels):
        ax = fig.add_subplot(1, 3, i + 1)
        for name, c in curves.items():
            ax.plot(x, c[key], marker="o", ms=2.5, label=name)
        ax.set_yscale(scale)
        ax.set_xticks(ticks, [names[t] for t in ticks])
        ax.set_xlabel("residual stream entering layer")
        ax.set_ylabel(ylabel)
    handles, legend_labels = fig.axes[0].get_legend_handles_labels()
    fig.legend(handles, legend_labels, loc="lower center", ncol=len(curves), frameon=False)
    fig.suptitle("Logit lens at the last position: when does each layer 'know' the answer?")
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    return fig


def dla_figure(per_layer: dict[str, float], grid: torch.Tensor, title: str) -> Figure:
    fig = Figure(figsize=(12, 5))
    ax = fig.add_subplot(1, 2, 1)
    n_layers = grid.shape[0]
    x = torch.arange(n_layers)
    attn = [per_layer.get(f"L{i} attn", 0.0) for i in range(n_layers)]
    mlp = [per_layer.get(f"L{i} MLP", 0.0) for i in range(n_layers)]
    ax.bar(x - 0.2, attn, width=0.4, color="tab:blue", label="attention (all heads + bias)")
    ax.bar(x + 0.2, mlp, width=0.4, color="tab:orange", label="MLP")
    ax.set_xlabel(f"layer (embedding: {per_layer.get('embed', 0.0):+.3f})")
    ax.set_ylabel("direct contribution to the logit difference")
    ax.set_title("per layer", fontsize=9)
    ax.axhline(0, color="black", lw=0.5)
    ax.legend(loc="upper left")
    ax = fig.add_subplot(1, 2, 2)
    vmax = grid.abs().max().item() or 1.0
    im = ax.imshow(grid, cmap="RdBu_r", vmin=-vmax, vmax=vmax, aspect="auto")
    ax.grid(False)
    ax.set_xlabel("head")
    ax.set_ylabel("layer")
    ax.set_xticks(range(grid.shape[1]))
    ax.set_title("per attention head", fontsize=9)
    fig.colorbar(im, ax=ax, fraction=0.05, label="direct contribution")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def main(args: Args) -> dict:
    with Run(day=35, args=args) as run:
        metrics: dict = {}
        toy = toy_lens_numbers()
        metrics["toy_example"] = toy
        run.save_fig(mechanism_figure(toy), "mechanism")
        if args.smoke:
            model = tiny_model().to(run.device)
            prompts = [(f"random{i}", torch.randint(0, 97, (1, 8)), None) for i in range(2)]

            def decode(i):
                return f"t{i}"

            dla_tokens, correct, wrong = torch.randint(0, 97, (1, 6)), 5, 7
            run.record_source("model", "tiny random Llama (GQA), smoke run")
            run.record_source("data", "random tokens")
        else:
            lm = load_model("smollm2-135m", device=run.device)
            model, tok = lm.model.eval(), lm.tokenizer
            run.record_source("model", lm.source)
            run.record_source("data", "five hand-written prompts (in the script)")
            prompts = [(n, model.to_tokens(p), a) for n, p, a in PROMPTS]

            def decode(i):
                return tok.decode([i])

            dla_tokens = model.to_tokens(args.dla_prompt)
            correct, wrong = tok(args.dla_correct).input_ids[0], tok(args.dla_wrong).input_ids[0]

        # 1. logit lens on every prompt; the "final answer" is the model's own top-1 token
        curves, summary = {}, {}
        for name, tokens, expected in prompts:
            tokens = tokens.to(run.device)
            logits, cache = run_with_cache(model, tokens)
            lens = logit_lens(model, cache)
            answer = int(logits[0, -1].argmax())
            rank, prob = answer_rank_and_prob(lens.log_probs, answer)
            kl = kl_to_final(lens.log_probs)[:, -1]
            top1 = (rank == 0).nonzero()
            probs, ids = top_k_tokens(lens.log_probs[:, -1], k=args.top_k)
            summary[name] = {
                "answer": decode(answer),
                "answer_is_expected": expected is None or decode(answer) == expected,
                "final_prob": round(prob[-1].item(), 4),
                # first layer from which the answer stays top-1 to the end
                "first_layer_top1_for_good": next(
                    (lens.labels[i] for i in range(len(rank)) if bool((rank[i:] == 0).all())),
                    None,
                ),
                "first_layer_top1": lens.labels[int(top1[0])] if len(top1) else None,
                "prob_by_layer": [round(p, 4) for p in prob.tolist()],
                "rank_by_layer": rank.tolist(),
                "kl_by_layer": [round(k, 3) for k in kl.tolist()],
                "top_tokens_by_layer": [
                    [f"{decode(int(i))!r}:{p:.2f}" for p, i in zip(pr, ix, strict=True)]
                    for pr, ix in zip(probs.tolist(), ids.tolist(), strict=True)
                ][:: max(1, len(rank) // 10)],
            }
            curves[f"{decode(answer)!r} ({name})"] = {
                "prob": prob.tolist(), "rank": rank.tolist(), "kl": kl.tolist()
            }  # fmt: skip
            if args.smoke or name in GRID_PROMPTS:
                str_tokens = [decode(int(t)) for t in tokens[0]]
                title = f"Logit lens: top next-token prediction per layer ({name})"
                run.save_fig(grid_figure(lens, str_tokens, decode, title), f"lens_grid_{name}")
            run.print(
                f"  {name:<12} answer {decode(answer)!r} p={prob[-1]:.3f}; top-1 for good from "
                f"{summary[name]['first_layer_top1_for_good']}"
            )
        metrics["lens"] = summary
        metrics["all_answers_as_expected"] = all(s["answer_is_expected"] for s in summary.values())
        run.save_fig(answer_figure(curves, lens.labels), "lens_answer_by_layer")

        # 2. direct logit attribution of correct - wrong at the last position
        dla_tokens = dla_tokens.to(run.device)
        logits, cache = run_with_cache(model, dla_tokens)
        attr, labels = dla(model, cache, logit_diff_direction(model, correct, wrong))
        attr = attr[:, 0, -1]
        logit_diff = (logits[0, -1, correct] - logits[0, -1, wrong]).item()
        metrics["dla_logit_diff"] = logit_diff
        metrics["dla_sum_error"] = abs(attr.sum().item() - logit_diff)  # RMSNorm: no biases
        order = attr.abs().argsort(descending=True)[:8]
        metrics["dla_top_components"] = [f"{labels[i]}: {attr[i]:+.3f}" for i in order.tolist()]
        per_layer = layer_dla(attr, labels)
        attn_total = sum(v for k, v in per_layer.items() if k.endswith("attn"))
        mlp_total = sum(v for k, v in per_layer.items() if k.endswith("MLP"))
        metrics["dla_attn_total"], metrics["dla_mlp_total"] = attn_total, mlp_total
        metrics["dla_embed"] = per_layer.get("embed", 0.0)
        grid = head_dla_grid(attr, labels, model.cfg.n_layers, model.cfg.n_heads)
        order = grid.flatten().abs().argsort(descending=True)[:5].tolist()
        metrics["dla_top_heads"] = [
            f"L{i // grid.shape[1]}H{i % grid.shape[1]}: {grid.flatten()[i]:+.3f}" for i in order
        ]
        title = (
            f"Direct logit attribution of {decode(correct)!r} - {decode(wrong)!r} "
            f"(logit difference {logit_diff:.2f})"
        )
        run.save_fig(dla_figure(per_layer, grid, title), "dla_capital")
        return run.finish(metrics)


if __name__ == "__main__":
    run_script(main, Args)
