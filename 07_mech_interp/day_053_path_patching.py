"""Day 53 — Path patching: which heads write the IOI answer, and which heads steer them?

Shows, on SmolLM2-135M-Instruct and the IOI prompts of day 52 (all 8 templates, both orders):
1. activation patching of each head's output `z` at every position, clean into corrupted
   ("abc": all three names replaced by fresh distinct ones, as Wang et al.'s p_ABC: the prompt
   keeps its structure but no name repeats), the baseline picture: `[layers heads]`;
2. path patching (Wang et al. 2022 §3, `arena_core.interp.path_patching`) of every head -> the
   logits (the direct path only): heads whose abc output lowers the logit difference when it
   reaches the logits directly are name-mover candidates;
3. path patching of every earlier head -> the queries of the top name-mover candidates
   (S-inhibition candidates), and -> their keys and values.
Effects are changes of the logit difference LD = logit[IO] - logit[S] at the last token,
(LD_patched - LD_clean) / (LD_clean - LD_abc): 0 = no effect, -1 = as much as the abc prompt.
Prompts are batched per template (equal lengths, no padding); the grids combine the templates
by prompt count. MLPs recompute in path patching (as in the paper).

Run:  arena run 53 [--smoke] [--publish]   (or python 07_mech_interp/day_053_path_patching.py)
Full run (104 prompts; heads in layers 12-29 for activation patching and step 3, all 270 heads
for the direct path): 23 min wall on 1 thread, measured with other jobs sharing the 2 cores
(about 10 min of CPU time).
Smoke: 4 prompts of one template, layers 22-29.
The worked example of the post (one prompt, the top S-inhibition candidate -> the top name mover's
query: the logit differences of the three runs) is computed and logged in metrics.
"""

from dataclasses import dataclass

import torch
from matplotlib.figure import Figure

from arena_core.data.ioi import corrupt, ioi_dataset
from arena_core.interp.patching import logit_diff
from arena_core.interp.patching_heads import patch_head_all_pos
from arena_core.interp.path_patching import path_patch, path_patch_sweep, path_patch_sweeps
from arena_core.models import load_model_for_run
from arena_core.utils import DayArgs, Run, run_script
from arena_core.utils.diagrams import arrow, box, canvas, finish, label

# Wang et al. 2022, GPT-2 small: the anchors the post compares with (not computed here).
GPT2_HEADS = {
    "name movers": ["9.6", "9.9", "10.0"],
    "negative name movers": ["10.7", "11.10"],
    "S-inhibition": ["7.3", "7.9", "8.6", "8.10"],
    "induction": ["5.5", "6.9"],
    "duplicate token": ["0.1", "3.0"],
}


@dataclass
class Args(DayArgs):
    threads: int = 1  # torch CPU threads
    model: str = "smollm2-135m"  # the model of days 53-58
    n: int = 104  # IOI prompts (templates and orders cycled evenly: 13 per template)
    n_receivers: int = 3  # top name-mover candidates used as receivers in step 3
    min_layer: int = 12  # activation patching and step 3 sweep heads in layers >= this only
    cells_per_pass: int = 16  # patching cells run together in one forward pass


def groups(tok, n: int, seed: int, smoke: bool):
    """Clean and abc token tensors per template, with (IO, S) answer ids."""
    clean = ioi_dataset(tok, n, seed=seed, templates=(1,) if smoke else None)
    abc = corrupt(tok, clean, "abc", seed=seed)
    out: dict[int, dict] = {}
    for i, p in enumerate(clean.prompts):
        g = out.setdefault(p.template, {"clean": [], "abc": [], "answers": [], "idx": []})
        g["clean"].append(clean.tokens[i])
        g["abc"].append(abc.tokens[i])
        g["answers"].append([clean.io_ids[i], clean.s_ids[i]])
        g["idx"].append(i)
    for g in out.values():
        for k in ("clean", "abc", "answers"):
            g[k] = torch.tensor(g[k])
    return clean, out


def ld_metric(answers):
    return lambda logits: logit_diff(logits, answers)


def combine(per_group: list[tuple[int, torch.Tensor]]) -> torch.Tensor:
    """Mean LD over all prompts from per-template mean LDs (weights = prompt counts)."""
    total = sum(n for n, _ in per_group)
    return sum(n * v for n, v in per_group) / total


def top_heads(grid: torch.Tensor, k: int, sign: float = -1.0) -> list[dict]:
    """The k heads with the most negative (sign=-1) or positive values."""
    flat = torch.nan_to_num(sign * grid, nan=-float("inf")).flatten()
    idx = flat.topk(k).indices
    n_heads = grid.shape[1]
    return [{"head": f"{int(i) // n_heads}.{int(i) % n_heads}",
             "value": round(grid.flatten()[i].item(), 4)} for i in idx]  # fmt: skip


def heatmap(grid: torch.Tensor, title: str, cbar: str, marks: list[str] = ()) -> Figure:
    """`[layers heads]` heat map, layers on the y axis, 0 white, marked heads boxed."""
    fig = Figure(figsize=(5.6, 8.2))
    ax = fig.add_subplot(1, 1, 1)
    lim = max(float(torch.nan_to_num(grid, nan=0).abs().max()), 1e-6)
    im = ax.imshow(grid.numpy(), cmap="RdBu", vmin=-lim, vmax=lim, aspect="auto",
                   origin="lower")  # fmt: skip
    ax.set_xlabel("head")
    ax.set_ylabel("layer")
    ax.set_xticks(range(grid.shape[1]))
    ax.set_yticks(range(0, grid.shape[0], 2))
    for m in marks:
        layer, head = map(int, m.split("."))
        ax.add_patch(__import__("matplotlib.patches").patches.Rectangle(
            (head - 0.5, layer - 0.5), 1, 1, fill=False, edgecolor="black", lw=1.6))  # fmt: skip
    ax.set_facecolor("0.85")  # grey = not swept
    fig.colorbar(im, ax=ax, label=cbar, shrink=0.8)
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig


def mechanism_figure(ex: dict) -> Figure:
    """The three runs of path patching, with the worked example's numbers."""
    fig, ax = canvas(15.5, 9.0, scale=0.72)
    s, r = ex["sender"], ex["receiver"]
    cols = [(0.3, "Run 1: two plain runs"), (5.4, "Run 2: orig input, frozen heads"),
            (10.5, "Run 3: orig input, receiver's query patched")]  # fmt: skip
    for x, t in cols:
        label(ax, (x + 2.35, 8.55), t, fontsize=10.5, ha="center", fontweight="bold")
    box(ax, (0.3, 6.6), f"orig (clean) prompt\nLD = {ex['ld_orig']:.2f}", 4.7, 1.2, "input")
    box(ax, (0.3, 4.9), f"new (abc) prompt\nLD = {ex['ld_new']:.2f}", 4.7, 1.2, "input")
    box(ax, (0.3, 2.6), "cache every head's z\nfrom both runs", 4.7, 1.2, "op")
    arrow(ax, (2.65, 4.85), (2.65, 3.85))
    box(ax, (5.4, 6.6), f"sender {s}: z from the new run", 4.7, 1.0, "highlight")
    box(ax, (5.4, 5.2), "every other head: z frozen to orig\nMLPs recompute", 4.7, 1.2, "param")
    box(ax, (5.4, 3.6), f"receiver {r}: save its query\n(it sees only {s}'s change)", 4.7, 1.2,
        "op")  # fmt: skip
    arrow(ax, (5.0, 3.2), (5.4, 6.9), curve=-0.2)
    arrow(ax, (7.75, 6.55), (7.75, 6.45))
    arrow(ax, (7.75, 5.15), (7.75, 4.85))
    box(ax, (10.5, 6.6), "everything computes as usual", 4.7, 1.0, "neutral")
    box(ax, (10.5, 5.0), f"receiver {r}: query from run 2\n(keys, values: live)", 4.7, 1.2,
        "highlight")  # fmt: skip
    box(ax, (10.5, 3.2), f"logits at END\nLD = {ex['ld_path_q']:.2f}", 4.7, 1.2, "output")
    arrow(ax, (10.1, 4.2), (10.5, 5.6), text="q", curve=0.1)
    arrow(ax, (12.85, 4.95), (12.85, 4.45))
    txt = (f"prompt: \"{ex['prompt']}\"  (IO = {ex['io']}, S = {ex['s']})\n"
           f"whole head {s} patched (all routes): LD = {ex['ld_activation']:.2f};   "
           f"{s} -> logits only: LD = {ex['ld_direct']:.2f};   "
           f"{s} -> {r}'s query only: LD = {ex['ld_path_q']:.2f}")  # fmt: skip
    box(ax, (0.3, 0.4), txt, 14.9, 1.5, "neutral", fontsize=9.5)
    finish(ax)
    return fig


def sweep_groups(fn, data: dict, **kw) -> torch.Tensor:
    """Run a per-template sweep `fn(g, metric)` and combine to an all-prompt mean-LD grid."""
    return combine([(len(g["idx"]), fn(g, ld_metric(g["answers"]), **kw)) for g in data.values()])


def main(args: Args) -> dict:
    with Run(day=53, args=args) as run:
        lm = load_model_for_run(args.model, run)
        tok, model = lm.tokenizer, lm.model.eval()
        n = 4 if args.smoke else args.n
        min_layer = 22 if args.smoke else args.min_layer
        clean, data = groups(tok, n, args.seed, args.smoke)
        kw = dict(cells_per_pass=args.cells_per_pass, last_only=True)
        layers = list(range(min_layer, model.cfg.n_layers))
        with torch.no_grad():
            ld_clean = combine([(len(g["idx"]), logit_diff(model(g["clean"], last_only=True),
                                 g["answers"])) for g in data.values()]).item()  # fmt: skip
            ld_abc = combine([(len(g["idx"]), logit_diff(model(g["abc"], last_only=True),
                               g["answers"])) for g in data.values()]).item()  # fmt: skip
        span = ld_clean - ld_abc
        run.print(
            f"  {n} prompts, {len(data)} templates: LD clean {ld_clean:.3f}, abc {ld_abc:.3f}"
        )

        def act(g, metric, **kw):  # denoising: clean z into the abc run
            _, cache = model.run_with_cache(g["clean"], names_filter=lambda n: n.endswith("hook_z"))
            return patch_head_all_pos(model, g["abc"], cache, metric, "z", **kw)

        def to_logits(g, metric, **kw):
            return path_patch_sweep(model, g["clean"], g["abc"], "logits", metric, **kw)

        def to_receivers(g, metric, **kw):  # queries, then keys and values: one grid each
            grids = path_patch_sweeps(model, g["clean"], g["abc"], receivers, metric,
                                      ["q", ("k", "v")], layers=layers, **kw)  # fmt: skip
            return torch.stack(grids)

        activation = (sweep_groups(act, data, layers=layers, **kw) - ld_abc) / span  # 0 = abc
        direct = (sweep_groups(to_logits, data, **kw) - ld_clean) / span  # 0 = no effect
        movers = top_heads(direct, args.n_receivers)
        receivers = [tuple(map(int, m["head"].split("."))) for m in movers]
        if min(r[0] for r in receivers) <= min_layer:
            raise ValueError(f"receivers {receivers} are not above --min-layer {min_layer}")
        to_q, to_kv = (sweep_groups(to_receivers, data, **kw) - ld_clean) / span
        m = {
            "n_prompts": n,
            "n_templates": len(data),
            "corruption": "abc",
            "ld_clean": round(ld_clean, 4),
            "ld_abc": round(ld_abc, 4),
            "activation_top_positive": top_heads(activation, 8, 1.0),
            "activation_top_negative": top_heads(activation, 4, -1.0),
            "direct_top_negative": top_heads(direct, 8, -1.0),
            "direct_top_positive": top_heads(direct, 4, 1.0),
            "receivers": [f"{a}.{b}" for a, b in receivers],
            "to_q_top_negative": top_heads(to_q, 8, -1.0),
            "to_q_top_positive": top_heads(to_q, 4, 1.0),
            "direct_sum_all_heads": round(float(direct.sum()), 4),
            "gpt2_anchor_heads": GPT2_HEADS,
        }
        figs = {
            "head_patching": heatmap(activation, "Activation patching of each head's output\n"
                                     "(clean into abc; 1 = clean LD restored)", "restored "
                                     "fraction of LD", m["receivers"]),
            "path_to_logits": heatmap(direct, "Path patching: each head -> logits (direct)\n"
                                      "(abc output; -1 = LD drops to abc)", "change of LD / "
                                      "(LD clean - LD abc)", m["receivers"]),
            "path_to_queries": heatmap(to_q, f"Path patching: each head -> queries of "
                                       f"{', '.join(m['receivers'])}", "change of LD / "
                                       "(LD clean - LD abc)", m["receivers"]),
        }  # fmt: skip
        m["to_kv_top_negative"] = top_heads(to_kv, 8, -1.0)
        m["to_kv_top_positive"] = top_heads(to_kv, 4, 1.0)
        m["swept_layers"] = [min_layer, model.cfg.n_layers - 1]
        figs["path_to_keys_values"] = heatmap(
            to_kv, f"Path patching: each head -> keys and values of\n{', '.join(m['receivers'])}",
            "change of LD / (LD clean - LD abc)", m["receivers"])  # fmt: skip
        m["worked_example"] = worked_example(model, tok, clean, data, m)
        run.record_source("model", lm.source)
        run.save_fig(mechanism_figure(m["worked_example"]), "mechanism")
        for name, fig in figs.items():
            run.save_fig(fig, name)
        for key in ("activation_top_positive", "direct_top_negative", "to_q_top_negative"):
            run.print(
                f"  {key}: " + ", ".join(f"{h['head']} {h['value']:+.3f}" for h in m[key][:5])
            )
        return run.finish(m)


def worked_example(model, tok, clean, data, m) -> dict:
    """One prompt: the top S-inhibition candidate -> the top name mover's query, three runs."""
    g = next(iter(data.values()))
    orig, new, ans = g["clean"][:1], g["abc"][:1], g["answers"][:1]
    sender = tuple(map(int, m["to_q_top_negative"][0]["head"].split(".")))
    receiver = tuple(map(int, m["receivers"][0].split(".")))
    metric = ld_metric(ans)
    with torch.no_grad():
        ld_orig, ld_new = metric(model(orig)).item(), metric(model(new)).item()
        _, nc = model.run_with_cache(new, names_filter=f"blocks.{sender[0]}.attn.hook_z")

        def put(z, hook=None):  # the sender's whole output from the new run (every route)
            z = z.clone()
            z[:, :, sender[1]] = nc[f"blocks.{sender[0]}.attn.hook_z"][:, :, sender[1]]
            return z

        ld_act = metric(model.run_with_hooks(orig, fwd_hooks=[(f"blocks.{sender[0]}.attn.hook_z",
                                                                put)])).item()  # fmt: skip
    p = clean.prompts[g["idx"][0]]
    return {
        "prompt": p.text, "io": p.io, "s": p.s,
        "sender": f"{sender[0]}.{sender[1]}", "receiver": f"{receiver[0]}.{receiver[1]}",
        "ld_orig": round(ld_orig, 4), "ld_new": round(ld_new, 4),
        "ld_activation": round(ld_act, 4),
        "ld_direct": round(path_patch(model, orig, new, [sender], "logits", metric), 4),
        "ld_path_q": round(path_patch(model, orig, new, [sender], [receiver], metric), 4),
    }  # fmt: skip


if __name__ == "__main__":
    run_script(main, Args)
