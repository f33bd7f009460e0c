"""Day 52 — IOI task setup: does the model complete "... John gave a drink to" with Mary?

Shows:
1. the indirect-object-identification task of Wang et al. (2022) on our offline models: prompts
   from `arena_core.data.ioi` (both orders ABBA/BABA, all 8 templates), scored at the last token
   by `arena_core.interp.ioi`: logit difference logit[IO] − logit[S], P(IO), rank of IO, accuracy;
2. the same prompts with all three names replaced by fresh, distinct ones ("abc": no name
   repeats, so there is no indirect object to find), the baseline where the difference should be 0;
3. SmolLM2-135M-Instruct and Qwen2.5-Coder-0.5B-Instruct (optional; when it is not installed the
   run says so in metrics.json and goes on with SmolLM2), per template and per order, and which
   model the circuit days 53–58 use: SmolLM2 when its effect is clear (mean logit difference
   above 1, at least 10 standard errors above the abc baseline, accuracy above 0.8), else Qwen.

Run:  arena run 52 [--smoke] [--publish]   (or python 07_mech_interp/day_052_ioi_setup.py)
Full run (400 prompts per model, both models): about 2 min on 2 cores, 1 thread.
Smoke: SmolLM2 only, 32 prompts.
The mechanism diagram shows one real prompt with its IO, S1, S2 and END positions and the
model's own two logits at END (the worked example of the post, computed here).
"""

from dataclasses import dataclass, replace

import torch
from matplotlib.figure import Figure

from arena_core.data.ioi import TEMPLATES, corrupt, ioi_dataset
from arena_core.interp.ioi import IOIScores, end_logits, mean_sem, scores_from_logits, summarise
from arena_core.models import ModelUnavailableError, load_model
from arena_core.utils import DayArgs, Run, run_script
from arena_core.utils.diagrams import arrow, box, canvas, finish, label

SMOLLM2, QWEN = "smollm2-135m", "qwen2.5-coder-0.5b-instruct"
PRETTY = {SMOLLM2: "SmolLM2-135M-Instruct", QWEN: "Qwen2.5-Coder-0.5B-Instruct"}
# Pencil example of the post: logits at END over a three-token vocabulary.
TOY = {" Mary": 4.0, " John": 1.5, " the": 0.5}


@dataclass
class Args(DayArgs):
    threads: int = 1  # torch CPU threads
    model: str = SMOLLM2  # the small model, always run
    second_model: str = QWEN  # the larger optional model ("" to skip)
    n: int = 400  # IOI prompts per model (orders and the 8 templates cycled evenly)
    batch_size: int = 32  # prompts per forward pass (prompts are grouped by length, no padding)


def toy_example() -> dict:
    """LD and softmax of the three-token pencil example."""
    logits = torch.tensor(list(TOY.values()), dtype=torch.float64)
    p = logits.softmax(-1)
    return {
        "logits": TOY,
        "logit_diff": (logits[0] - logits[1]).item(),
        "probs": {k: round(v, 4) for k, v in zip(TOY, p.tolist(), strict=True)},
        "prob_ratio_io_over_s": round((p[0] / p[1]).item(), 4),
    }


def worked_example(lm, data, s: IOIScores) -> dict:
    """The first prompt scored by the model: tokens, positions, the two logits and LD."""
    tok = lm.tokenizer
    logits = lm.model(torch.tensor([data.tokens[0]]), last_only=True)[0, -1].double()
    io, sid = data.io_ids[0], data.s_ids[0]
    return {
        "prompt": data.prompts[0].text,
        "io": data.prompts[0].io,
        "s": data.prompts[0].s,
        "tokens": [tok.decode([t]) for t in data.tokens[0]],
        "positions": data.positions[0],
        "logit_io": round(logits[io].item(), 4),
        "logit_s": round(logits[sid].item(), 4),
        "logit_diff": round((logits[io] - logits[sid]).item(), 4),
        "metric_logit_diff": round(s.logit_diff[0].item(), 4),
        "p_io": round(s.p_io[0].item(), 4),
        "p_s": round(s.p_s[0].item(), 4),
        "top_token": tok.decode([int(logits.argmax())]),
    }


def mechanism_figure(ex: dict, model_name: str) -> Figure:
    """The prompt as tokens with IO, S1, S2, END marked, the model, and LD at END."""
    toks, pos = ex["tokens"], ex["positions"]
    roles = {pos["IO"]: ("IO", "output"), pos["S1"]: ("S1", "highlight"),
             pos["S2"]: ("S2", "highlight"), pos["end"]: ("END", "op")}  # fmt: skip
    width = max(len(toks) * 1.05 + 0.6, 12.0)
    fig, ax = canvas(width, 7.4, scale=0.72)
    for i, t in enumerate(toks):
        role = roles.get(i, (None, "input"))
        box(ax, (0.3 + 1.05 * i, 5.0), repr(t)[1:-1].replace(" ", "␣"), width=1.0, height=0.8,
            role=role[1], fontsize=8)  # fmt: skip
        if role[0]:
            label(ax, (0.8 + 1.05 * i, 6.05), role[0], fontsize=10, ha="center",
                  fontweight="bold")  # fmt: skip
    end_x = 0.8 + 1.05 * pos["end"]
    mx = width / 2 - 2.5
    box(ax, (mx, 2.9), f"{model_name}\n(all layers, every position)", width=5.0, height=1.1,
        role="param", fontsize=10)  # fmt: skip
    arrow(ax, (width / 2, 4.95), (width / 2, 4.05))
    arrow(ax, (mx + 5.0, 3.45), (end_x, 1.85), text="logits at END", curve=-0.2)
    txt = (f"logit[' {ex['io']}'] (IO) = {ex['logit_io']:.2f}    "
           f"logit[' {ex['s']}'] (S) = {ex['logit_s']:.2f}\n"
           f"LD = logit[IO] − logit[S] = {ex['logit_diff']:.2f}     "
           f"P(IO) = {ex['p_io']:.2f},  P(S) = {ex['p_s']:.3f}")  # fmt: skip
    box(ax, (0.3, 0.2), txt, width=width - 0.6, height=1.5, role="output", fontsize=10)
    ax.text(width / 2, 6.9, "Indirect object identification: is the name that appears once "
            "preferred over the repeated one?", ha="center", fontsize=11)  # fmt: skip
    finish(ax)
    return fig


KINDS = {
    "clean": "IOI prompts",
    "abc": "abc prompts, clean IO vs S (no IO: baseline)",
    "abc_own_names": "abc prompts, IO-slot name vs new subject",
}
COLOURS = {SMOLLM2: ("tab:blue", "lightsteelblue", "royalblue"),
           QWEN: ("tab:orange", "navajowhite", "peru")}  # fmt: skip


def template_figure(results: dict) -> Figure:
    """Mean ± sem LD per template: each model on clean prompts and the two abc readings."""
    models = list(results)
    fig = Figure(figsize=(13, 5.4))
    ax = fig.add_subplot(1, 1, 1)
    n_t = len(TEMPLATES)
    w = 0.84 / (len(KINDS) * len(models))
    for k, m in enumerate(models):
        for j, (kind, word) in enumerate(KINDS.items()):
            rows = results[m][kind]["by_template"]
            means = [rows[str(t)]["logit_diff_mean"] for t in range(n_t)]
            sems = [rows[str(t)]["logit_diff_sem"] for t in range(n_t)]
            xs = [t - 0.42 + w * (len(KINDS) * k + j + 0.5) for t in range(n_t)]
            ax.bar(xs, means, width=w, yerr=sems, capsize=1.5, color=COLOURS[m][j],
                   edgecolor="0.3", lw=0.5, hatch="//" if j == 2 else None,
                   label=f"{PRETTY[m]}: {word}")  # fmt: skip
    ax.axhline(0, color="0.4", lw=0.8)
    short = [TEMPLATES[t].replace("{", "").replace("}", "") for t in range(n_t)]
    ax.set_xticks(range(n_t), [f"{t}: " + _wrap(s) for t, s in enumerate(short)], fontsize=7)
    ax.set_xlabel("template (A, B = first-clause names, S = subject of the second clause)")
    ax.set_ylabel("logit[IO] − logit[S] (mean ± s.e.m.)")
    ax.set_title("Logit difference per template")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.3), ncol=2, fontsize=8.5)
    fig.tight_layout()
    return fig


def _wrap(text: str, width: int = 19) -> str:
    words, lines, cur = text.split(), [], ""
    for w in words:
        if cur and len(cur) + len(w) + 1 > width:
            lines.append(cur)
            cur = w
        else:
            cur = f"{cur} {w}".strip()
    return "\n".join([*lines, cur])


def distribution_figure(scores: dict) -> Figure:
    """Histogram of per-prompt LD for each model: clean and the two abc readings."""
    models = list(scores)
    fig = Figure(figsize=(6.2 * len(models), 4.6))
    for k, m in enumerate(models):
        ax = fig.add_subplot(1, len(models), k + 1)
        all_ld = torch.cat([scores[m][kind].logit_diff for kind in KINDS])
        bins = torch.linspace(all_ld.min().item(), all_ld.max().item(), 41).tolist()
        for kind, colour in zip(KINDS, ("tab:blue", "0.5", "tab:green"), strict=True):
            ax.hist(scores[m][kind].logit_diff.numpy(), bins=bins, alpha=0.5, color=colour,
                    label=KINDS[kind])  # fmt: skip
        ax.axvline(0, color="black", lw=0.8)
        ax.set_xlabel("logit[IO] − logit[S] per prompt")
        ax.set_ylabel("number of prompts")
        ax.set_title(PRETTY[m])
        ax.legend(loc="upper left", fontsize=8)
    fig.suptitle("Distribution of the logit difference")
    fig.tight_layout()
    return fig


def score_model(lm, n: int, seed: int, batch_size: int, run: Run):
    """Clean prompts; abc prompts scored with the clean IO and S tokens (neither is in the
    prompt: the no-IO baseline, the 0 of the patching days) and with the abc prompt's own names
    (the name in the IO slot vs the new subject of the second clause)."""
    tok, model = lm.tokenizer, lm.model.eval()
    pad = tok.pad_token_id or 0
    clean = ioi_dataset(tok, n, seed=seed)
    abc = corrupt(tok, clean, "abc", seed=seed)
    s_clean = scores_from_logits(end_logits(model, clean, batch_size, pad_id=pad), clean)
    abc_logits = end_logits(model, abc, batch_size, pad_id=pad)
    s = {
        "clean": s_clean,
        "abc": scores_from_logits(
            abc_logits, replace(abc, io_ids=clean.io_ids, s_ids=clean.s_ids)
        ),  # fmt: skip
        "abc_own_names": scores_from_logits(abc_logits, abc),
    }
    out = {k: summarise(v) for k, v in s.items()}
    for k in ("abc", "abc_own_names"):  # same prompts with names changed: paired differences
        mean, sem = mean_sem(s_clean.logit_diff - s[k].logit_diff)
        out[f"clean_minus_{k}"] = {"mean": round(mean, 4), "sem": round(sem, 4)}
    # how often the abc prompt happens to contain the clean IO or S name (then not a clean 0)
    overlap = [bool({c.io, c.s} & {a.io, a.s, a.c}) for c, a in zip(clean.prompts, abc.prompts,
                                                                     strict=True)]  # fmt: skip
    out["abc_name_overlap_fraction"] = round(sum(overlap) / len(overlap), 4)
    o = {k: out[k]["overall"] for k in s}
    run.print(f"  {lm.name}: LD {o['clean']['logit_diff_mean']:.2f} ± "
              f"{o['clean']['logit_diff_sem']:.2f}, acc {o['clean']['accuracy']:.3f}, P(IO) "
              f"{o['clean']['p_io_mean']:.3f}; abc LD {o['abc']['logit_diff_mean']:.2f}, "
              f"abc own names {o['abc_own_names']['logit_diff_mean']:.2f}")  # fmt: skip
    return out, s, clean


def clear_effect(res: dict) -> bool:
    """The rule for 'a clear effect' (module docstring)."""
    o, d = res["clean"]["overall"], res["clean_minus_abc"]
    return o["logit_diff_mean"] > 1 and d["mean"] > 10 * d["sem"] and o["accuracy"] > 0.8


def main(args: Args) -> dict:
    with Run(day=52, args=args) as run:
        metrics: dict = {"toy_example": toy_example()}
        n = 32 if args.smoke else args.n
        metrics["n_prompts"] = n
        names = [args.model] + ([] if args.smoke or not args.second_model else [args.second_model])
        results, scores = {}, {}
        for name in names:
            try:
                lm = load_model(name, device=run.device)
            except ModelUnavailableError as err:
                run.print(f"  {name} is not installed ({err}); going on without it")
                metrics[f"{name}_status"] = f"unavailable: {err}"
                continue
            run.record_source("model" if name == args.model else f"model_{name}", lm.source)
            if lm.provenance:
                metrics[f"{name}_provenance"] = lm.provenance
            with torch.no_grad():
                results[name], scores[name], data = score_model(
                    lm, n, args.seed, args.batch_size, run
                )
                if name == args.model:
                    ex = worked_example(lm, data, scores[name]["clean"])
                    metrics["worked_example"] = ex
                    run.save_fig(mechanism_figure(ex, PRETTY.get(name, name)), "mechanism")
            metrics[name] = results[name]
            metrics[f"{name}_clear_effect"] = clear_effect(results[name])
        chosen = next((m for m in results if metrics[f"{m}_clear_effect"]), args.model)
        metrics["model_for_days_53_58"] = chosen
        metrics["templates"] = list(TEMPLATES)
        run.print(f"  model for days 53-58: {chosen}")
        run.save_fig(template_figure(results), "templates")
        run.save_fig(distribution_figure(scores), "distribution")
        return run.finish(metrics)


if __name__ == "__main__":
    run_script(main, Args)
