"""Day 44 — Activation addition (Turner et al. 2023) on a small model, and nnsight as a second hand.

Shows:
1. a steering vector v = mean over contrast pairs ("I love" / "I hate", ...) of the residual stream
   after layer L at the last token; the layer is chosen by a small sweep (every 4th layer: mean
   sentiment of 16-token continuations steered with +2·v minus that with −2·v);
2. a dose-response curve at that layer: c·v is added at every position while the model continues
   neutral openings (sampled, KV cache); the sentiment of the continuation (VADER lexicon mean) and
   its cost — the continuation's NLL under the *unsteered* model and the increase of next-token loss
   on fixed neutral text with the steer on — against c, for v, for a mass-mean sentiment-probe
   direction (day 39's recipe, on VADER words) rescaled to |v|, and for random directions of |v|;
3. sample continuations at a few coefficients;
4. the cities truth direction (mass-mean, best-AUROC layer) added from the statement's last token
   on, and the change of logit(" True") − logit(" False"), on SmolLM2 and on the 0.5B Qwen;
5. the same steer written with nnsight on HF's copy of the model: same logits;
6. a function vector (heads and task from `arena_core.probes.function_vectors`) built and added
   with nnsight (o_proj input sliced per head) against ours: same vector, same patched logits.

Run:  arena run 44 [--smoke] [--publish]   (or python 07_mech_interp/day_044_steering.py)
Full run (SmolLM2-135M-Instruct for 1-3, 5-6; SmolLM2 and Qwen2.5-Coder-0.5B-Instruct for 4):
about 11 min of CPU on 1 thread (measured with `time`; wall time is longer on a busy machine).
Without the optional Qwen, part 4 falls back to SmolLM2 only.
Smoke: 4 prompts, 3 layers in the sweep, 3 coefficients, SmolLM2 only.
"""

import textwrap
from dataclasses import dataclass

import torch
from matplotlib.figure import Figure

from arena_core.data.facts import load_dataset
from arena_core.interp.cache import smollm2_hf_dir
from arena_core.interp.nnsight_ref import (
    nnsight_function_vector,
    nnsight_steered_logits,
    nnsight_wrap,
    padded_inputs,
)
from arena_core.models import ModelUnavailableError, load_model
from arena_core.probes.activation_addition import (
    contrast_direction,
    mean_text_loss,
    random_direction,
    sentiment_and_cost,
    steered_logit_gap,
)
from arena_core.probes.activations import extract_activations, tokenize
from arena_core.probes.directions import fit_mass_mean
from arena_core.probes.function_vectors import (
    causal_indirect_effect,
    function_vector,
    random_heads,
    top_heads,
)
from arena_core.probes.icl import (
    answer_token_ids,
    first_token_accuracy,
    icl_prompts,
    split_pairs,
    tokenize_prompts,
)
from arena_core.probes.steering import add_direction
from arena_core.probes.sweeps import layer_sweep, train_test_split
from arena_core.transformer.sampling import SamplingConfig
from arena_core.utils import DayArgs, Run, run_script
from arena_core.utils.diagrams import PALETTE, arrow, box, canvas, finish, label, matrix

Tensor = torch.Tensor

# Contrast pairs: the same context, one sentiment word swapped (read at the last token).
PAIRS = [
    ("I love", "I hate"),
    ("I love this", "I hate this"),
    ("It was wonderful", "It was terrible"),
    ("She is kind", "She is cruel"),
    ("This is good", "This is bad"),
    ("What a great day", "What a horrible day"),
]
# Neutral openings for the dose-response curve.
NEUTRAL = [
    "I went up to my friend and said",
    "Yesterday my neighbour",
    "The weather today is",
    "My new job is",
    "When I opened the box, I",
    "The movie last night was",
    "Our trip to the coast",
    "I think that you",
    "The food at the restaurant",
    "This morning the train",
    "My brother called and told me",
    "The meeting with the team",
    "When I got home, the house",
    "The book I am reading",
    "Last weekend we",
    "The new phone",
    "At school today, the teacher",
    "The letter from the bank",
    "Walking through the park, I",
    "The concert on Friday",
]
# Fixed neutral text: its next-token loss with the steer on is the second fluency cost.
NEUTRAL_TEXT = [
    "The train leaves the station at nine in the morning and arrives in the city before noon.",
    "Water boils at one hundred degrees Celsius at sea level.",
    "The library is open from Monday to Friday, and books can be borrowed for three weeks.",
    "She put the keys on the table, took off her coat and sat down to read the newspaper.",
    "The committee will meet again next month to review the budget for the coming year.",
    "A square has four sides of equal length and four right angles.",
]
TRUTH_SUFFIX = " This statement is"
NAMES = {"smollm2-135m": "SmolLM2-135M-Instruct", "qwen2.5-coder-0.5b-instruct":
         "Qwen2.5-Coder-0.5B-Instruct"}  # fmt: skip

# The worked example of the post: a 3-d residual stream.
TOY_LOVE = [2.0, 1.0, 0.0]
TOY_HATE = [-1.0, 1.0, 1.0]
TOY_H = [0.0, 2.0, 1.0]  # a neutral token's residual at the same layer
TOY_READOUT = [1.0, 0.0, 0.0]  # a direction later layers read as "positive"
TOY_C = 2.0


@dataclass
class Args(DayArgs):
    threads: int = 1  # torch CPU threads
    model: str = "smollm2-135m"  # model for steering, nnsight and function vectors
    truth_model: str = "qwen2.5-coder-0.5b-instruct"  # extra model for the truth steer ("" = none)
    coefficients: str = "-4,-3,-2,-1,0,1,2,3,4"  # c in h' = h + c·v (units of the contrast v)
    sweep_coefficient: float = 2.0  # layer sweep: sentiment(+c) − sentiment(−c)
    layer_step: int = 4  # sweep every layer_step-th layer (one sample per opening)
    sweep_new_tokens: int = 16  # tokens generated per continuation in the sweep
    n_prompts: int = 20  # neutral openings used (of 20)
    samples_per_prompt: int = 2  # sampled continuations per opening
    new_tokens: int = 20  # tokens generated per continuation
    temperature: float = 1.0  # sampling temperature
    top_p: float = 0.9  # nucleus sampling
    n_random: int = 2  # random directions of |v| (control)
    n_words: int = 200  # VADER words for the sentiment probe (half positive)
    n_cities: int = 160  # cities statements for the truth direction
    n_steer: int = 40  # held-out statements steered
    alphas: str = "-8,-4,-2,2,4,8"  # truth steer strengths, in units of the mean gap
    fv_task: str = "antonyms"  # function-vector task for the nnsight comparison
    fv_prompts: int = 12  # few-shot prompts for the heads' CIE and the mean head outputs
    fv_shots: int = 5  # demonstrations per few-shot prompt
    fv_heads: int = 10  # top heads by causal indirect effect
    fv_zero_shot: int = 40  # zero-shot prompts the FV is added to


def toy_example() -> dict:
    """v = h(Love) − h(Hate); h' = h + c·v; the readout moves by c·(u·v)."""
    love, hate, h, u = (torch.tensor(x) for x in (TOY_LOVE, TOY_HATE, TOY_H, TOY_READOUT))
    v = love - hate
    h2 = h + TOY_C * v
    return {
        "love": TOY_LOVE, "hate": TOY_HATE, "v": v.tolist(), "h": TOY_H, "c": TOY_C,
        "h_steered": h2.tolist(), "readout": TOY_READOUT,
        "readout_before": (u @ h).item(), "readout_after": (u @ h2).item(),
        "readout_change": TOY_C * (u @ v).item(),
    }  # fmt: skip


def mechanism_figure(toy: dict) -> Figure:
    """Two contrast prompts give v; c·v is added to every position of a new prompt at layer L."""
    fig, ax = canvas(width=15, height=7.4)
    col = lambda x: [[a] for a in x]  # noqa: E731  a column vector for `matrix`
    box(ax, (0, 5.6), '"I love"', width=2.2, height=0.8, role="input")
    box(ax, (0, 3.6), '"I hate"', width=2.2, height=0.8, role="input")
    box(ax, (2.9, 5.6), "layers 0…L", width=2.2, height=0.8, role="neutral")
    box(ax, (2.9, 3.6), "layers 0…L", width=2.2, height=0.8, role="neutral")
    arrow(ax, (2.2, 6.0), (2.9, 6.0))
    arrow(ax, (2.2, 4.0), (2.9, 4.0))
    matrix(ax, col(toy["love"]), xy=(5.8, 5.0), title="h(love)", cell=0.6, cmap="Greens")
    matrix(ax, col(toy["hate"]), xy=(5.8, 2.6), title="h(hate)", cell=0.6, cmap="Reds")
    arrow(ax, (5.1, 6.0), (5.75, 5.9))
    arrow(ax, (5.1, 4.0), (5.75, 3.5))
    matrix(ax, col(toy["v"]), xy=(7.9, 3.8), title="v = h(love) − h(hate)", cell=0.6,
           cmap="Purples")  # fmt: skip
    arrow(ax, (6.5, 5.9), (7.85, 4.9))
    arrow(ax, (6.5, 3.5), (7.85, 4.2))
    # bottom: the steered forward pass
    box(ax, (0, 0.4), '"The weather today is"', width=3.6, height=0.8, role="input")
    box(ax, (4.3, 0.4), "layers 0…L", width=2.2, height=0.8, role="neutral")
    arrow(ax, (3.6, 0.8), (4.3, 0.8))
    matrix(ax, col(toy["h"]), xy=(7.2, 0.0), title="h", cell=0.6, cmap="Blues")
    arrow(ax, (6.5, 0.8), (7.15, 0.8))
    box(ax, (8.5, 0.4), f"+ c·v  (c = {toy['c']:g})", width=2.6, height=0.8, role="highlight")
    arrow(ax, (8.7, 3.75), (9.6, 1.25), "at every position,\nprompt and new tokens",
          text_offset=(1.3, 0.1))  # fmt: skip
    arrow(ax, (7.85, 0.8), (8.5, 0.8))
    matrix(ax, col(toy["h_steered"]), xy=(11.8, 0.0), title="h + c·v", cell=0.6, cmap="Blues")
    arrow(ax, (11.1, 0.8), (11.75, 0.8))
    box(ax, (13.0, 0.4), "layers L+1…", width=2.2, height=0.8, role="neutral")
    arrow(ax, (12.45, 0.8), (13.0, 0.8))
    arrow(ax, (14.1, 0.4), (14.1, -0.4))
    label(ax, (14.1, -0.7), "steered continuation", fontsize=9.5)
    label(ax, (11.4, 3.6),
          f"a readout u = {tuple(int(x) for x in toy['readout'])}:\n"
          f"u·h = {toy['readout_before']:g}  →  u·(h + c·v) = {toy['readout_after']:g}\n"
          f"change = c·(u·v) = {toy['readout_change']:g}",
          fontsize=9.5, bbox={"facecolor": PALETTE["output"], "edgecolor": "0.6"})  # fmt: skip
    finish(ax)
    return fig


def sweep_figure(layers: list[int], gaps: list[float], best: int, model_name: str, c: float):
    fig = Figure(figsize=(7, 4.2))
    ax = fig.add_subplot(1, 1, 1)
    ax.plot(layers, gaps, marker="o", color="black")
    ax.axvline(best, color="0.6", ls=":", lw=1)
    ax.axhline(0, color="0.6", lw=0.8)
    ax.set_xlabel("layer L (steer added to the residual stream after it)")
    ax.set_ylabel(f"sentiment(c = +{c:g}) − sentiment(c = −{c:g})")
    ax.set_title(f"Where does the love − hate vector steer best? {model_name}")
    fig.tight_layout()
    return fig


STYLES = {
    "love_hate": ("love − hate (contrast pairs)", "tab:purple", "o"),
    "probe": ("sentiment probe (mass-mean), same length", "tab:green", "s"),
}


def dose_figure(coefs, curves: dict, layer: int) -> Figure:
    fig = Figure(figsize=(14, 4.4))
    panels = (
        ("sentiment", "continuation sentiment (VADER mean valence)"),
        ("perplexity", "perplexity of continuation, unsteered model"),
        ("neutral_loss_increase", "increase in loss on neutral text (nats)"),
    )
    for i, (key, ylabel) in enumerate(panels):
        ax = fig.add_subplot(1, 3, i + 1)
        for name, curve in curves.items():
            if name.startswith("random"):
                first = name == "random_0"
                ax.plot(coefs, curve[key], marker=".", color="tab:gray", alpha=0.7,
                        label="random direction, same length" if first else None)  # fmt: skip
            else:
                text, colour, marker = STYLES[name]
                ax.plot(coefs, curve[key], marker=marker, color=colour, label=text)
                if key == "sentiment":
                    lo = [m - s for m, s in zip(curve[key], curve["sentiment_sem"], strict=True)]
                    hi = [m + s for m, s in zip(curve[key], curve["sentiment_sem"], strict=True)]
                    ax.fill_between(coefs, lo, hi, color=colour, alpha=0.15, lw=0)
        if key == "perplexity":
            ax.set_yscale("log")
        ax.axvline(0, color="0.7", lw=0.8)
        ax.set_xlabel("coefficient c (added vector = c·v)")
        ax.set_ylabel(ylabel)
        if i == 0:
            ax.legend(loc="best", fontsize=8)
    fig.suptitle(f"Dose and response: steering after layer {layer} (band: ± 1 s.e. over texts)")
    fig.tight_layout()
    return fig


def clean(text: str) -> str:
    """One line, no mathtext: newlines shown as ⏎, dollar signs escaped."""
    return text.replace("\n", " ⏎ ").replace("$", r"\$").strip()


def samples_figure(samples: list[dict], layer: int) -> Figure:
    """Prompt ▸ continuation at a few coefficients, wrapped, with each text's sentiment."""
    blocks = [textwrap.wrap(f"{s['prompt']} ▸ {clean(s['continuation'])}", 95) for s in samples]
    line = 0.23  # inches per text line
    height = 0.7 + sum(line * len(b) + 0.18 for b in blocks)
    fig = Figure(figsize=(11, height))
    ax = fig.add_axes((0, 0, 1, 1))
    ax.axis("off")
    y = 1 - 0.25 / height
    ax.text(0.01, y, f"Sampled continuations, love − hate vector added after layer {layer}",
            fontsize=11, weight="bold", va="top")  # fmt: skip
    y -= 0.4 / height
    for s, b in zip(samples, blocks, strict=True):
        colour = "tab:red" if s["c"] < 0 else "tab:green" if s["c"] > 0 else "0.3"
        ax.text(0.01, y, f"c = {s['c']:+g}", fontsize=10, weight="bold", va="top", color=colour)
        ax.text(0.09, y, "\n".join(b), fontsize=10, va="top", linespacing=1.35)
        ax.text(0.99, y, f"sentiment {s['sentiment']:+.2f}", fontsize=9, va="top", ha="right",
                color="0.35")  # fmt: skip
        y -= (line * len(b) + 0.18) / height
    return fig


def truth_figure(results: dict) -> Figure:
    fig = Figure(figsize=(6.5 * len(results), 4.4))
    for i, (name, r) in enumerate(results.items()):
        ax = fig.add_subplot(1, len(results), i + 1)
        ax.plot(r["alphas"], r["truth_delta"], marker="o", color="black",
                label="truth direction (mass-mean)")  # fmt: skip
        for k, curve in enumerate(r["random_delta"]):
            ax.plot(r["alphas"], curve, marker=".", color="tab:gray", alpha=0.7,
                    label="random directions, same length" if k == 0 else None)  # fmt: skip
        ax.axhline(0, color="0.6", lw=0.8)
        ax.set_xlabel("α: added vector = α × (mean of true − mean of false)")
        ax.set_ylabel("change in logit(' True') − logit(' False')")
        ax.set_title(f"{NAMES.get(name, name)}, residual after layer {r['layer']}")
        ax.legend(loc="best", fontsize=8.5)
    fig.suptitle("Steering the answer to 'This statement is' along the cities truth direction")
    fig.tight_layout()
    return fig


def sweep_layers(model, tok, rows, layers, c, sampling, seed, new_tokens) -> list[float]:
    """sentiment(+c·v_L) − sentiment(−c·v_L) for each layer L (same sampling noise for both)."""
    pos = tokenize(tok, [p for p, _ in PAIRS])
    neg = tokenize(tok, [n for _, n in PAIRS])
    gaps = []
    for layer in layers:
        hook = f"blocks.{layer}.hook_resid_post"
        v = contrast_direction(model, pos, neg, hook)
        s = []
        for sign in (1.0, -1.0):
            gen = torch.Generator().manual_seed(seed)
            r = sentiment_and_cost(model, tok, rows, hook, v, sign * c, new_tokens, sampling, gen)
            s.append(sum(r.sentiment) / len(r.sentiment))
        gaps.append(s[0] - s[1])
    return gaps


def sentiment_probe(model, tok, layer: int, n: int, seed: int) -> tuple[Tensor, dict]:
    """Mass-mean direction of positive − negative VADER words ("Word: <w>", last token)."""
    data = load_dataset("sentiment_words", seed=seed, n=n)
    hook = f"blocks.{layer}.hook_resid_post"
    prompts = [f"Word: {w}" for w in data.prompts]
    acts = extract_activations(model, prompts, hook, "last", 16, desc="sentiment words")[hook]
    y = torch.tensor(data.labels)
    row = layer_sweep({str(layer): acts}, y, probe="mass_mean", seed=seed)[0]
    train, _ = train_test_split(len(y), seed=seed)
    probe = fit_mass_mean(acts[train], y[train])
    stats = {"test_acc": round(row.test_accuracy, 4), "test_auroc": round(row.test_auroc, 4),
             "n_words": len(y), "source": data.meta.get("source", "")}  # fmt: skip
    return probe.direction.float(), stats


def dose_response(model, tok, rows, hook, directions, coefs, sampling, seed, new_tokens):
    """Sentiment and costs of every (direction, coefficient); c = 0 is run once and shared."""
    text_rows = tokenize(tok, NEUTRAL_TEXT)
    pad = tok.pad_token_id if tok.pad_token_id is not None else 0
    base_loss = mean_text_loss(model, text_rows, pad)
    cells, zero = {}, None
    for name, v in directions.items():
        curve = {k: [] for k in ("sentiment", "sentiment_sem", "nll", "perplexity",
                                 "neutral_loss_increase")}  # fmt: skip
        cells[name] = []
        for c in coefs:
            if c == 0 and zero is not None:
                r = zero
            else:
                gen = torch.Generator().manual_seed(seed)  # same sampling noise at every c
                r = sentiment_and_cost(model, tok, rows, hook, v, c, new_tokens, sampling, gen)
                zero = r if c == 0 else zero
            s = torch.tensor(r.sentiment, dtype=torch.float64)
            nll = torch.tensor(r.nll, dtype=torch.float64).mean().item()
            curve["sentiment"].append(round(s.mean().item(), 4))
            curve["sentiment_sem"].append(round((s.std() / len(s) ** 0.5).item(), 4))
            curve["nll"].append(round(nll, 4))
            curve["perplexity"].append(round(float(torch.tensor(nll).exp()), 3))
            loss = mean_text_loss(model, text_rows, pad, hook, v, c)
            curve["neutral_loss_increase"].append(round(loss - base_loss, 4))
            cells[name].append(r)
        directions[name] = (v, curve)
    return {k: c for k, (_, c) in directions.items()}, cells, base_loss


def truth_steering(lm, args: Args, run: Run) -> dict:
    """Day 39's causal test of the cities truth direction, batched, on one model."""
    model, tok = lm.model.eval(), lm.tokenizer
    n = 40 if args.smoke else args.n_cities
    data = load_dataset("cities", seed=args.seed, n=n)
    n_layers = model.cfg.n_layers
    layers = list(range(2, n_layers, 6 if args.smoke else 2))
    hooks = [f"blocks.{i}.hook_resid_post" for i in layers]
    acts = extract_activations(model, data.prompts, hooks, "last", 16, desc=f"cities {lm.name}")
    y = torch.tensor(data.labels)
    sweep = layer_sweep({str(i): acts[h] for i, h in zip(layers, hooks, strict=True)}, y,
                        probe="mass_mean", seed=args.seed)  # fmt: skip
    best_i = max(range(len(layers)), key=lambda i: sweep[i].test_auroc)
    layer, hook = layers[best_i], hooks[best_i]
    train, test = train_test_split(len(y), seed=args.seed)
    vec = fit_mass_mean(acts[hook][train], y[train]).direction.float()
    steer_idx = test[: (8 if args.smoke else args.n_steer)].tolist()
    prompts = [data.prompts[i] for i in steer_idx]
    base = tokenize(tok, prompts)
    rows = tokenize(tok, [p + TRUTH_SUFFIX for p in prompts])
    assert all(r[: len(b)] == b for r, b in zip(rows, base, strict=True)), "suffix re-tokenized"
    starts = [len(b) - 1 for b in base]  # from the statement's last token, where we probed
    answers = (tok(" True").input_ids[-1], tok(" False").input_ids[-1])
    pad = tok.pad_token_id if tok.pad_token_id is not None else 0
    gap0 = steered_logit_gap(model, rows, starts, answers, pad)
    ys = y[steer_idx]
    alphas = [-4.0, 4.0] if args.smoke else [float(a) for a in args.alphas.split(",")]
    gen = torch.Generator().manual_seed(args.seed)
    rand = [random_direction(vec, gen) for _ in range(1 if args.smoke else args.n_random)]

    def delta(v: Tensor, a: float) -> float:
        g = steered_logit_gap(model, rows, starts, answers, pad, hook, v, a)
        return round((g - gap0).mean().item(), 4)

    out = {
        "model": lm.name, "layer": layer,
        "mass_mean_test_auroc": round(sweep[best_i].test_auroc, 4),
        "mean_gap_norm": round(vec.norm().item(), 3), "n_steered": len(rows),
        "unsteered_gap_true": round(gap0[ys == 1].mean().item(), 4),
        "unsteered_gap_false": round(gap0[ys == 0].mean().item(), 4),
        "alphas": alphas, "truth_delta": [delta(vec, a) for a in alphas],
        "random_delta": [[delta(r, a) for a in alphas] for r in rand],
    }  # fmt: skip
    out["random_max_abs_delta"] = max(abs(x) for c in out["random_delta"] for x in c)
    run.print(f"  truth steer {lm.name} layer {layer}: Δgap {out['truth_delta']}; "
              f"random max |Δ| {out['random_max_abs_delta']}")  # fmt: skip
    return out


def nnsight_smollm2():
    """nnsight around HF's own `LlamaForCausalLM` holding SmolLM2's weights (float32)."""
    from transformers import AutoModelForCausalLM

    hf = AutoModelForCausalLM.from_pretrained(str(smollm2_hf_dir()), dtype=torch.float32)
    return nnsight_wrap(hf)


def nnsight_steering_check(nn_model, model, tok, rows, layer: int, v: Tensor, c: float) -> dict:
    """The love − hate steer written with nnsight on HF's copy of the model: same logits?"""
    pad = tok.pad_token_id if tok.pad_token_id is not None else 0
    inputs = padded_inputs(rows, pad)
    theirs = nnsight_steered_logits(nn_model, rows, pad, layer, v, c)
    with torch.no_grad():
        plain = model(inputs["input_ids"], attention_mask=inputs["attention_mask"])
        with add_direction(model, f"blocks.{layer}.hook_resid_post", v, c):
            ours = model(inputs["input_ids"], attention_mask=inputs["attention_mask"])
    m = inputs["attention_mask"].bool()
    return {
        "max_abs_logit_diff": (ours - theirs)[m].abs().max().item(),
        "max_abs_logit_change_from_steer": (ours - plain)[m].abs().max().item(),
        "n_prompts": len(rows),
    }


def function_vector_check(nn_model, model, tok, args: Args) -> dict:
    """A function vector built and added by ours and by nnsight: same vector, same logits.

    Heads: the top `fv_heads` by causal indirect effect on shuffled-label prompts (smoke: random
    heads). The FV is added at the last token of the residual stream after layer n_layers // 3."""
    pairs = load_dataset(args.fv_task, seed=args.seed).pairs()
    build, test = split_pairs(pairs, (0.5, 0.5), seed=args.seed)
    n = 4 if args.smoke else args.fv_prompts
    few = icl_prompts(build, n, args.fv_shots, seed=args.seed)
    clean = tokenize_prompts(tok, few.few_shot)
    if args.smoke:
        heads = random_heads(model.cfg.n_layers, model.cfg.n_heads, 3, seed=args.seed)
    else:
        cie = causal_indirect_effect(model, clean, tokenize_prompts(tok, few.shuffled),
                                     answer_token_ids(tok, few.answers))  # fmt: skip
        heads = top_heads(cie, args.fv_heads)
    fv_ours = function_vector(model, clean, heads)
    fv_theirs = nnsight_function_vector(nn_model, clean, tok.pad_token_id or 0, heads)
    zero = icl_prompts(test, 8 if args.smoke else args.fv_zero_shot, args.fv_shots, args.seed + 1)
    zrows = tokenize_prompts(tok, zero.zero_shot)
    answers = answer_token_ids(tok, zero.answers)
    layer = model.cfg.n_layers // 3
    hook = f"blocks.{layer}.hook_resid_post"
    inputs = padded_inputs(zrows, tok.pad_token_id or 0)
    theirs = nnsight_steered_logits(nn_model, zrows, tok.pad_token_id or 0, layer, fv_theirs,
                                    1.0, last_only=True)  # fmt: skip
    with torch.no_grad(), add_direction(model, hook, fv_ours, 1.0, positions=-1):
        ours = model(inputs["input_ids"], attention_mask=inputs["attention_mask"])
        with_fv = first_token_accuracy(model, zrows, answers)
    without = first_token_accuracy(model, zrows, answers)
    m = inputs["attention_mask"].bool()
    return {
        "task": args.fv_task, "heads": [list(h) for h in heads], "layer": layer,
        "n_prompts": len(clean), "n_zero_shot": len(zrows),
        "fv_norm": round(fv_ours.norm().item(), 4),
        "fv_max_abs_diff": (fv_ours - fv_theirs).abs().max().item(),
        "patched_logits_max_abs_diff": (ours - theirs)[m].abs().max().item(),
        "zero_shot_accuracy": round(without.accuracy, 4),
        "zero_shot_accuracy_with_fv": round(with_fv.accuracy, 4),
        "zero_shot_p_correct": round(without.p_correct, 5),
        "zero_shot_p_correct_with_fv": round(with_fv.p_correct, 5),
    }  # fmt: skip


def main(args: Args) -> dict:
    with Run(day=44, args=args) as run:
        metrics: dict = {}
        toy = toy_example()
        metrics["toy_example"] = toy
        run.save_fig(mechanism_figure(toy), "mechanism")

        lm = load_model(args.model, device=run.device)
        model, tok = lm.model.eval(), lm.tokenizer
        run.record_source("model", lm.source)
        n_prompts = 4 if args.smoke else args.n_prompts
        k = 1 if args.smoke else args.samples_per_prompt
        openings = [p for p in NEUTRAL[:n_prompts] for _ in range(k)]
        rows = tokenize(tok, openings)
        new_tokens = 8 if args.smoke else args.new_tokens
        sampling = SamplingConfig(temperature=args.temperature, top_p=args.top_p)
        n_layers = model.cfg.n_layers

        # why contrast pairs in context: a one-token prompt sits at position 0, the attention sink
        probe_layer = n_layers // 4
        hook = f"blocks.{probe_layer}.hook_resid_post"
        single = contrast_direction(model, tokenize(tok, [" Love"]), tokenize(tok, [" Hate"]), hook)
        ctx = contrast_direction(model, tokenize(tok, [p for p, _ in PAIRS]),
                                 tokenize(tok, [n for _, n in PAIRS]), hook)  # fmt: skip
        # a typical residual vector: at each opening's last token (not the first-position sink)
        resid = extract_activations(model, rows[::k], hook, "last", 16)[hook]
        metrics["norms_at_layer"] = probe_layer
        metrics["norm_single_token_love_hate"] = round(single.norm().item(), 2)
        metrics["norm_contrast_pairs"] = round(ctx.norm().item(), 2)
        metrics["norm_residual_last_token"] = round(resid.norm(dim=-1).mean().item(), 2)

        # 1. layer sweep
        layers = [n_layers // 6, n_layers // 3, n_layers // 2] if args.smoke else list(
            range(2, n_layers - 1, args.layer_step))  # fmt: skip
        c_sweep = args.sweep_coefficient
        sweep_rows = tokenize(tok, NEUTRAL[:n_prompts])
        sweep_tokens = new_tokens if args.smoke else args.sweep_new_tokens
        gaps = sweep_layers(model, tok, sweep_rows, layers, c_sweep, sampling, args.seed,
                            sweep_tokens)  # fmt: skip
        layer = layers[max(range(len(layers)), key=lambda i: gaps[i])]
        hook = f"blocks.{layer}.hook_resid_post"
        metrics["sweep_layers"] = layers
        metrics["sweep_sentiment_gap"] = [round(g, 4) for g in gaps]
        metrics["steer_layer"] = layer
        run.print(f"  layer sweep: gaps {metrics['sweep_sentiment_gap']}; steering at {layer}")
        run.save_fig(sweep_figure(layers, gaps, layer, NAMES.get(lm.name, lm.name), c_sweep),
                     "layer_sweep")  # fmt: skip

        # 2. dose-response: love − hate, sentiment probe (same length), random (same length)
        v = contrast_direction(model, tokenize(tok, [p for p, _ in PAIRS]),
                               tokenize(tok, [n for _, n in PAIRS]), hook)  # fmt: skip
        probe_dir, probe_stats = sentiment_probe(model, tok, layer, 40 if args.smoke
                                                 else args.n_words, args.seed)  # fmt: skip
        metrics["sentiment_probe"] = probe_stats
        metrics["v_norm"] = round(v.norm().item(), 3)
        metrics["cos_probe_love_hate"] = round(
            torch.cosine_similarity(probe_dir, v, dim=0).item(), 4)  # fmt: skip
        directions = {"love_hate": v, "probe": probe_dir / probe_dir.norm() * v.norm()}
        gen = torch.Generator().manual_seed(args.seed + 1)
        for i in range(1 if args.smoke else args.n_random):
            directions[f"random_{i}"] = random_direction(v, gen)
        coefs = [-2.0, 0.0, 2.0] if args.smoke else [float(c) for c in args.coefficients.split(",")]
        curves, cells, base_loss = dose_response(
            model, tok, rows, hook, directions, coefs, sampling, args.seed, new_tokens
        )
        metrics["coefficients"] = coefs
        metrics["dose"] = curves
        metrics["neutral_text_loss_unsteered"] = round(base_loss, 4)
        metrics["n_continuations"] = len(rows)
        i0 = coefs.index(0.0)
        metrics["sentiment_unsteered"] = curves["love_hate"]["sentiment"][i0]
        metrics["perplexity_unsteered"] = curves["love_hate"]["perplexity"][i0]
        for name in curves:
            metrics[f"{name}_sentiment_at_min_max_c"] = [curves[name]["sentiment"][0],
                                                        curves[name]["sentiment"][-1]]  # fmt: skip
        run.print(f"  sentiment love−hate {curves['love_hate']['sentiment']}")
        run.print(f"  perplexity love−hate {curves['love_hate']['perplexity']}")
        run.save_fig(dose_figure(coefs, curves, layer), "dose_response")

        # 3. samples at a few coefficients (first sample of two openings)
        show = [c for c in (-2.0, 0.0, 2.0) if c in coefs]
        samples = []
        for p_i in (0, 2) if n_prompts > 2 else (0,):
            for c in show:
                r = cells["love_hate"][coefs.index(c)]
                text = tok.decode(r.continuations[p_i * k], skip_special_tokens=True)
                samples.append({"prompt": NEUTRAL[p_i], "c": c, "continuation": text,
                                "sentiment": round(r.sentiment[p_i * k], 3)})  # fmt: skip
        metrics["samples"] = samples
        run.save_fig(samples_figure(samples, layer), "samples")

        # 5-6. nnsight on HF's copy of the model: the same steer, the same function vector
        if lm.name == "smollm2-135m":
            nn_model = nnsight_smollm2()
            check = nnsight_steering_check(nn_model, model, tok, rows[: 2 * k : k], layer, v, 2.0)
            metrics["nnsight_steering"] = check
            fv = function_vector_check(nn_model, model, tok, args)
            metrics["function_vector"] = fv
            del nn_model
            run.print(
                f"  nnsight: steer max |Δlogit| {check['max_abs_logit_diff']:.2e}; FV max |Δ| "
                f"{fv['fv_max_abs_diff']:.2e}, patched logits "
                f"{fv['patched_logits_max_abs_diff']:.2e}; zero-shot acc "
                f"{fv['zero_shot_accuracy']} -> {fv['zero_shot_accuracy_with_fv']}"
            )
        else:
            run.print("  nnsight checks run on SmolLM2 only (its HF copy); skipped")

        # 4. truth direction steering, on the main model and (full run) the larger one
        truth = {lm.name: truth_steering(lm, args, run)}
        del model, lm
        if args.truth_model and not args.smoke:
            try:
                big = load_model(args.truth_model, device=run.device)
                run.record_source("truth_model", big.source)
                truth[big.name] = truth_steering(big, args, run)
                del big
            except ModelUnavailableError as err:
                run.print(f"  {args.truth_model} unavailable ({err}); truth steer on SmolLM2 only")
                run.record_source("truth_model", f"unavailable, fell back to {args.model}")
        metrics["truth_steering"] = truth
        run.save_fig(truth_figure(truth), "truth_steering")
        return run.finish(metrics)


if __name__ == "__main__":
    run_script(main, Args)
