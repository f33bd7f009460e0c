"""Day 56 — SAE circuits: gradients between latents across layers, and transcoders vs SAEs.

Shows:
1. the Jacobian from the latents of a residual SAE after block 15 to those of a residual SAE after
   block 20 of SmolLM2-135M-Instruct (`arena_core.sae.latent_gradients`): the up latents are decoded
   (with the SAE's error held fixed), blocks 16–20 run, the down SAE encodes; the gradient matrix
   of the most active latents at the last token of held-out text, with the latent → logit and
   token → latent variants;
2. how good that linearisation is: each up latent is really scaled by 0.9 or ablated (one batched
   forward pass) and the measured change of every down latent is set against gradient × Δf;
3. a transcoder (MLP input → output) and an SAE on the MLP output of block 18, same width, data
   and steps: a TopK pair at the same L0 (the matched budget) and a ReLU + L1 pair at the same L1
   coefficient; held-out FVE, L0, dead fraction and CE loss recovered when the MLP's output is
   replaced (`arena_core.sae.transcoder_circuits`);
4. why transcoders help circuits: the connection from an upstream latent (a block-15 SAE decoder
   row, carried into the MLP's normalised input) to a transcoder latent is one virtual weight for
   every token, while the same connection to an output-SAE latent passes through the MLP's SiLU
   gate and changes from token to token (its spread over 256 held-out tokens; TopK pair).

Run:  arena run 56 [--smoke] [--publish]   (or python 07_mech_interp/day_056_sae_circuits.py)
Full run (SmolLM2-135M-Instruct, SAEs cached): about 11 min on 2 cores, 1 thread (four small
dictionaries trained in it, about 1.5 min each). The first run
also trains the block-20 SAE (about 7 min, cached afterwards in ~/.cache/arena/saes/).
Smoke: the smoke SAE recipe at both layers, 2 prompts of 12 tokens, tiny dictionaries.
The mechanism diagram shows the chain decode → model layers → encode and the transcoder's linear
path, with the post's pencil example computed here.
"""

from dataclasses import dataclass, replace

import torch
from matplotlib.figure import Figure

from arena_core.models import load_model
from arena_core.sae.corpus import split_corpus
from arena_core.sae.evaluate import sae_stats
from arena_core.sae.latent_gradients import (
    latent_jacobian,
    latent_logit_jacobian,
    pearson,
    perturbation_effects,
    token_latent_jacobian,
    up_state,
)
from arena_core.sae.pretrained import SMOKE_RECIPE, SAERecipe, pretrained_sae
from arena_core.sae.training import TrainConfig
from arena_core.sae.transcoder_circuits import (
    mlp_io,
    mlp_splice_ce,
    through_mlp_jacobian,
    train_mlp_dictionary,
    virtual_weights,
)
from arena_core.utils import DayArgs, Run, run_script
from arena_core.utils.diagrams import arrow, box, canvas, finish, label
from arena_core.utils.figures import text_table

# Pencil example: an up latent writes d into a 2-d stream; a down latent reads it with e, either
# directly (linear path) or after an element-wise ReLU "MLP".
TOY_D, TOY_E = [1.0, 2.0], [0.5, -1.0]
TOY_X = {"both on": [1.0, 1.0], "second off": [1.0, -1.0]}


@dataclass
class Args(DayArgs):
    threads: int = 1  # torch CPU threads
    model: str = "smollm2-135m"  # SmolLM2-135M-Instruct (the SAEs are trained for it)
    layer_up: int = 15  # residual SAE after this block (the cached one)
    layer_down: int = 20  # residual SAE after this block (trained once, cached)
    mlp_layer: int = 18  # the MLP of this block gets a transcoder and an output SAE
    n_prompts: int = 8  # held-out text windows for the Jacobians
    seq_len: int = 48  # tokens per window (the last one is where latents are read)
    k_up: int = 16  # most active up latents at the last token
    k_down: int = 12  # most active down latents at the last token
    scale: float = 0.9  # the small intervention: f_i -> scale * f_i
    dict_tokens: int = 40_000  # MLP (input, output) pairs for the transcoder and the SAE
    dict_expansion: int = 4  # width = expansion x d_model for both
    dict_k: int = 32  # L0 of the TopK transcoder and TopK SAE (the matched budget)
    dict_l1: float = 1.0  # L1 coefficient of the ReLU pair, on activations scaled to norm sqrt(d)
    dict_epochs: int = 2
    n_var_tokens: int = 256  # held-out tokens for the Jacobian-variance comparison


def toy_example() -> dict:
    """Gradient of the down latent w.r.t. the up latent, linear path vs through ReLU."""
    d, e = torch.tensor(TOY_D), torch.tensor(TOY_E)
    out = {"d": TOY_D, "e": TOY_E, "virtual_weight": float(d @ e)}
    for name, x0 in TOY_X.items():
        f = torch.zeros((), requires_grad=True)
        (torch.relu(torch.tensor(x0) + f * d) @ e).backward()
        out[f"through_relu_{name.replace(' ', '_')}"] = {"x": x0, "grad": float(f.grad)}
    return out


def left_label(ax, xy, text: str, **kwargs) -> None:
    label(ax, xy, text, ha="left", **kwargs)


def mechanism_figure(toy: dict, layers: tuple[int, int, int]) -> Figure:
    up, down, mlp = layers
    fig, ax = canvas(15.5, 8.2, scale=0.72)
    ax.text(7.75, 7.75, "Two ways to connect latents across a model", ha="center", fontsize=12.5)
    left_label(ax, (0.2, 6.9), "SAE → SAE (part 1): a gradient through the real layers "
               f"{up + 1}–{down}", fontsize=10.5, fontweight="bold")  # fmt: skip
    y = 5.3
    box(ax, (0.2, y), f"up latents f\n(SAE after block {up})", 2.6, 1.2, "input")
    arrow(ax, (2.85, y + 0.6), (3.55, y + 0.6))
    box(ax, (3.6, y), "decode\nf W_dec + b_dec + ε\n(ε: SAE error, fixed)", 3.0, 1.2, "param")
    arrow(ax, (6.65, y + 0.6), (7.35, y + 0.6))
    box(ax, (7.4, y), f"blocks {up + 1}–{down}\nattention + MLPs\n(input-dependent)", 3.0, 1.2,
        "highlight")  # fmt: skip
    arrow(ax, (10.45, y + 0.6), (11.15, y + 0.6))
    box(ax, (11.2, y), f"encode: down latents g\n(SAE after block {down})", 3.2, 1.2, "output")
    left_label(ax, (0.2, 4.55), "J[j, i] = ∂g_j / ∂f_i  — differs per prompt and position; "
          "Δg ≈ J Δf only near the real f", fontsize=10)  # fmt: skip
    left_label(ax, (0.2, 3.6), f"transcoder (part 2): the MLP of block {mlp} replaced by a sparse "
          "linear-in-output map", fontsize=10.5, fontweight="bold")  # fmt: skip
    y = 2.0
    box(ax, (0.2, y), "upstream direction u\n(W_dec row)", 2.6, 1.2, "input")
    arrow(ax, (2.85, y + 0.6), (3.55, y + 0.6), "x = … + f u", fontsize=9)
    box(ax, (3.6, y), "transcoder latent\nReLU(x W_enc + b_enc)", 3.0, 1.2, "op")
    arrow(ax, (6.65, y + 0.6), (7.35, y + 0.6))
    box(ax, (7.4, y), "f W_dec + b_dec\n≈ MLP output", 3.0, 1.2, "param")
    box(ax, (11.2, y), f"virtual weight\nV = u · W_enc[:, j]\n= {toy['virtual_weight']:g} "
        "in the toy", 3.2, 1.2, "output")  # fmt: skip
    arrow(ax, (6.65, y + 0.15), (11.15, y + 0.35), curve=0.25)
    r1 = toy["through_relu_both_on"]["grad"]
    r2 = toy["through_relu_second_off"]["grad"]
    left_label(ax, (0.2, 0.9), f"toy: d = {TOY_D}, e = {TOY_E}.  Linear path: d·e = "
          f"{toy['virtual_weight']:g} for every input.  Through a ReLU 'MLP': {r1:g} at x = "
          f"{TOY_X['both on']}, {r2:g} at x = {TOY_X['second off']}.", fontsize=9.5)  # fmt: skip
    left_label(ax, (0.2, 0.3), "(an SAE on the MLP output sees the second kind: its connection to "
          "upstream latents goes through the MLP's gate)", fontsize=9.5)  # fmt: skip
    finish(ax)
    return fig


def gradient_figure(jac, up_ids, down_ids, titles) -> Figure:
    n = len(titles)
    fig = Figure(figsize=(4.6 * n + 1, 5.0))
    vmax = max(float(j.abs().max()) for j in jac)
    for k, (j, t) in enumerate(zip(jac, titles, strict=True)):
        ax = fig.add_subplot(1, n, k + 1)
        im = ax.imshow(j, cmap="RdBu_r", vmin=-vmax, vmax=vmax, aspect="auto")
        ax.set_xticks(range(len(up_ids)), [str(i) for i in up_ids], rotation=90, fontsize=6.5)
        ax.set_yticks(range(len(down_ids)), [str(i) for i in down_ids], fontsize=6.5)
        ax.set_xlabel("up latent (SAE after block 15)")
        if k == 0:
            ax.set_ylabel("down latent (SAE after block 20)")
        ax.set_title(t, fontsize=8.5)
        ax.grid(False)
    fig.colorbar(im, ax=fig.axes, shrink=0.8, label="∂ pre-activation / ∂ activation")
    fig.suptitle("Latent-to-latent gradients at the last token, same position (three text windows)")
    return fig


def scatter_figure(effects: dict, corr: dict) -> Figure:
    fig = Figure(figsize=(11, 4.8))
    for k, (name, (pred, meas)) in enumerate(effects.items()):
        ax = fig.add_subplot(1, 2, k + 1)
        ax.scatter(pred, meas, s=7, alpha=0.5)
        lo = float(min(pred.min(), meas.min()))
        hi = float(max(pred.max(), meas.max()))
        ax.plot([lo, hi], [lo, hi], color="0.4", lw=0.8, ls="--", label="y = x")
        ax.set_xlabel("linear prediction: gradient × Δf")
        ax.set_ylabel("measured change of the down pre-activation")
        ax.set_title(f"{name}: Pearson r = {corr[name]:.3f}")
        ax.legend(loc="upper left", fontsize=8)
    fig.suptitle("How good is the linearisation? every (prompt, up latent, down latent) triple")
    fig.tight_layout()
    return fig


def variants_figure(logit_rows, token_rows, token_title) -> Figure:
    fig = Figure(figsize=(12, 4.6))
    ax = fig.add_subplot(1, 2, 1)
    names, vals = zip(*logit_rows, strict=True)
    ax.barh(range(len(vals)), vals, color=["tab:blue" if v > 0 else "tab:red" for v in vals])
    ax.set_yticks(range(len(vals)), names, fontsize=7.5)
    ax.invert_yaxis()
    ax.set_xlabel("gradient × activation on the predicted token's logit")
    ax.set_title("latent → logit: block-15 latents at the last token", fontsize=9.5)
    ax = fig.add_subplot(1, 2, 2)
    names, vals = zip(*token_rows, strict=True)
    ax.bar(range(len(vals)), vals, color=["tab:blue" if v > 0 else "tab:red" for v in vals])
    ax.set_xticks(range(len(vals)), names, rotation=70, fontsize=7)
    ax.set_ylabel("gradient · token embedding")
    ax.set_title(token_title, fontsize=9.5)
    fig.tight_layout()
    return fig


def dict_figure(rows: dict, k: int, l1: float) -> Figure:
    fig = Figure(figsize=(13, 4.8))
    keys = [("fve", "FVE of the MLP output"), ("l0", "L0 (latents per token)"),
            ("dead_fraction", "dead fraction (held-out)"),
            ("ce_recovered_vs_mean", "CE recovered vs mean-ablating the MLP")]  # fmt: skip
    colours = ["tab:green", "tab:purple", "yellowgreen", "plum"]
    for n, (key, title) in enumerate(keys):
        ax = fig.add_subplot(1, 4, n + 1)
        vals = [rows[name][key] for name in rows]
        ax.bar(range(len(vals)), vals, color=colours[: len(vals)])
        ax.set_xticks(range(len(vals)), [name.replace(" ", "\n") for name in rows], fontsize=8.5)
        for i, v in enumerate(vals):
            ax.text(i, v, f"{v:.3g}", ha="center", va="bottom", fontsize=8.5)
        ax.set_title(title, fontsize=9.5)
    fig.suptitle(f"Block-18 MLP: transcoder (input → output) vs SAE (output → output); TopK pair "
                 f"at L0 = {k}, ReLU pair at one L1 = {l1:g}; same width, data, steps")  # fmt: skip
    fig.tight_layout()
    return fig


def variance_figure(sae_cols, tc_cols, cv_sae, table_rows) -> Figure:
    """Left: per-token Jacobians of the strongest pairs; right: spread of every SAE pair."""
    fig = Figure(figsize=(13, 5.2))
    ax = fig.add_subplot(1, 2, 1)
    n, p = sae_cols.shape
    jitter = 0.12 * torch.rand(n, generator=torch.Generator().manual_seed(0))
    for k in range(p):
        ax.scatter(k - 0.2 + jitter, sae_cols[:, k], s=4, alpha=0.4, color="tab:purple",
                   label="SAE on MLP output (strongest pairs)" if k == 0 else None)  # fmt: skip
        ax.scatter(
            k + 0.15 + jitter,
            tc_cols[:, k],
            s=4,
            alpha=0.6,
            color="tab:green",
            label="transcoder (strongest pairs): = virtual weight" if k == 0 else None,
        )
    ax.axhline(0, color="0.6", lw=0.8)
    ax.set_xticks(range(p), [f"#{k + 1}" for k in range(p)], fontsize=8)
    ax.set_xlabel("pair rank (by mean |connection|)")
    ax.set_ylabel("∂ downstream pre-activation / ∂ (unit step along u)")
    ax.set_title(f"per-token connections over {n} held-out tokens", fontsize=9.5)
    ax.legend(loc="best", fontsize=8)
    ax = fig.add_subplot(1, 2, 2)
    ax.hist(cv_sae.clamp(max=5), bins=40, color="tab:purple", alpha=0.8)
    ax.set_xlabel("std / |mean| over tokens, per (upstream, downstream) pair (clipped at 5)")
    ax.set_ylabel("pairs (SAE on MLP output)")
    ax.set_title("spread of the SAE connections; every transcoder pair has spread 0", fontsize=9.5)
    inset = ax.inset_axes([0.4, 0.5, 0.58, 0.45])
    text_table(inset, table_rows, ["", "SAE", "transcoder"], widths=[0.5, 0.22, 0.28], fontsize=8)
    fig.suptitle("Connections through the MLP: input-dependent for an SAE, one weight for a "
                 "transcoder")  # fmt: skip
    fig.tight_layout()
    return fig


def _top(acts: torch.Tensor, k: int) -> list[int]:
    return acts.topk(k).indices.tolist()


def main(args: Args) -> dict:
    with Run(day=56, args=args) as run:
        metrics: dict = {}
        toy = toy_example()
        metrics["toy_example"] = toy
        L1, L2, LM = args.layer_up, args.layer_down, args.mlp_layer
        run.save_fig(mechanism_figure(toy, (L1, L2, LM)), "mechanism")

        lm = load_model(args.model, device=run.device)
        model, tok = lm.model.eval(), lm.tokenizer
        run.record_source("model", lm.source)
        for p in model.parameters():
            p.requires_grad_(False)
        base = SMOKE_RECIPE if args.smoke else SAERecipe()
        p_up = pretrained_sae(model, tok, args.model, replace(base, layer=L1), log=run.print)
        p_down = pretrained_sae(model, tok, args.model, replace(base, layer=L2), log=run.print)
        sae_up, sae_down = p_up.sae.eval(), p_down.sae.eval()
        for s in (sae_up, sae_down):
            for p in s.parameters():
                p.requires_grad_(False)
        metrics["sae_up"] = {"hook": p_up.hook, **p_up.meta["held_out"]}
        metrics["sae_down"] = {"hook": p_down.hook, **p_down.meta["held_out"]}
        run.record_source("saes", f"own ReLU SAEs after blocks {L1} and {L2} on "
                          f"{p_up.meta['corpus']}")  # fmt: skip
        train, held = split_corpus(p_up.corpus, p_up.meta["recipe"]["held_rows"])

        # 1. latent-to-latent Jacobian at the last token of held-out windows
        n_prompts, seq = (2, 12) if args.smoke else (args.n_prompts, args.seq_len)
        k_up, k_down = (6, 5) if args.smoke else (args.k_up, args.k_down)
        tokens = torch.tensor([r[:seq] for r in held.rows[:n_prompts]])
        st = up_state(model, tokens, sae_up, L1)
        with torch.no_grad():
            x_down = model.run_with_cache(tokens, names_filter=p_down.hook)[1][p_down.hook]
            f_down = sae_down.encode(x_down)[:, -1]
        up_ids = _top(st.codes[:, -1].sum(0), k_up)
        down_ids = _top(f_down.sum(0), k_down)
        lj = latent_jacobian(model, tokens, sae_up, L1, sae_down, L2, up_ids, down_ids)
        same = lj.jac[:, :, -1]  # [batch k_down k_up] at the same (last) position
        earlier = lj.jac[:, :, :-1].abs().sum(2)  # from every earlier position
        metrics["n_prompts"], metrics["seq_len"] = n_prompts, seq
        metrics["up_latents"], metrics["down_latents"] = up_ids, down_ids
        metrics["jac_share_same_position"] = round(
            float(same.abs().sum() / (same.abs().sum() + earlier.sum())), 4)  # fmt: skip
        show = min(3, n_prompts)
        titles = [repr(tok.decode(tokens[b, -8:]))[:48] for b in range(show)]
        run.save_fig(gradient_figure(same[:show], up_ids, down_ids, titles), "gradients")
        strongest = same.abs().mean(0).flatten().argmax()
        jd, iu = divmod(int(strongest), len(up_ids))
        metrics["strongest_pair"] = {
            "up": up_ids[iu],
            "down": down_ids[jd],
            "mean_abs_grad": round(float(same[:, jd, iu].abs().mean()), 4),
            "grads": [round(float(v), 4) for v in same[:, jd, iu]],
        }

        # 2. linear prediction vs measured effect
        effects, corr = {}, {}
        for name, factor in ((f"scale by {args.scale:g}", args.scale), ("ablate", 0.0)):
            pe = perturbation_effects(model, tokens, sae_up, L1, sae_down, L2, up_ids, down_ids,
                                      factor=factor, jacobian=lj)  # fmt: skip
            on = (pe.delta_up != 0)[..., None].expand_as(pe.measured)  # the latent was active
            pred, meas = pe.predicted[on], pe.measured[on]
            effects[name], corr[name] = (pred, meas), pearson(pred, meas)
            key = "scale" if factor else "ablate"
            slope = float((pred @ meas) / (pred @ pred).clamp_min(1e-12))
            metrics[f"linearisation_{key}"] = {"pearson": round(corr[name], 4),
                                               "slope_measured_on_predicted": round(slope, 4),
                                               "n_triples": int(on.sum())}  # fmt: skip
        run.print(f"  linearisation r: {', '.join(f'{k} {v:.3f}' for k, v in corr.items())}")
        run.save_fig(scatter_figure(effects, corr), "linearisation")

        # latent → logit and token → latent on the first window
        with torch.no_grad():
            pred_tok = int(model(tokens[:1])[0, -1].argmax())
        lg = latent_logit_jacobian(model, tokens[:1], sae_up, L1, up_ids, [pred_tok])
        contrib = lg.jac[0, 0, -1] * lg.up_acts[0, -1]  # gradient × activation, same position
        order = contrib.abs().argsort(descending=True)[:10].tolist()
        logit_rows = [(f"latent {up_ids[i]}", float(contrib[i])) for i in order]
        tj = token_latent_jacobian(model, tokens[:1], sae_down, L2, down_ids[:1])
        attr = tj.attribution[0, 0]
        last = min(16, seq)
        token_rows = [(repr(tok.decode([int(t)]))[1:-1][:10], float(a))
                      for t, a in zip(tokens[0, -last:], attr[-last:], strict=True)]  # fmt: skip
        metrics["logit_variant"] = {
            "predicted_token": tok.decode([pred_tok]),
            "top_latents": [[n, round(v, 4)] for n, v in logit_rows],
        }
        metrics["token_variant"] = {
            "down_latent": down_ids[0],
            "attribution_last_token_share": round(float(attr[-1].abs() / attr[1:].abs().sum()), 4),
        }
        run.save_fig(
            variants_figure(
                logit_rows,
                token_rows,
                f"token → latent {down_ids[0]} (block 20), last {last} tokens",
            ),
            "variants",
        )

        # 3. transcoder vs SAE on the MLP of block LM
        n_tok = 2_000 if args.smoke else args.dict_tokens
        rows = train.rows[: max(2, -(-n_tok // (len(train.rows[0]) - 1)))]
        x_in, y_out = mlp_io(model, rows, LM)
        hx_in, hy_out = mlp_io(model, held.rows, LM)
        keep = y_out.norm(dim=1) <= 10 * hy_out.norm(dim=1).median()
        x_in, y_out = x_in[keep], y_out[keep]
        d = model.cfg.d_model
        d_sae = (2 if args.smoke else args.dict_expansion) * d
        epochs = 1 if args.smoke else args.dict_epochs
        cfg = TrainConfig(n_steps=max(1, epochs * len(x_in) // 256), lr=2e-3,
                          dead_window=2560, log_every=20)  # fmt: skip
        k_top = 8 if args.smoke else args.dict_k
        specs = {  # name: (kind, TopK k or None for ReLU + L1)
            "TopK transcoder": ("transcoder", k_top), "TopK SAE": ("sae", k_top),
            "ReLU transcoder": ("transcoder", None), "ReLU SAE": ("sae", None),
        }  # fmt: skip
        dicts = {}
        for name, (kind, k) in specs.items():
            dicts[name], _ = train_mlp_dictionary(kind, x_in, y_out, d_sae, args.dict_l1, cfg, k=k)
            dicts[name].eval().requires_grad_(False)
        metrics["dict"] = {"layer": LM, "d_sae": d_sae, "train_tokens": len(x_in),
                           "steps": cfg.n_steps, "l1": args.dict_l1, "k": k_top,
                           "held_out_tokens": len(hx_in)}  # fmt: skip
        held_tokens = torch.tensor(held.rows)
        med = hy_out.norm(dim=1).median().item()
        hkeep = hy_out.norm(dim=1) <= 10 * med
        rows_out = {}
        for name, sae in dicts.items():
            is_tc = specs[name][0] == "transcoder"
            s = sae_stats(sae, hx_in[hkeep] if is_tc else hy_out[hkeep], target=hy_out[hkeep])
            fn = (lambda xi, yo, m=sae: m(xi)) if is_tc else (lambda xi, yo, m=sae: m(yo))
            ce = mlp_splice_ce(model, held_tokens, LM, fn, y_out.mean(0))
            rows_out[name] = {"fve": round(s.fve, 4), "l0": round(s.l0, 2),
                              "dead_fraction": round(s.dead_fraction, 4),
                              "ce_recovered_vs_mean": round(ce["recovered_vs_mean"], 4),
                              "ce_recovered_vs_zero": round(ce["recovered_vs_zero"], 4),
                              "ce_spliced": round(ce["ce_spliced"], 4),
                              "ce_clean": round(ce["ce_clean"], 4),
                              "ce_mean_ablation": round(ce["ce_mean_ablation"], 4)}  # fmt: skip
            run.print(f"  {name}: {rows_out[name]}")
        metrics["dictionaries"] = rows_out
        run.save_fig(dict_figure(rows_out, k_top, args.dict_l1), "transcoder_vs_sae")

        # 4. virtual weights vs input-dependent Jacobians through the MLP
        n_var = 32 if args.smoke else args.n_var_tokens
        xs = hx_in[hkeep][
            torch.randperm(int(hkeep.sum()), generator=torch.Generator().manual_seed(args.seed))[
                :n_var
            ]
        ]
        gain = model.blocks[LM].ln2.w.detach()
        u = sae_up.W_dec[up_ids] * gain
        u = u / u.norm(dim=1, keepdim=True)  # unit directions in the MLP's normalised input
        tc, sae = dicts["TopK transcoder"], dicts["TopK SAE"]
        mlp = model.blocks[LM].mlp
        k_dn = 5 if args.smoke else args.k_down
        tc_ids = _top((tc.encode(xs) > 0).float().sum(0), k_dn)
        sae_ids = _top((sae.encode(mlp(xs[None])[0]) > 0).float().sum(0), k_dn)
        j_sae = through_mlp_jacobian(lambda v: sae.pre_acts(mlp(v[None, None])[0, 0])[sae_ids],
                                     xs, u)  # fmt: skip
        j_tc = through_mlp_jacobian(lambda v: tc.pre_acts(v)[tc_ids], xs, u)
        v_tc = virtual_weights(u, tc.W_enc[:, tc_ids])
        cv_sae = (j_sae.std(0) / j_sae.mean(0).abs().clamp_min(1e-12)).flatten()
        flips = ((j_sae > 0).any(0) & (j_sae < 0).any(0)).float().mean()
        max_dev = float((j_tc - v_tc).abs().max())
        metrics["virtual"] = {
            "n_tokens": len(xs), "pairs": int(cv_sae.numel()),
            "sae_median_cv": round(float(cv_sae.median()), 4),
            "sae_sign_flip_fraction": round(float(flips), 4),
            "transcoder_max_abs_dev_from_virtual_weight": max_dev,
            "transcoder_mean_abs_virtual_weight": round(float(v_tc.abs().mean()), 4),
            "sae_mean_abs_jacobian": round(float(j_sae.abs().mean()), 4),
        }  # fmt: skip
        strong = j_sae.abs().mean(0).flatten().argsort(descending=True)[:6]
        pairs = [divmod(int(s), len(sae_ids)) for s in strong]
        tc_strong = v_tc.abs().flatten().argsort(descending=True)[:6]
        tc_pairs = [divmod(int(s), len(tc_ids)) for s in tc_strong]
        cv_tc = (j_tc.std(0) / j_tc.mean(0).abs().clamp_min(1e-12)).flatten()
        flips_tc = ((j_tc > 0).any(0) & (j_tc < 0).any(0)).float().mean()
        metrics["virtual"]["transcoder_median_cv"] = float(cv_tc.median())
        metrics["virtual"]["transcoder_sign_flip_fraction"] = float(flips_tc)
        table_rows = [["median std/|mean|", f"{float(cv_sae.median()):.2f}",
                       f"{float(cv_tc.median()):.1g}"],
                      ["pairs with both signs", f"{float(flips):.0%}", f"{float(flips_tc):.0%}"],
                      ["max |J − V|", "—", f"{max_dev:.1g}"]]  # fmt: skip
        sae_cols = torch.stack([j_sae[:, i, j] for i, j in pairs], 1)  # [tokens pairs]
        tc_cols = torch.stack([j_tc[:, i, j] for i, j in tc_pairs], 1)
        run.save_fig(variance_figure(sae_cols, tc_cols, cv_sae, table_rows), "virtual_weights")
        metrics["virtual"]["sae_example_pairs"] = [[up_ids[i], sae_ids[j]] for i, j in pairs]
        metrics["virtual"]["transcoder_example_pairs"] = [[up_ids[i], tc_ids[j]]
                                                          for i, j in tc_pairs]  # fmt: skip
        return run.finish(metrics)


if __name__ == "__main__":
    run_script(main, Args)
