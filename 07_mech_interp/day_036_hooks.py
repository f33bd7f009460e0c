"""Day 36 — Hooks deep dive on SmolLM2-135M: inspecting hooks, editing hooks, head ablation and
activation patching.

Shows:
1. the two kinds of hook — one that only *reads* activations (a caching/inspecting hook records
   the residual-stream norm at every layer) and one that *edits* them (zero-ablating a head) —
   and that TransformerLens' twin of the same weights gives the same loss for the same edit;
2. a head-ablation scan on a Shakespeare passage: the loss increase when each of the 30 x 9 heads
   is zero- or mean-ablated on its own, with the top heads listed;
3. activation patching (Meng et al. 2022; Wang et al. 2022) on landmark -> city prompts
   ("The Eiffel Tower is in the city of" -> " Paris" vs "The Colosseum ..." -> " Rome"), six pairs
   of equal token length, batched: a normalised logit difference (0 = corrupted, 1 = clean) for
   the residual stream at every (layer, position), attention and MLP outputs, and every head;
4. previous-, current- and first-token head scores from one cached forward (head detectors),
   recorded in metrics.json;
5. a mechanism diagram of one patch, drawn with the numbers of the post's worked example.

Run:  arena run 36 [--smoke] [--publish]   (or python 07_mech_interp/day_036_hooks.py)
Full run: 420 s on a quiet 2-core machine, 1 thread (two ablation scans, ~1,100 patched
forwards); longer when other jobs share the cores.
Smoke: ~10 s (a tiny random Llama with grouped-query attention and random tokens).
"""

from dataclasses import dataclass

import torch
from matplotlib.figure import Figure

from arena_core.data.shakespeare import shakespeare_text
from arena_core.interp.ablation import (
    head_ablation_hooks,
    head_ablation_scan,
    loss_with_hooks,
    mean_z,
)
from arena_core.interp.detectors import head_detector_scores, top_heads
from arena_core.interp.patching import (
    logit_diff,
    normalised_logit_diff,
    patch_attn_out,
    patch_head_z_all_pos,
    patch_mlp_out,
    patch_resid_pre,
    patching_setup,
)
from arena_core.models import load_model
from arena_core.transformer import Llama, TransformerConfig
from arena_core.transformer.tl_twin import transformer_lens_twin
from arena_core.utils import DayArgs, Run, run_script
from arena_core.utils.diagrams import PALETTE, arrow, box, canvas, finish, label

# Landmark prompts of 9 SmolLM2 tokens each ("The" + 3 subject tokens + " is in the city of")
# whose top-1 next token is the city (checked at run time). Prompts whose answer already appears
# in the prompt ("The Tower of London") were left out: they would test copying, not recall.
LANDMARKS = [
    ("The Eiffel Tower", " Paris"),
    ("The Colosseum", " Rome"),
    ("The Brandenburg Gate", " Berlin"),
    ("The Parthenon", " Athens"),
    ("The Golden Gate Bridge", " San"),
    ("The Prado Museum", " Madrid"),
]
TEMPLATE = "{} is in the city of"


@dataclass
class Args(DayArgs):
    threads: int = 1  # torch CPU threads (one is fastest for these small forwards on 2 cores)
    seq_len: int = 128  # tokens per Shakespeare sequence for the ablation scan
    n_seqs: int = 2  # number of sequences (consecutive chunks of Hamlet, Act III scene 1)
    block_patching: bool = True  # also patch attn_out and mlp_out per (layer, position)
    compare_tl: bool = True  # build TransformerLens' twin and repeat one edit there
    top_k: int = 8  # heads listed per ranking


def tiny_model() -> Llama:
    """A random Llama with grouped-query attention, SmolLM2's architecture in miniature."""
    cfg = TransformerConfig(
        d_model=48, n_layers=3, n_heads=3, n_kv_heads=1, d_head=16, d_mlp=64, d_vocab=97, n_ctx=64
    )
    return Llama(cfg).eval()


def shakespeare_tokens(tokenizer, n_seqs: int, seq_len: int) -> tuple[torch.Tensor, str]:
    text, source = shakespeare_text()
    start = text.find("To be, or not to be")
    ids = tokenizer(text[start : start + 8 * n_seqs * seq_len]).input_ids[: n_seqs * seq_len]
    return torch.tensor(ids).view(n_seqs, seq_len), source


def heatmap(ax, values: torch.Tensor, title: str, xlabel: str, ylabel: str, cmap: str = "RdBu_r"):
    """Layers down; a colour scale symmetric around 0 so that sign is readable."""
    vmax = values.abs().max().item() or 1.0
    im = ax.imshow(values, cmap=cmap, vmin=-vmax, vmax=vmax, aspect="auto")
    ax.grid(False)
    ax.set_title(title, fontsize=10)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    return im


def ablation_figure(scans: dict[str, torch.Tensor], top: dict[str, list]) -> Figure:
    fig = Figure(figsize=(10, 7))
    for i, (kind, scan) in enumerate(scans.items()):
        ax = fig.add_subplot(1, len(scans), i + 1)
        im = heatmap(ax, scan, f"{kind}-ablation", "head", "layer")
        ax.set_xticks(range(scan.shape[1]))
        for layer, head, _ in top[kind][:5]:  # mark the five most important heads
            ax.add_patch(_box(head, layer))
        fig.colorbar(im, ax=ax, fraction=0.05, label="loss increase (nats/token)")
    fig.suptitle("Ablating one head at a time on Hamlet (black boxes: the top 5)", fontsize=11)
    fig.tight_layout()
    return fig


def _box(x: int, y: int):
    from matplotlib.patches import Rectangle

    return Rectangle((x - 0.5, y - 0.5), 1, 1, fill=False, edgecolor="black", lw=1.5)


def patching_figure(maps: dict[str, torch.Tensor], labels: list[str], title: str) -> Figure:
    fig = Figure(figsize=(4.2 * len(maps) + 1, 7))
    for i, (name, values) in enumerate(maps.items()):
        ax = fig.add_subplot(1, len(maps), i + 1)
        im = heatmap(ax, values, name, "position" if labels else "head", "layer")
        ticks = labels or [str(h) for h in range(values.shape[1])]
        ax.set_xticks(range(values.shape[1]), ticks, rotation=90 if labels else 0, fontsize=8)
        fig.colorbar(im, ax=ax, fraction=0.05, label="fraction of the logit difference restored")
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return fig


# The worked example of the post: last-position logits over three tokens (" Paris", " Rome",
# " London") in the clean, corrupted and one patched run; the answers are (" Paris", " Rome").
TOY_LOGITS = {"clean": [5.0, 1.0, 0.0], "corrupted": [1.0, 4.0, 0.0], "patched": [3.0, 2.0, 0.0]}


def toy_patching_numbers() -> dict[str, float]:
    """LD of each toy run and the normalised score of the patched run, by the patching module."""
    answers = torch.tensor([[0, 1]])
    ld = {k: logit_diff(torch.tensor([[v]]), answers).item() for k, v in TOY_LOGITS.items()}
    metric = normalised_logit_diff(answers, ld["clean"], ld["corrupted"])
    score = metric(torch.tensor([[TOY_LOGITS["patched"]]])).item()
    return {**{f"ld_{k}": v for k, v in ld.items()}, "score": score}


def mechanism_figure(toy: dict[str, float]) -> Figure:
    """Two runs side by side as (layer x position) grids of residual-stream states: one clean
    state is copied into the corrupted run, and everything it can reach downstream is recomputed."""
    from matplotlib.patches import Rectangle

    clean_tokens = ["The", " E", "iffel", " Tower", " is", " in", " the", " city", " of"]
    corrupt_tokens = ["The", " Col", "osse", "um", " is", " in", " the", " city", " of"]
    n_pos, n_layers, w, h = len(clean_tokens), 4, 0.95, 0.7
    p_layer, p_pos = 1, 2  # the patched state: layer 1, the middle subject token
    fig, ax = canvas(width=16, height=10)

    def grid(y0: float, tokens: list[str], patched: bool) -> None:
        for layer in range(n_layers):
            for pos in range(n_pos):
                face = PALETTE["input"]
                if patched and layer == p_layer and pos == p_pos:
                    face = "#d62728"
                elif patched and layer > p_layer and pos >= p_pos:
                    face = PALETTE["highlight"]  # can read the patched state: recomputed
                elif not patched and layer == p_layer and pos == p_pos:
                    face = "#d62728"
                rect = Rectangle((pos * w, y0 + layer * h), w, h, fc=face, ec="0.45", lw=0.8)
                ax.add_patch(rect)
            label(ax, (-0.15, y0 + (layer + 0.5) * h), f"layer {layer}", fontsize=9, ha="right")
        for pos, token in enumerate(tokens):
            label(ax, ((pos + 0.5) * w, y0 - 0.25), token.strip(), fontsize=9, va="top",
                  bbox=dict(fc="white", ec="none", pad=0.5), zorder=3)  # fmt: skip

    top_y, bottom_y = 5.6, 0.6
    grid(top_y, clean_tokens, patched=False)
    grid(bottom_y, corrupt_tokens, patched=True)
    label(ax, (n_pos * w / 2, top_y + n_layers * h + 0.35), "clean run (cached)", fontsize=11,
          fontweight="bold")  # fmt: skip
    label(ax, (n_pos * w / 2, bottom_y + n_layers * h + 0.35), "corrupted run, one state patched",
          fontsize=11, fontweight="bold")  # fmt: skip
    src = ((p_pos + 0.5) * w, top_y + (p_layer + 0.5) * h)
    dst = ((p_pos + 0.5) * w, bottom_y + (p_layer + 0.5) * h)
    arrow(ax, src, dst, color="0.1", curve=0.55)
    label(ax, (src[0] + 0.2, (src[1] + dst[1]) / 2 + 0.1),
          "copy this one state: the hook returns the clean value", fontsize=9.5,
          color="#d62728", ha="left")  # fmt: skip
    label(ax, (n_pos * w + 0.2, bottom_y - 0.9),
          "pink: states that can read the patch (later layers, same or later positions)",
          fontsize=9, ha="right")  # fmt: skip

    # the three runs' last-position logit differences and the score
    right = n_pos * w + 1.0
    out_top = top_y + n_layers * h
    out_bot = bottom_y + n_layers * h
    arrow(ax, ((n_pos - 0.5) * w, out_top), (right, out_top - 0.35))
    arrow(ax, ((n_pos - 0.5) * w, out_bot), (right, out_bot - 0.35))
    box(
        ax,
        (right, out_top - 1.0),
        f"clean: LD = {toy['ld_clean']:g}\n(unpatched corrupted: LD = {toy['ld_corrupted']:g})",
        width=4.2,
        height=1.1,
        role="output",
        fontsize=9.5,
    )
    box(ax, (right, out_bot - 1.0), f"patched: LD = {toy['ld_patched']:g}", width=4.2,
        height=1.1, role="highlight", fontsize=9.5)  # fmt: skip
    label(ax, (right + 2.1, (out_top + out_bot) / 2 - 0.55),
          "LD = logit(' Paris') − logit(' Rome')\nat the last position", fontsize=9)  # fmt: skip
    ld_c, ld_x, ld_p = toy["ld_clean"], toy["ld_corrupted"], toy["ld_patched"]
    box(ax, (right - 0.5, bottom_y - 1.9),
        f"score = ({ld_p:g} − ({ld_x:g})) / ({ld_c:g} − ({ld_x:g})) = {toy['score']:.3f}\n"
        "0 = like the corrupted run, 1 = like the clean run",
        width=5.2, height=1.2, role="op", fontsize=9.5)  # fmt: skip
    finish(ax)
    return fig


def fmt(heads: list[tuple[int, int, float]]) -> list[str]:
    return [f"L{layer}H{head}: {score:.3f}" for layer, head, score in heads]


def main(args: Args) -> dict:
    with Run(day=36, args=args) as run:
        metrics: dict = {}
        toy = toy_patching_numbers()
        metrics["toy_example"] = toy
        run.save_fig(mechanism_figure(toy), "mechanism")
        if args.smoke:
            model = tiny_model().to(run.device)
            tokens = torch.randint(0, model.cfg.d_vocab, (2, 24))
            clean = torch.randint(0, model.cfg.d_vocab, (3, 6))
            corrupted = clean.clone()
            corrupted[:, 1:3] = torch.randint(0, model.cfg.d_vocab, (3, 2))
            answers = torch.randint(0, model.cfg.d_vocab, (3, 2))
            labels = [f"p{i}" for i in range(clean.shape[1])]
            run.record_source("model", "tiny random Llama (GQA), smoke run")
            run.record_source("data", "random tokens")
        else:
            lm = load_model("smollm2-135m", device=run.device)
            model, tok = lm.model.eval(), lm.tokenizer
            run.record_source("model", lm.source)
            tokens, source = shakespeare_tokens(tok, args.n_seqs, args.seq_len)
            run.record_source("data", f"Hamlet III.1 from 'To be, or not to be' ({source})")
            prompts = [TEMPLATE.format(name) for name, _ in LANDMARKS]
            clean = torch.tensor([tok(p).input_ids for p in prompts])  # raises if lengths differ
            corrupted = clean.roll(-1, dims=0)  # pair i: landmark i vs landmark i + 1
            city = torch.tensor([tok(c).input_ids[0] for _, c in LANDMARKS])
            answers = torch.stack([city, city.roll(-1)], dim=1)
            with torch.no_grad():
                top1 = model(clean.to(run.device))[:, -1].argmax(-1).cpu()
            metrics["prompts_top1_correct"] = int((top1 == city).sum())
            metrics["n_prompts"] = len(LANDMARKS)
            first = [tok.decode([t]) for t in clean[0]]
            other = [tok.decode([t]) for t in clean[1]]
            labels = [
                a.strip() if a == b else f"{a.strip()}/{b.strip()}"
                for a, b in zip(first, other, strict=True)
            ]
        tokens, clean, corrupted, answers = (
            t.to(run.device) for t in (tokens, clean, corrupted, answers)
        )
        n_layers = model.cfg.n_layers

        # 1a. an inspecting hook: read the residual stream, return None (activation unchanged)
        norms: dict[int, float] = {}

        def record_norm(resid, hook):
            norms[int(hook.name.split(".")[1])] = resid.norm(dim=-1).mean().item()

        hooks = [(f"blocks.{layer}.hook_resid_post", record_norm) for layer in range(n_layers)]
        clean_loss = loss_with_hooks(model, tokens, hooks).item()
        metrics["clean_loss"] = clean_loss
        metrics["resid_norm_by_layer"] = [round(norms[layer], 3) for layer in range(n_layers)]

        # 2. ablation scans (zero and mean), then 1b. one edit repeated on TL's twin
        means = mean_z(model, tokens)
        scans = {
            kind: head_ablation_scan(model, tokens, kind=kind, means=means)
            for kind in ("zero", "mean")
        }
        top = {kind: top_heads(scan, args.top_k) for kind, scan in scans.items()}
        for kind in scans:
            metrics[f"{kind}_ablation_top_heads"] = fmt(top[kind])
            metrics[f"{kind}_ablation_max_increase"] = scans[kind].max().item()
            metrics[f"{kind}_ablation_median_increase"] = scans[kind].median().item()
        corr = torch.corrcoef(torch.stack([s.flatten() for s in scans.values()]))[0, 1]
        metrics["zero_vs_mean_scan_correlation"] = corr.item()
        run.save_fig(ablation_figure(scans, top), "head_ablation_scan")

        layer, head, _ = top["zero"][0]
        edit = head_ablation_hooks([(layer, head)])
        ours = loss_with_hooks(model, tokens, edit).item()
        metrics["edit_head"] = f"L{layer}H{head}"
        metrics["edit_loss_ours"] = ours
        if args.compare_tl:
            tl = transformer_lens_twin(model.cpu())
            metrics["edit_loss_transformer_lens"] = loss_with_hooks(tl, tokens.cpu(), edit).item()
            metrics["edit_loss_abs_diff_vs_tl"] = abs(ours - metrics["edit_loss_transformer_lens"])
            del tl
            model.to(run.device)

        # 3. activation patching on the landmark pairs
        setup = patching_setup(model, clean, corrupted, answers)
        metrics["clean_logit_diff"] = setup.clean_logit_diff
        metrics["corrupted_logit_diff"] = setup.corrupted_logit_diff
        resid = patch_resid_pre(model, corrupted, setup.clean_cache, setup.metric)
        maps = {"resid_pre": resid}
        if args.block_patching:
            maps["attn_out"] = patch_attn_out(model, corrupted, setup.clean_cache, setup.metric)
            maps["mlp_out"] = patch_mlp_out(model, corrupted, setup.clean_cache, setup.metric)
        names = {
            "resid_pre": "residual stream (entering the layer)",
            "attn_out": "attention output",
            "mlp_out": "MLP output",
        }
        title = "Patching one clean (layer, position) into the corrupted run"
        shown = {names[k]: v for k, v in maps.items()}
        run.save_fig(patching_figure(shown, labels, title), "patching_by_position")
        heads = patch_head_z_all_pos(model, corrupted, setup.clean_cache, setup.metric)
        run.save_fig(
            patching_figure(
                {"one head's output, all positions": heads}, [], "Patching one head at a time"
            ),
            "patching_heads",
        )
        last = clean.shape[1] - 1
        # where the answer moves: the earliest layer whose last-position residual restores >= 50%
        restored = (resid[:, last] >= 0.5).nonzero()
        metrics["resid_last_pos_first_layer_over_half"] = int(restored[0]) if len(restored) else -1
        subject_max = resid[:, 1:4].max().item() if clean.shape[1] > 4 else resid.max().item()
        metrics["resid_subject_positions_max"] = subject_max
        for name, values in maps.items():
            best = divmod(int(values.argmax()), values.shape[1])
            metrics[f"{name}_patch_best"] = (
                f"layer {best[0]} position {best[1]}: {values.max():.3f}"
            )
        metrics["head_patching_top"] = fmt(top_heads(heads, args.top_k))
        metrics["head_patching_most_negative"] = fmt(
            [(a, b, -v) for a, b, v in top_heads(-heads, 3)]
        )

        # 4. head detectors from one cached forward
        scores = head_detector_scores(model, tokens)
        for name, s in scores.items():
            metrics[f"{name}_top_heads"] = fmt(top_heads(s, 5))
        return run.finish(metrics)


if __name__ == "__main__":
    run_script(main, Args)
