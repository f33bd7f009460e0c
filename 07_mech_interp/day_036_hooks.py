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
4. previous-, current- and first-token head scores from one cached forward (head detectors).

Run:  arena run 36 [--smoke] [--publish]   (or python 07_mech_interp/day_036_hooks.py)
Full run: 420 s on a quiet 2-core machine, 1 thread (two ablation scans, ~1,100 patched
forwards); the published run took 11 min of wall time on a shared, busy machine.
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
    patch_attn_out,
    patch_head_z_all_pos,
    patch_mlp_out,
    patch_resid_pre,
    patching_setup,
)
from arena_core.models import load_model
from arena_core.transformer import Llama, TransformerConfig
from arena_core.transformer.patterns import plot_head_scores
from arena_core.transformer.tl_twin import transformer_lens_twin
from arena_core.utils import DayArgs, Run, run_script

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
    ax.set_title(title, fontsize=10)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    return im


def ablation_figure(scans: dict[str, torch.Tensor], top: dict[str, list]) -> Figure:
    fig = Figure(figsize=(10, 7))
    for i, (kind, scan) in enumerate(scans.items()):
        ax = fig.add_subplot(1, len(scans), i + 1)
        im = heatmap(ax, scan, f"{kind}-ablation: loss increase (nats/token)", "head", "layer")
        ax.set_xticks(range(scan.shape[1]))
        for layer, head, _ in top[kind][:5]:  # mark the five most important heads
            ax.add_patch(_box(head, layer))
        fig.colorbar(im, ax=ax, fraction=0.05)
    fig.suptitle("Ablating one head at a time (black boxes: top 5)", fontsize=11)
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
        fig.colorbar(im, ax=ax, fraction=0.05)
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return fig


def fmt(heads: list[tuple[int, int, float]]) -> list[str]:
    return [f"L{layer}H{head}: {score:.3f}" for layer, head, score in heads]


def main(args: Args) -> dict:
    with Run(day=36, args=args) as run:
        metrics: dict = {}
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
            labels = [a if a == b else f"{a}/{b}" for a, b in zip(first, other, strict=True)]
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
        title = "Patching clean into corrupted at one (layer, position): normalised logit diff"
        run.save_fig(patching_figure(maps, labels, title), "patching_by_position")
        heads = patch_head_z_all_pos(model, corrupted, setup.clean_cache, setup.metric)
        run.save_fig(
            patching_figure({"head z (all positions)": heads}, [], "Patching each head's output"),
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
        run.save_fig(
            plot_head_scores(scores, "Head detectors on the Hamlet passage"), "head_detectors"
        )
        return run.finish(metrics)


if __name__ == "__main__":
    run_script(main, Args)
