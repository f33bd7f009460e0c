"""Day 43 — Function vectors (Todd et al. 2023): a task, compressed into one residual-stream vector.

Shows, on six pair tasks (antonyms, country → capital, uppercase, English → French, present →
past, first name → initial; our own lists), with 5-shot "Q: x\\nA: y" prompts:
1. the causal indirect effect (CIE) of every attention head: its mean output over clean few-shot
   prompts (at the last token) patched into shuffled-label prompts, the increase in P(answer's
   first token); averaged over the tasks, the top-k heads are the function-vector heads;
2. one function vector per task: the sum of those heads' mean outputs (z_h @ W_O[h]);
3. a layer sweep on a validation split: the FV added at the last token after layer L of
   zero-shot prompts ("Q: hot\\nA:"), first-token accuracy;
4. on a held-out test split: zero-shot, zero-shot + FV, few-shot (ICL), shuffled labels, shuffled
   + FV, and two controls: FVs from k random heads (several seeds) and random vectors of the FV's
   norm.

Run:  arena run 43 [--smoke] [--publish]   (or python 07_mech_interp/day_043_func_vectors.py)
Full run (SmolLM2-135M-Instruct, 16 CIE / 16 validation / 32 test prompts per task): about
6 min of CPU time on 1 thread. `--model qwen2.5-coder-0.5b-instruct` runs the same on the larger
optional model (falls back to SmolLM2 with one log line when it is not installed).
Smoke: two tasks, 4/4/8 prompts, a coarse layer sweep, one control seed.
"""

from dataclasses import dataclass

import torch
from matplotlib.figure import Figure

from arena_core.data.facts import load_dataset
from arena_core.errors import ArgumentError
from arena_core.models import load_model_for_run
from arena_core.probes.function_vectors import (
    causal_indirect_effect,
    function_vector,
    random_heads,
    top_heads,
)
from arena_core.probes.head_maps import plot_head_map
from arena_core.probes.icl import (
    PAIR_TASKS,
    ICLPrompts,
    answer_token_ids,
    first_token_accuracy,
    icl_prompts,
    split_pairs,
    tokenize_prompts,
)
from arena_core.probes.steering import add_direction
from arena_core.utils import DayArgs, Run, run_script
from arena_core.utils.diagrams import arrow, box, canvas, finish, label, matrix

TASK_LABELS = {
    "antonyms": "antonyms",
    "country_capital": "country → capital",
    "uppercase": "uppercase",
    "english_french": "English → French",
    "present_past": "present → past",
    "first_name_initial": "name → initial",
}

# The worked example of the post: two heads, two prompts, a 3-dimensional residual stream.
TOY_HEAD_OUTPUTS = [  # [prompt][head][d]
    [[1.0, 0.0, 2.0], [0.0, 1.0, -1.0]],
    [[3.0, 2.0, 0.0], [0.0, 3.0, 1.0]],
]
TOY_RESID = [1.0, -1.0, 0.5]


@dataclass
class Args(DayArgs):
    threads: int = 1  # torch CPU threads
    model: str = "smollm2-135m"  # or "qwen2.5-coder-0.5b-instruct" (optional install)
    tasks: str = ",".join(TASK_LABELS)  # comma-separated pair tasks
    n_shots: int = 5  # demonstrations per few-shot prompt
    n_cie: int = 16  # prompts per task for the CIE scan and the FV means
    n_val: int = 16  # zero-shot prompts per task for the layer sweep
    n_test: int = 32  # held-out prompts per task for the final accuracies
    k: int = 10  # function-vector heads
    layer_step: int = 2  # the sweep tries every layer_step-th layer
    n_random: int = 3  # control seeds (random heads, random vectors)
    batch_size: int = 16  # prompts per forward pass


def toy_example() -> dict:
    """FV = Σ_heads mean_prompts(head output); the residual after adding it."""
    outs = torch.tensor(TOY_HEAD_OUTPUTS)
    means = outs.mean(0)  # [head d]
    fv = means.sum(0)
    return {
        "head_means": means.tolist(),
        "fv": fv.tolist(),
        "resid": TOY_RESID,
        "resid_plus_fv": (torch.tensor(TOY_RESID) + fv).tolist(),
    }


def mechanism_figure(toy: dict) -> Figure:
    fig, ax = canvas(width=17, height=7.2, scale=0.62)
    ax.text(0, 6.8, "1. few-shot prompts", fontsize=11, weight="bold", va="center")
    box(ax, (0, 4.9), "prompt 1\nQ: hot  A: cold\n…\nQ: up  A: ?", width=3.4, height=1.5,
        role="input", fontsize=9)  # fmt: skip
    box(ax, (0, 2.9), "prompt 2\nQ: wet  A: dry\n…\nQ: big  A: ?", width=3.4, height=1.5,
        role="input", fontsize=9)  # fmt: skip
    arrow(ax, (3.5, 5.6), (5.0, 5.3))
    arrow(ax, (3.5, 3.7), (5.0, 3.1))
    label(ax, (6.4, 1.9), "rows: prompt 1, prompt 2", fontsize=8.5)
    outs = TOY_HEAD_OUTPUTS
    matrix(ax, [outs[0][0], outs[1][0]], xy=(5.2, 4.9), title="head a at last token", cell=0.6)
    matrix(ax, [outs[0][1], outs[1][1]], xy=(5.2, 2.6), title="head b at last token", cell=0.6)
    arrow(ax, (7.2, 5.5), (8.4, 5.5), "mean")
    arrow(ax, (7.2, 3.2), (8.4, 3.2), "mean")
    means = toy["head_means"]
    matrix(ax, [means[0]], xy=(8.6, 5.2), cell=0.6, cmap=None)
    matrix(ax, [means[1]], xy=(8.6, 2.9), cell=0.6, cmap=None)
    arrow(ax, (10.6, 5.5), (11.7, 4.6))
    arrow(ax, (10.6, 3.2), (11.7, 4.1), "sum", text_offset=(0.1, -0.55))
    matrix(ax, [toy["fv"]], xy=(11.9, 4.05), title="function vector v", cell=0.6,
           cmap="Oranges")  # fmt: skip
    ax.text(0, 1.6, "2. zero-shot prompt", fontsize=11, weight="bold", va="center")
    box(ax, (0, 0.0), "Q: tall  A: ?", width=3.4, height=1.1, role="input")
    arrow(ax, (3.5, 0.55), (5.0, 0.55), "layers 0…L")
    matrix(ax, [toy["resid"]], xy=(5.2, 0.25), title="residual at last token", cell=0.6, cmap=None)
    arrow(ax, (7.3, 0.55), (8.5, 0.55), "+ v")
    arrow(ax, (12.8, 3.95), (8.2, 0.9), color="tab:orange", curve=0.1)
    matrix(ax, [toy["resid_plus_fv"]], xy=(8.6, 0.25), title="h + v", cell=0.6, cmap="Greens")
    arrow(ax, (10.7, 0.55), (12.0, 0.55), "layers L+1…")
    box(ax, (12.1, 0.0), "' short'", width=2.2, height=1.1, role="output")
    label(ax, (6.4, 7.1), "two of the top-k heads (by causal indirect effect)", fontsize=9)
    finish(ax)
    return fig


def cie_figure(cie: torch.Tensor, heads: list, model_name: str, n_tasks: int) -> Figure:
    fig = Figure(figsize=(6.2, 7.5))
    ax = fig.add_subplot(1, 1, 1)
    plot_head_map(ax, cie, f"Causal indirect effect, mean over {n_tasks} tasks\n{model_name}",
                  "increase in P(answer)", marked=heads)  # fmt: skip
    fig.tight_layout()
    return fig


def sweep_figure(layers: list[int], acc: dict, best: int) -> Figure:
    fig = Figure(figsize=(8, 4.6))
    ax = fig.add_subplot(1, 1, 1)
    for task, vals in acc.items():
        ax.plot(layers, vals, marker=".", alpha=0.6, label=TASK_LABELS.get(task, task))
    mean = torch.tensor(list(acc.values())).mean(0)
    ax.plot(layers, mean, marker="o", color="black", lw=2.2, label="mean over tasks")
    ax.axvline(best, color="0.5", ls=":", lw=1)
    ax.set_xlabel("function vector added after layer")
    ax.set_ylabel("zero-shot first-token accuracy (validation)")
    ax.set_ylim(-0.02, 1.02)
    ax.set_title("Where does adding the function vector work?")
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=8.5)
    fig.tight_layout()
    return fig


CONDITIONS = {
    "zero_shot": ("zero-shot", "#bbbbbb"),
    "zero_shot_fv": ("zero-shot + FV", "tab:orange"),
    "zero_shot_random_heads": ("zero-shot + random-heads FV", "#f5c89a"),
    "zero_shot_random_vector": ("zero-shot + random vector", "#e0e0e0"),
    "few_shot": ("5-shot (ICL)", "tab:blue"),
    "shuffled": ("shuffled labels", "#9ecae1"),
    "shuffled_fv": ("shuffled labels + FV", "tab:red"),
    "shuffled_random_heads": ("shuffled labels + random-heads FV", "#f4b6b6"),
}


def accuracy_figure(results: dict, layer: int, model_name: str) -> Figure:
    tasks = list(results)
    fig = Figure(figsize=(12, 4.8))
    ax = fig.add_subplot(1, 1, 1)
    width = 0.8 / len(CONDITIONS)
    for c, (key, (name, colour)) in enumerate(CONDITIONS.items()):
        xs = [t + (c - (len(CONDITIONS) - 1) / 2) * width for t in range(len(tasks) + 1)]
        vals = [results[t][key] for t in tasks]
        vals.append(sum(vals) / len(vals))
        ax.bar(xs, vals, width=width, color=colour, label=name, edgecolor="0.3", lw=0.4)
    ax.set_xticks(range(len(tasks) + 1), [TASK_LABELS.get(t, t) for t in tasks] + ["mean"])
    ax.set_ylabel("first-token accuracy (test)")
    ax.set_ylim(0, 1.0)
    ax.set_title(f"Function vectors on {model_name}, added after layer {layer}")
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=8.5)
    fig.tight_layout()
    return fig


def main(args: Args) -> dict:
    with Run(day=43, args=args) as run:
        metrics: dict = {}
        toy = toy_example()
        metrics["toy_example"] = toy
        run.save_fig(mechanism_figure(toy), "mechanism")

        lm = load_model_for_run(args.model, run)
        model, tok = lm.model.eval(), lm.tokenizer
        metrics["model"] = lm.name
        tasks = args.tasks.split(",")[: 2 if args.smoke else None]
        if not tasks or any(t not in PAIR_TASKS for t in tasks):
            raise ArgumentError(f"--tasks takes pair tasks from: {', '.join(PAIR_TASKS)}")
        n_cie, n_val, n_test = (4, 4, 8) if args.smoke else (args.n_cie, args.n_val, args.n_test)
        step = 6 if args.smoke else args.layer_step
        n_random = 1 if args.smoke else args.n_random
        bs = args.batch_size
        n_layers, n_heads = model.cfg.n_layers, model.cfg.n_heads

        data, sources = {}, []
        for i, task in enumerate(tasks):
            ds = load_dataset(task, seed=args.seed)
            sources.append(f"{task}: {ds.meta.get('source')}")
            parts = split_pairs(ds.pairs(), (0.4, 0.3, 0.3), seed=args.seed)
            data[task] = [
                icl_prompts(part, n, args.n_shots, seed=args.seed + 10 * i + j)
                for j, (part, n) in enumerate(zip(parts, (n_cie, n_val, n_test), strict=True))
            ]
        run.record_source("data", "; ".join(sources))
        metrics["example_prompt"] = data[tasks[0]][2].few_shot[0]

        def rows_of(p: ICLPrompts, kind: str) -> list[list[int]]:
            return tokenize_prompts(tok, getattr(p, kind))

        # 1. CIE of every head, per task, then averaged
        cies = {}
        for task in tasks:
            p = data[task][0]
            ids = answer_token_ids(tok, p.answers)
            cies[task] = causal_indirect_effect(
                model, rows_of(p, "few_shot"), rows_of(p, "shuffled"), ids, bs
            )
            run.log(**{f"cie_max_{task}": round(cies[task].max().item(), 5)})
            run.print(f"  CIE scan {task}: largest {cies[task].max().item():.4f}")
        cie = torch.stack(list(cies.values())).mean(0)
        heads = top_heads(cie, args.k)
        metrics["top_heads"] = [[L, h, round(cie[L, h].item(), 5)] for L, h in heads]
        metrics["cie_per_task_max"] = {t: round(c.max().item(), 5) for t, c in cies.items()}
        run.print(f"  top heads (layer, head): {heads}")
        run.save_fig(cie_figure(cie, heads, lm.name, len(tasks)), "cie_heatmap")

        # 2. one FV per task from the top heads; control FVs from random heads, random vectors
        fvs = {t: function_vector(model, rows_of(data[t][0], "few_shot"), heads, bs) for t in tasks}
        metrics["fv_norm"] = {t: round(v.norm().item(), 3) for t, v in fvs.items()}
        rand_heads = [random_heads(n_layers, n_heads, args.k, seed=args.seed + s)
                      for s in range(n_random)]  # fmt: skip
        rand_fvs = {t: [function_vector(model, rows_of(data[t][0], "few_shot"), rh, bs)
                        for rh in rand_heads] for t in tasks}  # fmt: skip
        gen = torch.Generator().manual_seed(args.seed)
        rand_vecs = {}
        for t in tasks:
            vs = torch.randn(n_random, model.cfg.d_model, generator=gen)
            rand_vecs[t] = [v / v.norm() * fvs[t].norm() for v in vs]

        def acc(p: ICLPrompts, kind: str, vec=None, layer: int = 0) -> float:
            rows, ids = rows_of(p, kind), answer_token_ids(tok, p.answers)
            if vec is None:
                return first_token_accuracy(model, rows, ids, bs).accuracy
            hook = f"blocks.{layer}.hook_resid_post"
            with add_direction(model, hook, vec.to(run.device), 1.0, positions=-1):
                return first_token_accuracy(model, rows, ids, bs).accuracy

        # 3. layer sweep on the validation split (zero-shot + FV)
        layers = list(range(0, n_layers, step))
        sweep = {t: [acc(data[t][1], "zero_shot", fvs[t], L) for L in layers] for t in tasks}
        mean_sweep = torch.tensor(list(sweep.values())).mean(0)
        best = layers[int(mean_sweep.argmax())]
        metrics["sweep_layers"] = layers
        metrics["sweep_val_accuracy"] = {t: [round(a, 4) for a in v] for t, v in sweep.items()}
        metrics["sweep_val_mean"] = [round(a, 4) for a in mean_sweep.tolist()]
        metrics["best_layer"] = best
        metrics["best_layer_fraction_of_depth"] = round(best / n_layers, 3)
        run.print(f"  best layer on validation: {best} (mean zero-shot+FV {mean_sweep.max():.3f})")
        run.save_fig(sweep_figure(layers, sweep, best), "layer_sweep")

        # 4. held-out test split
        results = {}
        for t in tasks:
            p = data[t][2]
            r = {
                "zero_shot": acc(p, "zero_shot"),
                "zero_shot_fv": acc(p, "zero_shot", fvs[t], best),
                "few_shot": acc(p, "few_shot"),
                "shuffled": acc(p, "shuffled"),
                "shuffled_fv": acc(p, "shuffled", fvs[t], best),
            }
            rh = [acc(p, "zero_shot", v, best) for v in rand_fvs[t]]
            rv = [acc(p, "zero_shot", v, best) for v in rand_vecs[t]]
            rs = [acc(p, "shuffled", v, best) for v in rand_fvs[t]]
            r["zero_shot_random_heads"] = sum(rh) / len(rh)
            r["zero_shot_random_vector"] = sum(rv) / len(rv)
            r["shuffled_random_heads"] = sum(rs) / len(rs)
            r["zero_shot_random_heads_max"] = max(rh)
            r["zero_shot_random_vector_max"] = max(rv)
            results[t] = {k: round(v, 4) for k, v in r.items()}
            run.log(**{f"test_{t}": results[t]})
            run.print(f"  {t}: {results[t]}")
        metrics["test"] = results
        keys = next(iter(results.values())).keys()
        metrics["test_mean"] = {
            k: round(sum(results[t][k] for t in tasks) / len(tasks), 4) for k in keys
        }
        metrics["n_prompts"] = {"cie": n_cie, "val": n_val, "test": n_test}
        metrics["n_shots"] = args.n_shots
        metrics["k"] = args.k
        metrics["n_layers"], metrics["n_heads"] = n_layers, n_heads
        run.print(f"  mean over tasks: {metrics['test_mean']}")
        run.save_fig(accuracy_figure(results, best, lm.name), "accuracy")
        return run.finish(metrics)


if __name__ == "__main__":
    run_script(main, Args)
