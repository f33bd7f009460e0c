"""Day 49 — Activation oracles, first look: let the model read its own hidden state (Patchscopes).

Shows:
1. the residual stream after layer l at the last token of a *source* prompt, patched into the
   identity prompt "cat -> cat; 1135 -> 1135; hello -> hello; ? ->" at "?" (same layer l), then
   greedy decoding (Ghandeharioun et al. 2024, "Patchscopes"); a layer sweep over 120 cases whose
   content is known:
   - entity: source "Let me tell you about <country>", hit when the decode starts with the country;
   - answer: source "The capital of <country> is", hit when the decode starts with the capital
     (also counted on the facts the model itself completes correctly);
2. controls: no patch (the inspection prompt alone), a random vector of the same norm, and
   another case's activation (a derangement): scored against the case's own name and against the
   donor's name;
3. a table of example decodes, and a 2-D toy of the patch (the post's worked example).

Run:  arena run 49 [--smoke] [--publish]   (or python 07_mech_interp/day_049_oracles_intro.py)
Full run (SmolLM2-135M-Instruct, 120 countries, every second layer, controls and the answer task
every fourth): 10.6 min measured (637 s) on 2 cores, 1 thread.
`--model qwen2.5-coder-0.5b-instruct` runs the same on the larger optional model.
Smoke: 16 countries, four layers, controls at two.
"""

from dataclasses import dataclass

import torch
from matplotlib.figure import Figure

from arena_core.data.facts import load_dataset
from arena_core.interp.patchscopes import (
    IDENTITY_PROMPT,
    derangement,
    first_segment,
    is_hit,
    patchscope_generate,
    placeholder_index,
    same_norm_random,
)
from arena_core.models import load_model_for_run
from arena_core.probes.activations import extract_activations, tokenize
from arena_core.transformer.generate import generate
from arena_core.utils import DayArgs, Run, run_script
from arena_core.utils.diagrams import arrow, box, canvas, finish, label, matrix
from arena_core.utils.figures import text_table

Tensor = torch.Tensor

ENTITY = "Let me tell you about {}"
EARLY = "entity patched into layer {} instead"
CONTROLS = {
    "random": "entity: random vector, same norm",
    "other_own": "entity: another case's vector, scored on its own name",
    "other_donor": "entity: another case's vector, scored on the donor",
}
ANSWER = "The capital of {} is"

# The worked example: a 2-D residual stream and a 3-token vocabulary.
TOY_VOCAB = ["hello", "Paris", "?"]
TOY_W_U = [[0.0, 2.0, 0.0], [2.0, 1.0, 1.0]]  # [d_model=2, vocab=3]
TOY_PLACEHOLDER = [0.0, 1.0]  # the residual at "?" in the inspection prompt
TOY_SOURCE = [2.0, 1.0]  # the source hidden state, patched in
TOY_RANDOM = [-1.0, 2.0]  # a vector of the same norm, another direction


@dataclass
class Args(DayArgs):
    threads: int = 1  # torch CPU threads
    model: str = "smollm2-135m"  # or "qwen2.5-coder-0.5b-instruct" (optional install)
    n: int = 120  # countries (known-content cases) per task
    layer_step: int = 2  # source layers swept: 0, step, 2*step, ...
    control_step: int = 4  # controls (random, other case) at every control_step-th layer
    max_new_tokens: int = 6  # greedy tokens decoded after the inspection prompt
    batch_size: int = 128  # inspection prompts per batched generation
    early_target: int = 0  # second entity curve: every source layer patched into this layer


def toy_patch() -> dict:
    """Logits x @ W_U at the placeholder before and after the patch, and with a random vector."""
    w = torch.tensor(TOY_W_U)
    out = {"vocab": TOY_VOCAB, "w_u": TOY_W_U}
    for name, x in (("placeholder", TOY_PLACEHOLDER), ("patched", TOY_SOURCE),
                    ("random", TOY_RANDOM)):  # fmt: skip
        logits = torch.tensor(x) @ w
        out[name] = {"x": x, "norm": round(torch.tensor(x).norm().item(), 4),
                     "logits": logits.tolist(), "top": TOY_VOCAB[int(logits.argmax())]}  # fmt: skip
    return out


def mechanism_figure(toy: dict) -> Figure:
    fig, ax = canvas(width=17, height=7.4, scale=0.62)
    label(ax, (0, 6.9), "source prompt", fontsize=11, ha="left", weight="bold")
    box(ax, (0, 5.2), "Let me tell you\nabout France", width=3.2, height=1.3, role="input")
    label(ax, (0, 2.75), "inspection prompt", fontsize=11, ha="left", weight="bold")
    box(ax, (0, 1.1), "cat -> cat; 1135 -> 1135;\nhello -> hello; ? ->", width=3.2, height=1.3,
        role="input", fontsize=8.5)  # fmt: skip
    for y in (5.35, 1.25):
        arrow(ax, (3.3, y + 0.5), (4.2, y + 0.5))
        for i, name in enumerate(("layer 0", "…", "layer l", "…", "last layer")):
            role = "param" if i == 2 else "neutral"
            box(ax, (4.3 + 1.9 * i, y), name, width=1.6, height=1.0, role=role, fontsize=9)
            if i:
                arrow(ax, (4.3 + 1.9 * i - 0.3, y + 0.5), (4.3 + 1.9 * i, y + 0.5))
    arrow(ax, (9.0, 5.3), (9.0, 2.3), "copy h (last token)\nover the residual at '?'",
          color="tab:red", text_offset=(1.9, -0.5))  # fmt: skip
    arrow(ax, (13.2, 1.75), (13.9, 1.75))
    box(ax, (14.0, 1.25), "greedy decode:\n' France'", width=2.6, height=1.0, role="output")
    arrow(ax, (13.2, 5.85), (13.9, 5.85))
    box(ax, (14.0, 5.35), "(its own next\ntoken: unused)", width=2.6, height=1.0, role="neutral")
    p, q, r = toy["placeholder"], toy["patched"], toy["random"]
    label(ax, (0, 0.35), f"2-D toy, logits = x·W_U over ({', '.join(toy['vocab'])}):  '?' x = "
          f"{tuple(p['x'])} → {p['logits']} → '{p['top']}';  patched h = {tuple(q['x'])} → "
          f"{q['logits']} → '{q['top']}';  random, same norm {tuple(r['x'])} → {r['logits']} "
          f"→ '{r['top']}'", fontsize=8.5, ha="left")  # fmt: skip
    matrix(ax, toy["w_u"], xy=(14.3, 3.0), title="W_U", cell=0.6, fontsize=8,
           col_labels=toy["vocab"])  # fmt: skip
    finish(ax)
    return fig


def sweep_figure(curves: dict, no_patch: dict, model_name: str, n: int) -> Figure:
    fig = Figure(figsize=(9.5, 5.2))
    ax = fig.add_subplot(1, 1, 1)
    styles = {
        "entity patched": ("tab:blue", "o", "-"),
        "entity patched, names of 2+ tokens": ("tab:purple", "v", "-"),
        "entity: another case's vector, scored on the donor": ("tab:blue", "x", ":"),
        "entity: another case's vector, scored on its own name": ("tab:gray", "s", "--"),
        "entity: random vector, same norm": ("black", "^", "--"),
        "answer patched (all facts)": ("tab:orange", "o", "-"),
        "answer patched (facts the model completes)": ("tab:red", "d", "-"),
    }
    for name, (layers, acc) in curves.items():
        c, m, ls = styles.get(name, ("tab:cyan", "P", "-"))  # the early-target curve
        ax.plot(layers, acc, color=c, marker=m, ls=ls, ms=5, label=name)
    ax.axhline(no_patch["entity"], color="tab:green", lw=1.2,
               label=f"no patch (entity) = {no_patch['entity']:.2f}")  # fmt: skip
    ax.set_xlabel("source layer l (residual after layer l, patched at the same layer)")
    ax.set_ylabel(f"decode accuracy ({n} countries)")
    ax.set_ylim(-0.03, 1.03)
    ax.set_title(f"Reading a hidden state with the identity prompt, {model_name}")
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=8.5)
    fig.tight_layout()
    return fig


def examples_figure(rows: list[list[str]], header: list[str]) -> Figure:
    fig = Figure(figsize=(13, 0.36 * (len(rows) + 2)))
    ax = fig.add_subplot(1, 1, 1)
    widths = [0.16, 0.14, 0.14, 0.12, 0.12, 0.16, 0.16]
    text_table(ax, rows, header, widths, fontsize=9, row_scale=1.35)
    ax.set_title("Example decodes: the generated text up to the first ';'", fontsize=11)
    fig.tight_layout()
    return fig


def main(args: Args) -> dict:
    with Run(day=49, args=args) as run:
        metrics: dict = {}
        lm = load_model_for_run(args.model, run)
        model, tok = lm.model.eval(), lm.tokenizer
        n_layers = model.cfg.n_layers
        toy = toy_patch()
        metrics["toy_example"] = toy

        n = 16 if args.smoke else args.n
        data = load_dataset("country_capital", seed=args.seed)
        if n > len(data.prompts):
            raise ValueError(f"n={n} but country_capital has {len(data.prompts)} pairs")
        countries, capitals = data.prompts[:n], data.labels[:n]
        run.record_source("data", f"country_capital ({data.meta['source']}), first {n} pairs")
        step = 8 if args.smoke else args.layer_step
        layers = list(range(0, n_layers, step))
        ctrl = layers[:: 2 if args.smoke else max(1, args.control_step // step)]
        hooks = {layer: f"blocks.{layer}.hook_resid_post" for layer in layers}
        metrics |= {"n_cases": n, "n_layers": n_layers, "layers": layers, "control_layers": ctrl}

        ids, place = placeholder_index(tok, IDENTITY_PROMPT)
        pad = tok.pad_token_id if tok.pad_token_id is not None else 0
        metrics["inspection_prompt"] = IDENTITY_PROMPT
        metrics["placeholder_index"] = place

        stops = sorted({t for s in (";", " ;") for t in tok(s, add_special_tokens=False).input_ids
                        if len(tok(s, add_special_tokens=False).input_ids) == 1})  # fmt: skip

        def decode(vectors: Tensor | None, hook: str) -> list[str]:
            out = patchscope_generate(model, [ids] * n, place, hook, vectors,
                                      max_new_tokens=args.max_new_tokens, pad_id=pad,
                                      stop_tokens=stops, batch_size=args.batch_size)  # fmt: skip
            return [first_segment(tok.decode(t)) for t in out]

        def accuracy(decoded: list[str], targets: list[str], keep: list[bool] | None = None):
            pairs = [(d, t) for i, (d, t) in enumerate(zip(decoded, targets, strict=True))
                     if keep is None or keep[i]]  # fmt: skip
            return round(sum(is_hit(d, t) for d, t in pairs) / max(1, len(pairs)), 4)

        # the model's own completion of the fact prompt: which answers does it know?
        src = {"entity": [ENTITY.format(c) for c in countries],
               "answer": [ANSWER.format(c) for c in countries]}  # fmt: skip
        own = generate(model, tokenize(tok, src["answer"]), args.max_new_tokens, pad_token_id=pad)
        own_text = [tok.decode(t).strip() for t in own.new_tokens]
        known = [is_hit(o, c) for o, c in zip(own_text, capitals, strict=True)]
        metrics["model_fact_accuracy"] = round(sum(known) / n, 4)
        metrics["n_known_facts"] = int(sum(known))

        # names that are several tokens: their last token alone is not the name, so a hit there
        # means the state at the last token carries the whole entity, not just its own token
        multi = [len(tok(" " + c, add_special_tokens=False).input_ids) > 1 for c in countries]
        metrics["n_multi_token_names"] = int(sum(multi))

        acts = {task: extract_activations(model, src[task], list(hooks.values()), position="last",
                                          batch_size=32, desc=task)
                for task in src}  # fmt: skip

        # control 1: the inspection prompt alone
        plain = decode(None, hooks[0])
        no_patch = {"entity": accuracy(plain, countries), "answer": accuracy(plain, capitals)}
        metrics["no_patch_accuracy"] = no_patch
        metrics["no_patch_decode"] = plain[0]

        gen = torch.Generator().manual_seed(args.seed)
        perm = derangement(n, gen)
        donors = [countries[int(j)] for j in perm]
        curves: dict[str, tuple[list[int], list[float]]] = {}

        def add(name: str, layer: int, value: float) -> None:
            curves.setdefault(name, ([], []))
            curves[name][0].append(layer)
            curves[name][1].append(value)

        decodes: dict[str, dict[int, list[str]]] = {"entity": {}, "answer": {}}
        ctrl_decodes: dict[str, dict[int, list[str]]] = {"random": {}, "other": {}}
        early = f"blocks.{args.early_target}.hook_resid_post"
        if early not in model.hook_dict:
            raise ValueError(f"early_target={args.early_target}: the model has {n_layers} layers")
        for layer in layers:
            h = hooks[layer]
            dec = decode(acts["entity"][h], h)
            decodes["entity"][layer] = dec
            add("entity patched", layer, accuracy(dec, countries))
            add("entity patched, names of 2+ tokens", layer, accuracy(dec, countries, multi))
            into = decode(acts["entity"][h], early)
            add(EARLY.format(args.early_target), layer, accuracy(into, countries))
            if layer in ctrl:
                dec = decode(acts["answer"][h], h)
                decodes["answer"][layer] = dec
                add("answer patched (all facts)", layer, accuracy(dec, capitals))
                add("answer patched (facts the model completes)", layer,
                    accuracy(dec, capitals, known))  # fmt: skip
                v = acts["entity"][h]
                rnd = decode(same_norm_random(v, gen), h)
                other = decode(v[perm], h)
                ctrl_decodes["random"][layer], ctrl_decodes["other"][layer] = rnd, other
                add(CONTROLS["random"], layer, accuracy(rnd, countries))
                add(CONTROLS["other_own"], layer, accuracy(other, countries))
                add(CONTROLS["other_donor"], layer, accuracy(other, donors))
            run.print(f"  layer {layer}: " + ", ".join(
                f"{k} {v[1][-1]}" for k, v in curves.items() if v[0][-1] == layer))  # fmt: skip

        metrics["curves"] = {k: dict(zip(map(str, v[0]), v[1], strict=True))
                             for k, v in curves.items()}  # fmt: skip
        ent = curves["entity patched"]
        best_i = max(range(len(ent[1])), key=lambda i: ent[1][i])
        best = ent[0][best_i]
        metrics["entity_best_layer"] = best
        metrics["entity_best_accuracy"] = ent[1][best_i]
        metrics["entity_multi_token_best_accuracy"] = max(
            curves["entity patched, names of 2+ tokens"][1]
        )
        ans = curves["answer patched (all facts)"]
        metrics["answer_best_accuracy"] = max(ans[1])
        metrics["answer_best_layer"] = ans[0][ans[1].index(max(ans[1]))]
        kn = curves["answer patched (facts the model completes)"][1]
        metrics["answer_known_best_accuracy"] = max(kn)
        for key, name in CONTROLS.items():
            metrics[f"control_{key}_max_accuracy"] = max(curves[name][1])
        last_hit = [lay for lay, a in zip(*ent, strict=True) if a >= 0.5]
        metrics["entity_last_layer_above_half"] = max(last_hit) if last_hit else None
        metrics["entity_into_early_layer"] = args.early_target
        metrics["entity_into_early_layer_accuracy"] = metrics["curves"][
            EARLY.format(args.early_target)
        ]
        a0 = ctrl[0]
        metrics["answer_decode_examples"] = {
            c: decodes["answer"][a0][i] for i, c in enumerate(countries[:5])
        }
        run.save_fig(mechanism_figure(toy), "mechanism")
        run.save_fig(sweep_figure(curves, no_patch, lm.name, n), "accuracy_by_layer")

        # a layer past the last one where half the entities still decode (where reading fails)
        above = metrics["entity_last_layer_above_half"]
        deep = next((lay for lay in layers if above is not None and lay > above), layers[-1])
        c0 = best if best in ctrl else ctrl[0]
        multi_curve = curves["entity patched, names of 2+ tokens"]
        good = multi_curve[0][max(range(len(layers)), key=lambda i: multi_curve[1][i])]
        metrics["entity_multi_token_best_layer"] = good
        header = ["country", f"entity, layer {good}", f"entity, layer {deep}"]
        header += [f"answer, layer {c0}", f"random, layer {c0}", f"other case, layer {c0}", "donor"]
        rows = [[countries[i], decodes["entity"][good][i], decodes["entity"][deep][i],
                 decodes["answer"][c0][i], ctrl_decodes["random"][c0][i],
                 ctrl_decodes["other"][c0][i], donors[i]]
                for i in range(min(10, n))]  # fmt: skip
        metrics["examples"] = {"header": header, "rows": rows}
        run.save_fig(examples_figure(rows, header), "examples")
        return run.finish(metrics)


if __name__ == "__main__":
    run_script(main, Args)
