"""Day 35 — The logit lens and direct logit attribution on SmolLM2-135M.

Shows:
1. the logit lens (nostalgebraist 2020): every layer's residual stream read out through the final
   RMSNorm (scale recomputed for that residual) and the unembedding, on a factual-recall prompt,
   a repeated sentence, a Shakespeare line and the alphabet — when does the final
   answer become the top token, how likely is it per layer, how far is each layer from the output
   (KL); a layer x position grid with the top token written in each cell;
2. direct logit attribution (Elhage et al. 2021) of " Paris" minus " London" on
   "The capital of France is": which layers and which heads write the answer directly, and the
   check that the pieces add up to the model's logit difference.

Run:  arena run 35 [--smoke] [--publish]   (or python 07_mech_interp/day_035_logit_lens.py)
Full run: 8 s on a quiet 2-core machine, 1 thread (five short prompts, one cached forward each).
Smoke: ~5 s (a tiny random Llama with grouped-query attention and random tokens).
"""

from dataclasses import dataclass

import torch
from matplotlib.figure import Figure

from arena_core.interp.attribution import dla, head_dla_grid, layer_dla, logit_diff_direction
from arena_core.interp.cache import run_with_cache
from arena_core.interp.logit_lens import (
    answer_rank_and_prob,
    kl_to_final,
    logit_lens,
    top_k_tokens,
)
from arena_core.models import load_model
from arena_core.transformer import Llama, TransformerConfig
from arena_core.utils import DayArgs, Run, run_script

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
GRID_PROMPTS = ("capital", "repeat")  # the layer x position grids drawn


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


def grid_figure(lens, str_tokens: list[str], decode, title: str) -> Figure:
    """Layers down (embeddings at the top), positions across; colour = top-token probability."""
    probs, ids = top_k_tokens(lens.log_probs, k=1)
    probs, ids = probs[..., 0], ids[..., 0]
    n_layers, n_pos = probs.shape
    fig = Figure(figsize=(1.0 + 0.85 * n_pos, 0.9 + 0.24 * n_layers))
    ax = fig.add_subplot(1, 1, 1)
    im = ax.imshow(probs, cmap="viridis", vmin=0, vmax=1, aspect="auto")
    for layer in range(n_layers):
        for pos in range(n_pos):
            text = decode(int(ids[layer, pos])).replace("\n", "\\n")[:8]
            colour = "black" if probs[layer, pos] > 0.6 else "white"
            ax.text(pos, layer, text, ha="center", va="center", fontsize=6.5, color=colour)
    ax.set_xticks(range(n_pos), [t.replace("\n", "\\n") for t in str_tokens], rotation=45,
                  ha="right", fontsize=8)  # fmt: skip
    ax.set_yticks(range(n_layers), lens.labels, fontsize=6.5)
    ax.set_xlabel("input token (the cell shows the predicted *next* token)")
    ax.set_title(title, fontsize=10)
    fig.colorbar(im, ax=ax, fraction=0.04, label="probability of the top token")
    fig.tight_layout()
    return fig


def answer_figure(curves: dict[str, dict[str, list[float]]], labels: list[str]) -> Figure:
    fig = Figure(figsize=(13, 3.8))
    panels = [("prob", "probability of the final answer", "linear"),
              ("rank", "rank of the final answer (0 = top)", "symlog"),
              ("kl", "KL(final || layer), nats", "linear")]  # fmt: skip
    x = range(len(labels))
    for i, (key, ylabel, scale) in enumerate(panels):
        ax = fig.add_subplot(1, 3, i + 1)
        for name, c in curves.items():
            ax.plot(x, c[key], marker="o", ms=2.5, label=name)
        ax.set_yscale(scale)
        ax.set_xticks(x[::3], labels[::3], rotation=90, fontsize=7)
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
        if i == 0:
            ax.legend(fontsize=7)
    fig.suptitle("Logit lens, last position: when does each layer 'know' the answer?", fontsize=10)
    fig.tight_layout()
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
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3, axis="y")
    ax = fig.add_subplot(1, 2, 2)
    vmax = grid.abs().max().item() or 1.0
    im = ax.imshow(grid, cmap="RdBu_r", vmin=-vmax, vmax=vmax, aspect="auto")
    ax.set_xlabel("head")
    ax.set_ylabel("layer")
    ax.set_xticks(range(grid.shape[1]))
    ax.set_title("per attention head", fontsize=9)
    fig.colorbar(im, ax=ax, fraction=0.05)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def main(args: Args) -> dict:
    with Run(day=35, args=args) as run:
        metrics: dict = {}
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
            curves[f"{name}: {decode(answer)!r}"] = {
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
