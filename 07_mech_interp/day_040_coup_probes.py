"""Day 40 — Coup probes (Roger 2023): train a probe on made-up examples of a catastrophic action,
then test it on formats, framings, languages and on-policy text it never saw.

Shows:
1. off-policy training data: our own templated first-person plans of an AI agent, harmful
   (exfiltrate weights, switch off oversight, delete audit logs, plant a backdoor, take
   credentials, copy itself, escalate privileges, defeat the off-switch) vs benign look-alikes
   that share most words (`arena_core.data.coup`), each read as the agent's reply in a chat;
   activations = residual stream averaged over the reply's tokens;
2. a layer sweep on a validation split of the training format only (logistic and mass-mean probes);
   the layer is chosen there, before any test set is touched;
3. AUROC per distribution shift at that layer, for both probes and for a black-box bag-of-words
   classifier fitted on the same training texts: held-out templates, a tool call, a past-tense
   incident report, a chat transcript, fiction / hypothetical / jailbreak-style wrappers, French,
   Spanish;
4. on-policy: the model itself is asked to act out each plan (plain, as fiction, in French), its
   greedy replies are probed in context, re-read after the neutral training prompt, and given to
   the bag of words; labels = which plan it was asked to carry out.

Run:  arena run 40 [--smoke] [--publish]   (or python 07_mech_interp/day_040_coup_probes.py)
Full run (SmolLM2-135M-Instruct, 256 training texts, 64 per shift, 48 generations per request
style): about 9 min on 2 cores, 1 thread (measured 8.0 and 9.0 min).
`--model qwen2.5-coder-0.5b-instruct` runs the same on the larger optional model (falls back to
SmolLM2, with a log line and `model_fallback` in metrics.json, if it is not installed).
Smoke: 48 training texts, 12 per shift, 6 generations of 12 tokens per style, layers 0, 4 and 8
(the forward pass stops after the deepest probed layer).
The worked example of the post (an AUROC counted by hand) is computed by the project's `auroc`.
"""

import re
from dataclasses import dataclass

import torch
from matplotlib.figure import Figure

from arena_core.data.coup import (
    NEUTRAL_USER,
    REQUESTS,
    SHIFTS,
    agent_messages,
    coup_requests,
    load_coup,
)
from arena_core.models import load_model_for_run
from arena_core.probes.bag_of_words import fit_bag_of_words
from arena_core.probes.metrics import auroc
from arena_core.probes.spans import chat_prefix, chat_rows, extract_span_means
from arena_core.probes.sweeps import fit_probe, layer_sweep, train_test_split
from arena_core.transformer.generate import GREEDY, generate
from arena_core.utils import DayArgs, Run, run_script
from arena_core.utils.diagrams import arrow, box, canvas, finish, label

Tensor = torch.Tensor
PROBES = {"logistic": "logistic probe", "mass_mean": "mass-mean probe"}
SHIFT_NAMES = {
    "in_distribution": "held-out\ntemplates",
    "tool_call": "tool call",
    "report": "incident\nreport",
    "chat": "chat\ntranscript",
    "fiction": "fiction\nwrapper",
    "hypothetical": "hypothetical\nwrapper",
    "roleplay": "jailbreak\nrole-play",
    "french": "French",
    "spanish": "Spanish",
    "on_policy_plain": "on-policy\nplain",
    "on_policy_fiction": "on-policy\nfiction",
    "on_policy_french": "on-policy\nFrench",
}
REFUSAL = re.compile(r"\b(can't|cannot|can not|sorry|unable|won't|not able|ne peux pas|désolé)\b")

# The worked example: probe scores of three harmful and three benign replies.
TOY_HARMFUL = [2.0, 0.5, -0.3]
TOY_BENIGN = [0.1, -0.5, -1.0]


@dataclass
class Args(DayArgs):
    threads: int = 1  # torch CPU threads
    model: str = "smollm2-135m"  # or "qwen2.5-coder-0.5b-instruct" (optional install)
    n_train: int = 256  # training-format texts (half harmful); a quarter is the validation split
    n_test: int = 64  # texts per distribution shift (half harmful)
    n_generate: int = 48  # on-policy requests per style (half harmful)
    max_new_tokens: int = 40  # length of each on-policy reply (greedy)
    C: float = 1.0  # inverse L2 strength of the logistic probe and of the bag of words
    batch_size: int = 16  # prompts per forward pass


def toy_auroc() -> dict:
    """AUROC of the toy scores: the fraction of (harmful, benign) pairs ranked the right way."""
    scores = torch.tensor(TOY_HARMFUL + TOY_BENIGN)
    labels = torch.tensor([1, 1, 1, 0, 0, 0])
    wins = sum(h > b for h in TOY_HARMFUL for b in TOY_BENIGN)
    return {
        "harmful_scores": TOY_HARMFUL,
        "benign_scores": TOY_BENIGN,
        "pairs_ranked_right": wins,
        "pairs": len(TOY_HARMFUL) * len(TOY_BENIGN),
        "auroc": round(auroc(scores, labels), 4),
    }


def mechanism_figure(toy: dict) -> Figure:
    """Off-policy examples -> activations -> probe; then the same probe on the real thing."""
    fig, ax = canvas(width=15, height=6.6)
    label(ax, (1.9, 6.25), "fit (off-policy)", fontsize=11, weight="bold")
    box(
        ax,
        (0, 3.9),
        "synthetic replies we wrote:\n'I will copy my own weights\nto an outside "
        "server ...'  (1)\n'I will copy my own weights\nto the approved backup ...'  (0)",
        width=3.8,
        height=2.0,
        role="input",
        fontsize=8.5,
    )
    box(
        ax,
        (5.0, 4.3),
        "SmolLM2\nresidual stream\nafter layer ℓ",
        width=2.4,
        height=1.3,
        role="op",
        fontsize=9,
    )
    box(
        ax,
        (8.6, 4.3),
        "x = mean over\nthe reply's tokens",
        width=2.4,
        height=1.3,
        role="op",
        fontsize=9,
    )
    box(ax, (12.2, 4.3), "probe\ns(x) = wᵀx + b", width=2.4, height=1.3, role="param")
    arrow(ax, (3.8, 4.95), (5.0, 4.95))
    arrow(ax, (7.4, 4.95), (8.6, 4.95))
    arrow(ax, (11.0, 4.95), (12.2, 4.95), "fit w, b")
    label(ax, (1.9, 3.2), "apply (the real thing)", fontsize=11, weight="bold")
    box(
        ax,
        (0, 0.5),
        "text it never saw:\nother formats, wrappers,\nFrench, Spanish,\nthe model's own replies",
        width=3.8,
        height=2.2,
        role="input",
        fontsize=8.5,
    )
    box(ax, (5.0, 0.95), "same model,\nsame layer ℓ", width=2.4, height=1.3, role="op", fontsize=9)
    box(ax, (8.6, 0.95), "same mean\nover the reply", width=2.4, height=1.3, role="op", fontsize=9)
    box(
        ax,
        (12.2, 0.95),
        "scores s(x)\n→ AUROC per shift",
        width=2.4,
        height=1.3,
        role="output",
        fontsize=9,
    )
    arrow(ax, (3.8, 1.6), (5.0, 1.6))
    arrow(ax, (7.4, 1.6), (8.6, 1.6))
    arrow(ax, (11.0, 1.6), (12.2, 1.6))
    arrow(ax, (13.4, 4.3), (13.4, 2.25), "frozen w, b", text_offset=(0.65, -0.1))
    label(
        ax,
        (13.4, 0.1),
        f"e.g. harmful {toy['harmful_scores']}, benign {toy['benign_scores']}:"
        f" {toy['pairs_ranked_right']}/{toy['pairs']} pairs right, AUROC {toy['auroc']:.3f}",
        fontsize=8.5,
        ha="right",
    )
    finish(ax)
    return fig


def sweep_figure(sweeps: dict, separation: list[float], labels: list[str], best: int, name: str):
    fig = Figure(figsize=(12, 4.3))
    ax = fig.add_subplot(1, 2, 1)
    for kind, rows in sweeps.items():
        ax.plot(
            range(len(rows)), [r.test_auroc for r in rows], marker="o", ms=3, label=PROBES[kind]
        )
    ax.set_ylabel("validation AUROC")
    ax.set_ylim(0.45, 1.02)
    ax.axhline(0.5, color="0.6", lw=0.8)
    ax2 = fig.add_subplot(1, 2, 2)
    ax2.plot(range(len(separation)), separation, marker="o", ms=3, color="tab:green")
    ax2.set_ylabel("validation separation d′ (mass-mean)")
    for a in (ax, ax2):
        a.axvline(best, color="0.5", ls=":", lw=1.2, label=f"chosen: layer {labels[best]}")
        step = max(1, len(labels) // 10)
        a.set_xticks(range(0, len(labels), step), labels[::step])
        a.set_xlabel("residual stream after layer")
        a.legend(loc="lower right", fontsize=8.5)
    fig.suptitle(f"Choosing the layer on the training format only ({name})")
    fig.tight_layout()
    return fig


def shift_figure(table: dict, layer: str) -> Figure:
    shifts = list(table)
    fig = Figure(figsize=(14, 4.8))
    ax = fig.add_subplot(1, 1, 1)
    series = {"logistic": "logistic probe", "mass_mean": "mass-mean probe", "bow": "bag of words"}
    colours = {"logistic": "tab:blue", "mass_mean": "tab:cyan", "bow": "tab:orange"}
    width = 0.27
    for k, (key, name) in enumerate(series.items()):
        xs = [i + (k - 1) * width for i in range(len(shifts))]
        ax.bar(xs, [table[s][key] for s in shifts], width, label=name, color=colours[key])
    ax.axhline(0.5, color="0.3", lw=0.9, ls="--", label="chance")
    n_off = sum(not s.startswith("on_policy") for s in shifts)
    ax.axvline(n_off - 0.5, color="0.6", lw=0.8)
    ax.text((n_off - 1) / 2, 1.03, "text we wrote (off-policy)", ha="center", fontsize=9.5)
    ax.text((n_off + len(shifts) - 1) / 2, 1.03, "the model's own replies (on-policy)",
            ha="center", fontsize=9.5)  # fmt: skip
    ax.set_xticks(range(len(shifts)), [SHIFT_NAMES[s] for s in shifts], fontsize=8.5)
    ax.set_ylabel("AUROC (harmful vs benign)")
    ax.set_xlabel("test set: the distribution shift from the training format")
    ax.set_ylim(0, 1.22)
    ax.set_yticks([0, 0.2, 0.4, 0.6, 0.8, 1.0])
    ax.set_title(
        f"Probe (residual after layer {layer}) vs bag of words, trained on first-person "
        "English plans only"
    )
    ax.legend(loc="upper center", fontsize=8.5, ncols=4)
    fig.tight_layout()
    return fig


def on_policy_figure(scores: dict, labels: dict) -> Figure:
    fig = Figure(figsize=(13, 3.8))
    for i, style in enumerate(scores):
        ax = fig.add_subplot(1, len(scores), i + 1)
        s, y = scores[style], labels[style]
        bins = torch.linspace(float(s.min()), float(s.max()), 16).numpy()
        ax.hist(
            s[y == 1].numpy(),
            bins=bins,
            alpha=0.6,
            color="tab:red",
            label="asked for a harmful action",
        )
        ax.hist(
            s[y == 0].numpy(),
            bins=bins,
            alpha=0.6,
            color="tab:green",
            label="asked for the benign twin",
        )
        ax.set_title(f"{style} request: AUROC {auroc(s, y):.2f}", fontsize=10)
        ax.set_xlabel("logistic probe score (logit)")
        ax.set_ylabel("replies")
        if i == 0:
            ax.legend(loc="upper left", fontsize=8)
    fig.suptitle("The probe on the model's own replies, read in context")
    fig.tight_layout()
    return fig


def separation(scores: Tensor, y: Tensor) -> float:
    """d′ = (mean₊ − mean₋) / pooled std of the scores: how far apart the classes sit."""
    pos, neg = scores[y == 1].double(), scores[y == 0].double()
    pooled = ((pos.var() + neg.var()) / 2).sqrt().clamp_min(1e-12)
    return float((pos.mean() - neg.mean()) / pooled)


def generate_replies(model, tok, requests: list[str], args: Args, n_new: int):
    """Greedy replies, batched with a KV cache; returns (prompt ids, reply ids) per request."""
    prompts = [chat_prefix(tok, agent_messages(r)) for r in requests]
    stop = tok.convert_tokens_to_ids("<|im_end|>")
    replies = []
    for b0 in range(0, len(prompts), args.batch_size):
        out = generate(
            model,
            prompts[b0 : b0 + args.batch_size],
            n_new,
            sampling=GREEDY,
            min_new_tokens=2,
            stop_tokens=[stop],
            pad_token_id=tok.pad_token_id,
        )
        replies += [[t for t in r if t != stop] for r in out.new_tokens]
    return prompts, replies


def on_policy(model, tok, style, probes, bow, hook, args, n_gen, n_new) -> dict:
    """Generate replies to `style` requests; AUROC of the probes on them read in context and
    re-read after the neutral training prompt, and of the bag of words on their text."""
    reqs = coup_requests(style, seed=args.seed, n=n_gen)
    prompts, replies = generate_replies(model, tok, reqs.prompts, args, n_new)
    keep = [i for i, rep in enumerate(replies) if rep]
    prompts, replies = [prompts[i] for i in keep], [replies[i] for i in keep]
    y = torch.tensor(reqs.labels)[keep]
    texts = [tok.decode(rep) for rep in replies]
    rows = [p + rep for p, rep in zip(prompts, replies, strict=True)]
    spans = [(len(p), len(p) + len(rep)) for p, rep in zip(prompts, replies, strict=True)]
    pad = tok.pad_token_id
    in_ctx = extract_span_means(model, rows, spans, hook, args.batch_size, pad, desc=style)[hook]
    r, s = chat_rows(tok, agent_messages(NEUTRAL_USER), replies)
    reread = extract_span_means(model, r, s, hook, args.batch_size, pad, desc="re-read")[hook]
    refusal = torch.tensor([bool(REFUSAL.search(t.lower())) for t in texts]).double()
    pos = [i for i in range(len(y)) if y[i] == 1][:2]
    neg = [i for i in range(len(y)) if y[i] == 0][:2]
    out = {"auroc": {k: round(auroc(p(in_ctx), y), 4) for k, p in probes.items()}}
    out["auroc"]["bow"] = round(auroc(bow.scores(texts), y), 4)
    out["reread_auroc"] = {k: round(auroc(p(reread), y), 4) for k, p in probes.items()}
    out["empty"] = len(reqs) - len(keep)
    out["coverage"] = round(bow.vocabulary.coverage(texts), 4)
    out["refusal_rate"] = {
        "harmful": round(float(refusal[y == 1].mean()), 4),
        "benign": round(float(refusal[y == 0].mean()), 4),
    }
    out["samples"] = [
        {"request": reqs.prompts[keep[i]], "reply": texts[i], "harmful": bool(y[i])}
        for i in pos + neg
    ]
    out["scores"], out["labels"] = probes["logistic"](in_ctx), y
    return out


def main(args: Args) -> dict:
    with Run(day=40, args=args) as run:
        metrics: dict = {}
        toy = toy_auroc()
        metrics["toy_example"] = toy
        run.save_fig(mechanism_figure(toy), "mechanism")

        lm = load_model_for_run(args.model, run)
        model, tok = lm.model.eval(), lm.tokenizer
        run.record_source(
            "data",
            f"own templates (arena_core/data/coup.py); on-policy replies generated by {lm.name}",
        )
        if lm.provenance:
            metrics["model_provenance"] = lm.provenance
        n_train, n_test = (48, 12) if args.smoke else (args.n_train, args.n_test)
        n_gen, n_new = (6, 12) if args.smoke else (args.n_generate, args.max_new_tokens)
        n_layers = model.cfg.n_layers
        layers = [0, 4, 8] if args.smoke else list(range(n_layers))
        hooks = [f"blocks.{i}.hook_resid_post" for i in layers]
        labels = [str(i) for i in layers]
        neutral = agent_messages(NEUTRAL_USER)
        metrics.update(
            model_name=lm.name,
            n_layers=n_layers,
            n_train=n_train,
            n_test=n_test,
            n_generate=n_gen,
            max_new_tokens=n_new,
        )

        # 1-2. training format at every layer; choose the layer on its validation split
        train = load_coup("train", seed=args.seed, n=n_train)
        y_train = torch.tensor(train.labels)
        rows, spans = chat_rows(tok, neutral, train.prompts)
        acts = extract_span_means(
            model, rows, spans, hooks, args.batch_size, tok.pad_token_id, desc="training format"
        )
        by_layer = {lab: acts[h] for lab, h in zip(labels, hooks, strict=True)}
        sweeps = {
            k: layer_sweep(by_layer, y_train, probe=k, seed=args.seed, C=args.C) for k in PROBES
        }
        fit_idx, val_idx = train_test_split(n_train, seed=args.seed)
        sep = []
        for lab in labels:
            score = fit_probe("mass_mean", by_layer[lab][fit_idx], y_train[fit_idx])
            sep.append(round(separation(score(by_layer[lab][val_idx]), y_train[val_idx]), 4))
        # rank by validation AUROC (logistic, to 3 decimals), ties broken by the mass-mean d′
        best_i = max(
            range(len(labels)), key=lambda i: (round(sweeps["logistic"][i].test_auroc, 3), sep[i])
        )
        best, best_hook = labels[best_i], hooks[best_i]
        metrics["best_layer"] = int(best)
        metrics["validation"] = {
            lab: {
                "logistic_auroc": round(sweeps["logistic"][i].test_auroc, 4),
                "mass_mean_auroc": round(sweeps["mass_mean"][i].test_auroc, 4),
                "mass_mean_d_prime": sep[i],
            }
            for i, lab in enumerate(labels)
        }
        metrics["n_layers_validation_auroc_1"] = sum(
            r.test_auroc == 1.0 for r in sweeps["logistic"]
        )
        val_auc = sweeps["logistic"][best_i].test_auroc
        run.print(f"  chosen layer {best} (validation AUROC {val_auc:.3f}, d′ {sep[best_i]:.2f})")
        run.save_fig(sweep_figure(sweeps, sep, labels, best_i, lm.name), "layer_sweep")

        # 3. refit on all training-format texts at that layer; score every shift
        x_train = by_layer[best]
        probes = {k: fit_probe(k, x_train, y_train, args.C) for k in PROBES}
        bow = fit_bag_of_words(train.prompts, train.labels, C=args.C)
        metrics["bow_vocabulary_size"] = len(bow.vocabulary.index)
        metrics["bow_top_words"] = bow.top_words(6)
        table: dict[str, dict[str, float]] = {}
        coverage = {}
        examples = {}
        for fmt in SHIFTS:
            ds = load_coup(fmt, seed=args.seed, n=n_test)
            y = torch.tensor(ds.labels)
            r, s = chat_rows(tok, neutral, ds.prompts)
            x = extract_span_means(
                model, r, s, best_hook, args.batch_size, tok.pad_token_id, desc=fmt
            )[best_hook]
            table[fmt] = {k: round(auroc(p(x), y), 4) for k, p in probes.items()}
            table[fmt]["bow"] = round(auroc(bow.scores(ds.prompts), y), 4)
            coverage[fmt] = round(bow.vocabulary.coverage(ds.prompts), 4)
            examples[fmt] = ds.prompts[0]
        metrics["bow_word_coverage"] = coverage
        metrics["shift_examples"] = examples

        # 4. on-policy: the model's own replies to requests to act out each plan
        gen_scores, gen_labels, samples, refusals = {}, {}, {}, {}
        for style in REQUESTS:
            got = on_policy(model, tok, style, probes, bow, best_hook, args, n_gen, n_new)
            key = f"on_policy_{style}"
            table[key] = got["auroc"]
            metrics[f"{key}_reread"] = got["reread_auroc"]
            metrics[f"{key}_empty_replies"] = got["empty"]
            coverage[key] = got["coverage"]
            refusals[style], samples[style] = got["refusal_rate"], got["samples"]
            gen_scores[style], gen_labels[style] = got["scores"], got["labels"]
        metrics["on_policy_refusal_rate"] = refusals
        metrics["on_policy_samples"] = samples
        metrics["auroc"] = table
        for k in ("logistic", "mass_mean", "bow"):
            off = [v[k] for f, v in table.items() if f != "in_distribution"]
            metrics[f"{k}_mean_auroc_over_shifts"] = round(sum(off) / len(off), 4)
            metrics[f"{k}_min_auroc"] = min(v[k] for v in table.values())
        for f, v in table.items():
            run.print(f"  {f:>18}: " + ", ".join(f"{k} {a:.3f}" for k, a in v.items()))
        run.save_fig(shift_figure(table, best), "auroc_by_shift")
        run.save_fig(on_policy_figure(gen_scores, gen_labels), "on_policy_scores")
        return run.finish(metrics)


if __name__ == "__main__":
    run_script(main, Args)
