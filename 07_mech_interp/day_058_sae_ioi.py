"""Day 58 — SAE latents in the IOI circuit: which latents carry "who is the subject"?

Shows, on SmolLM2-135M-Instruct with the project's residual-stream SAEs (layer 15, and layer 20
when asked for; `arena_core.sae.pretrained`):
1. latent attribution patching (`arena_core.sae.attribution`): with the SAE spliced in and its
   error term held fixed, (f_clean − f_corrupted) · ∂LD/∂f for every latent at every position,
   one forward + backward per template batch. The corruption is "flip_s2": the second mention of
   the subject becomes the indirect object's name, so clean and corrupted prompts hold the *same
   two names* and differ only in which one repeats: what moves is the IO/S role, not the name
   identity that "abc" would also change. Positions are read by role (IO, S1, S1+1, S2, END),
   per (template, order) batch: ABBA and BABA prompts put IO and S1 in different columns
   (`arena_core.interp.ioi_latents`);
2. exact patches (clean codes into the flipped run) of the top units and of every latent at a
   role, to check the linear estimate;
3. dashboard rows for the top latents (`arena_core.sae.features`): top-activating contexts in
   the SAE's corpus, direct-path top logit tokens, density, mean code at each IOI role;
4. the heads the circuit uses, found here with exact head-output patching
   (`ioi_patching.exact_head_map`, same corruption) and per-head direct logit attribution and
   END's attention to IO, S1, S2 (`head_roles.head_evidence`; days 54–55 map the full circuit);
5. ablation curves: the logit difference on clean prompts as the top-k latent units (by
   attribution) or the top-k heads (by patching) are mean-ablated over the "abc" prompts
   (position-wise means, same template), with random active latent units as the baseline.

Run:  arena run 58 [--smoke] [--publish]   (or python 07_mech_interp/day_058_sae_ioi.py)
Full run (128 prompts, SAEs at layers 15 and 20 already cached): 9 min wall clock on 1 thread
(measured: 525 s).
Smoke: 16 prompts (templates 1, 2), the smoke-recipe SAE at layer 15, template 1 for head patching.
The mechanism diagram is the splice x = x̂(f) + e at one position and the attribution of the
post's worked example (the top unit's Δf, gradient, estimate and exact patch, computed here).
"""

from dataclasses import dataclass

import torch
from matplotlib.figure import Figure

from arena_core.data.ioi import corrupt, ioi_dataset
from arena_core.interp import ioi_latents
from arena_core.interp.ablation import head_ablation_hooks, mean_z
from arena_core.interp.head_roles import head_evidence
from arena_core.interp.ioi_latents import (
    mean_ld,
    paired_batches,
    patch_role_latents,
    role_attribution,
    role_code_sums,
    take,
)
from arena_core.interp.ioi_patching import exact_head_map
from arena_core.interp.logit_lens import final_norm, unembed_params
from arena_core.models import load_model
from arena_core.sae.features import encode_grid, logit_effects, top_contexts, top_logit_tokens
from arena_core.sae.pretrained import MASSIVE, SMOKE_RECIPE, SAERecipe, pretrained_sae
from arena_core.sae.splice import replace_codes, run_spliced, splice_hook, unit_mask
from arena_core.sae.store import token_activations
from arena_core.utils import DayArgs, Run, run_script
from arena_core.utils.diagrams import arrow, box, canvas, finish, label
from arena_core.utils.figures import text_table

ROLES = ("IO", "S1", "S1+1", "S2", "END")  # labels of ioi_latents.ROLES (its "end" is END)
KEYS = ioi_latents.ROLES
PATCH_ROLES = ("IO", "S1", "S2", "END")  # roles patched exactly (every latent at once)
# Pencil example of the post: three latents at one position.
TOY = {"f_clean": [2.0, 0.0, 1.0], "f_corr": [0.5, 1.0, 1.0], "grad": [0.8, -0.3, 2.0]}


@dataclass
class Args(DayArgs):
    threads: int = 1  # torch CPU threads
    model: str = "smollm2-135m"  # SmolLM2-135M-Instruct, the model of the IOI days
    n: int = 128  # IOI prompts (8 templates x 2 orders cycled: 16 per template)
    layers: str = "15,20"  # residual SAEs (after these blocks), comma-separated
    n_exact: int = 10  # top units per layer checked with an exact patch
    head_prompts: int = 8  # prompts per template for head patching (templates 1, 2; both orders)
    ablate_prompts: int = 8  # prompts per template for the ablation curves (half per order)
    ks: str = "1,2,4,8,16,32"  # numbers of ablated units
    n_random: int = 3  # random draws of latent units for the baseline
    dash_rows: int = 96  # corpus rows read for the top-activating contexts
    n_dash: int = 6  # latents shown in the dashboard table


def toy_example() -> dict:
    f1, f0, g = (torch.tensor(TOY[k], dtype=torch.float64) for k in ("f_clean", "f_corr", "grad"))
    terms = (f1 - f0) * g
    r = lambda v: [round(x, 4) for x in v.tolist()]  # noqa: E731
    return TOY | {"delta": r(f1 - f0), "terms": r(terms), "sum": round(terms.sum().item(), 4)}


def main(args: Args) -> dict:
    with Run(day=58, args=args) as run:
        metrics: dict = {"toy_example": toy_example()}
        lm = load_model(args.model, device=run.device)
        model, tok = lm.model.eval(), lm.tokenizer
        for p in model.parameters():
            p.requires_grad_(False)  # gradients only with respect to SAE codes
        run.record_source("model", lm.source)
        n = 16 if args.smoke else args.n
        layers = [15] if args.smoke else [int(x) for x in args.layers.split(",")]
        templates = (1, 2) if args.smoke else None  # smoke: two templates
        data = ioi_dataset(tok, n, seed=args.seed, templates=templates)
        flip_d = corrupt(tok, data, "flip_s2", seed=args.seed)
        # one batch per (template, order): ABBA and BABA put IO and S1 in different columns
        clean, flip, abc = paired_batches(data, flip_d, corrupt(tok, data, "abc", seed=args.seed))
        ld = {"clean": mean_ld(model, clean)}
        for key, bs in (("flip", flip), ("abc", abc)):
            ld[key] = mean_ld(model, clean, [b.tokens for b in bs])
        metrics.update(
            n_prompts=n, n_batches=len(clean), mean_ld={k: round(v, 4) for k, v in ld.items()}
        )
        run.print(
            f"  mean LD clean {ld['clean']:.2f}, flip_s2 {ld['flip']:.2f}, "
            f"abc {ld['abc']:.2f} over {n} prompts in {len(clean)} (template, order) batches"
        )
        gap = ld["clean"] - ld["flip"]

        # 1-3: per layer, attribution, exact checks and dashboards
        per_layer, saes = {}, {}
        for layer in layers:
            recipe = SMOKE_RECIPE if args.smoke else SAERecipe(layer=layer)
            p = pretrained_sae(model, tok, lm.name, recipe, log=run.print)
            sae = p.sae.to(run.device).eval()
            for q in sae.parameters():
                q.requires_grad_(False)
            saes[layer] = (sae, p)
            run.record_source(
                f"sae_L{layer}",
                f"ReLU SAE {p.hook}, width {sae.cfg.d_sae}, "
                f"held-out FVE {p.meta['held_out']['fve']:.3f}",
            )
            per_layer[layer] = analyse_layer(
                model, tok, sae, p, clean, flip, abc, gap, ld, args, run
            )
        metrics["layers"] = {str(k): v["metrics"] for k, v in per_layer.items()}

        # 4: heads (exact head patching, flip_s2; DLA and END's attention from one cached run)
        keep = (1,) if args.smoke else (1, 2)
        sel = [k for k, b in enumerate(clean) if data.prompts[b.idx[0]].template in keep]
        per = 2 if args.smoke else max(1, args.head_prompts // 2)  # per (template, order)
        hc, hf = take([clean[k] for k in sel], per), take([flip[k] for k in sel], per)
        h_gap = mean_ld(model, hc) - mean_ld(model, hc, [b.tokens for b in hf])
        patch = (exact_head_map(model, hc, hf) / h_gap).float()
        ev = head_evidence(model, hc)
        dla_grid = ev.dla.float()
        attn = torch.stack([ev.end_to_io, ev.end_to_s1, ev.end_to_s2])
        top_heads = [
            (int(i) // model.cfg.n_heads, int(i) % model.cfg.n_heads)
            for i in patch.flatten().argsort(descending=True)
        ]
        metrics["heads"] = {
            "prompts": sum(len(b.idx) for b in hc),
            "top_by_patching": [
                {
                    "head": f"L{lay}H{h}",
                    "patch": round(patch[lay, h].item(), 4),
                    "dla": round(dla_grid[lay, h].item(), 4),
                    "attn_end_to": {
                        r: round(attn[j, lay, h].item(), 3)
                        for j, r in enumerate(("IO", "S1", "S2"))
                    },
                }
                for lay, h in top_heads[:10]
            ],
            "top_by_dla": [
                f"L{i // model.cfg.n_heads}H{i % model.cfg.n_heads}"
                for i in dla_grid.flatten().argsort(descending=True)[:6].tolist()
            ],
            "bottom_by_dla": [
                f"L{i // model.cfg.n_heads}H{i % model.cfg.n_heads}"
                for i in dla_grid.flatten().argsort()[:3].tolist()
            ],
        }
        run.save_fig(heads_figure(patch, dla_grid), "heads")

        # 5: ablation curves
        per = 1 if args.smoke else max(1, args.ablate_prompts // 2)
        ks = [1, 2, 4] if args.smoke else [int(x) for x in args.ks.split(",")]
        metrics["ablation"] = ablation_curves(
            model, take(clean, per), take(abc, per), saes, per_layer, top_heads, ks, args
        )
        run.save_fig(ablation_figure(metrics["ablation"]), "ablation")

        first = layers[0]
        ex = per_layer[first]["metrics"]["worked_example"]
        i0 = clean[0].idx[0]
        ex.update(
            text=data.prompts[i0].text,
            flipped=flip_d.prompts[i0].text,
            io=data.prompts[i0].io,
            s=data.prompts[i0].s,
            d_sae=saes[first][0].cfg.d_sae,
        )
        rp = metrics["layers"][str(first)]["role_patch"].get(ex["role"], {})
        ex.update(
            all_estimate=rp.get("latents_attribution", 0.0), all_exact=rp.get("latents_exact", 0.0)
        )
        metrics["worked_example"] = ex
        run.save_fig(mechanism_figure(ex, first), "mechanism")
        run.save_fig(heatmap_figure(per_layer, gap), "attribution_heatmap")
        run.save_fig(exact_figure(per_layer), "attribution_vs_exact")
        run.save_fig(
            dashboard_figure(per_layer[first]["metrics"]["dashboard"], first), "top_latents"
        )
        return run.finish(metrics)


def analyse_layer(model, tok, sae, p, clean, flip, abc, gap, ld, args, run) -> dict:
    hook, d_sae = p.hook, sae.cfg.d_sae
    ra = role_attribution(model, sae, hook, clean, flip, KEYS)
    lat, err, codes = ra.latents.float(), ra.error.float(), ra.codes
    lat_abc = role_attribution(model, sae, hook, clean, abc, KEYS).latents.float()
    norm = lat / gap
    flat = norm[: len(ROLES)].flatten().argsort(descending=True)
    units = [(int(j) // d_sae, int(j) % d_sae) for j in flat]

    def exact(chosen, **kw) -> float:
        return (patch_role_latents(model, sae, hook, clean, flip, codes, chosen, **kw)
                - ld["flip"]) / gap  # fmt: skip

    exact_top = [
        {
            "role": ROLES[r],
            "latent": i,
            "attribution": round(norm[r, i].item(), 4),
            "exact": round(exact([(KEYS[r], i)]), 4),
        }
        for r, i in units[: 3 if args.smoke else args.n_exact]
    ]
    role_patch = {
        role: {
            "latents_exact": round(exact([(KEYS[ROLES.index(role)], None)]), 4),
            "latents_attribution": round(norm[ROLES.index(role)].sum().item(), 4),
            "error_attribution": round(err[ROLES.index(role)].item() / gap, 4),
        }
        for role in PATCH_ROLES
    }
    run.print(
        f"  L{p.layer}: attribution sums {norm.sum().item():.3f} (+ error "
        f"{err.sum().item() / gap:.3f}); top unit {exact_top[0]}"
    )
    sums = role_code_sums(clean, codes, KEYS)  # [roles d_sae]
    n = sum(len(b.idx) for b in clean)
    dash = dashboard(model, tok, sae, p, sums / n, [i for _, i in units[: args.n_dash * 3]], args)
    share = lambda x: dict(zip([*ROLES, "other"], (x.abs().sum(1) / x.abs().sum()).tolist(),  # noqa: E731
                               strict=True))  # fmt: skip
    m = {
        "hook": hook,
        "fve": p.meta["held_out"]["fve"],
        "l0": p.meta["held_out"]["l0"],
        "metric_clean": round(ra.metric_clean, 4),
        "metric_flip": round(ra.metric_corrupted, 4),
        "attribution_total": round(norm.sum().item(), 4),
        "error_total": round(err.sum().item() / gap, 4),
        "role_share_abs_flip": {k: round(v, 4) for k, v in share(lat).items()},
        "role_share_abs_abc": {k: round(v, 4) for k, v in share(lat_abc).items()},
        "exact_vs_attribution": exact_top,
        "role_patch": role_patch,
        "top_units": [
            {"role": ROLES[r], "latent": i, "attribution": round(norm[r, i].item(), 4)}
            for r, i in units[:16]
        ],
        "dashboard": dash,
        "worked_example": worked_example(
            model, sae, hook, clean, flip, codes, units[0], gap, exact_top[0]
        ),
    }
    return {
        "metrics": m,
        "norm": norm,
        "err": err / gap,
        "units": units,
        "active": torch.nonzero(sums > 0),
    }


@torch.no_grad()
def worked_example(model, sae, hook, clean, flip, codes, unit, gap, exact) -> dict:
    """The top unit on the first batch's first prompt, and its totals over all prompts."""
    r, i = unit
    col = clean[0].positions[KEYS[r]]
    f_corr = run_spliced(model, sae, hook, flip[0].tokens[:1], last_only=True)[1][0, col, i].item()
    f_all = torch.cat(
        [f[:, b.positions[KEYS[r]], i] for b, (f, _) in zip(clean, codes, strict=True)]
    )
    return {
        "role": ROLES[r],
        "latent": i,
        "attribution": exact["attribution"],
        "exact": exact["exact"],
        "gap": round(gap, 4),
        "f_clean_first": round(codes[0][0][0, col, i].item(), 3),
        "f_flip_first": round(f_corr, 3),
        "mean_f_clean": round(f_all.mean().item(), 3),
        "fires_on_clean": round((f_all > 0).float().mean().item(), 3),
    }


@torch.no_grad()
def dashboard(model, tok, sae, p, role_mean, latents, args) -> list[dict]:
    """Top contexts in the SAE's corpus, top logit tokens, density, mean code per IOI role."""
    picked = list(dict.fromkeys(latents))[: 2 if args.smoke else args.n_dash]
    rows = p.corpus.rows[: 8 if args.smoke else args.dash_rows]
    acts = token_activations(model, rows, p.hook, batch_size=16)
    acts = acts.reshape(len(rows), -1, acts.shape[-1])
    norms = acts.norm(dim=-1)
    keep = norms <= MASSIVE * norms.median()
    grid = encode_grid(sae, acts, picked, keep)  # [rows pos k]
    W_U, _ = unembed_params(model)
    eff = logit_effects(sae.W_dec[picked].float(), W_U.float(), final_norm(model).w.float())
    out = []
    for j, i in enumerate(picked):
        shown = []
        for c in top_contexts(grid[..., j], 3, before=6, after=1):
            toks = rows[c.row][c.start + 1 : c.stop + 1]  # code position q is row token q + 1
            words = [tok.decode([t]) for t in toks]
            words[c.pos - c.start] = f"[{words[c.pos - c.start]}]"
            shown.append("".join(words).replace("\n", "⏎"))
        out.append(
            {
                "latent": i,
                "density": round(
                    (grid[..., j] > 0).float().sum().item() / max(int(keep.sum()), 1), 4
                ),
                "contexts": shown,
                "top_logits": [tok.decode([t]) for t in top_logit_tokens(eff[j], 5)["top_ids"]],
                "mean_code_by_role": {
                    r: round(role_mean[k, i].item(), 3) for k, r in enumerate(ROLES)
                },  # fmt: skip
            }
        )
    return out


def ablation_curves(model, clean, abc, saes, per_layer, top_heads, ks, args) -> dict:
    """LD on clean prompts with the top-k latent units / heads mean-ablated over abc."""
    abc_tokens = [b.tokens for b in abc]
    z_means = [mean_z(model, t, per_position=True) for t in abc_tokens]
    out = {
        "ks": ks,
        "prompts": sum(len(b.idx) for b in clean),
        "clean": round(mean_ld(model, clean), 4),
        "abc": round(mean_ld(model, clean, abc_tokens), 4),
        "heads": [],
        "latents": {},
    }
    for k in ks:
        hooks = lambda j, b, k=k: head_ablation_hooks(top_heads[:k], z_means[j])  # noqa: E731
        out["heads"].append(round(mean_ld(model, clean, hooks_for=hooks), 4))
    gen = torch.Generator().manual_seed(args.seed)
    for layer, (sae, p) in saes.items():
        with torch.no_grad():
            f_abc = [run_spliced(model, sae, p.hook, t, last_only=True)[1].mean(0)
                     for t in abc_tokens]  # fmt: skip

        def run_units(chosen, sae=sae, hook=p.hook, means=f_abc):
            def hooks_for(bi, b):
                cols = [(b.positions[KEYS[r]], i) for r, i in chosen]
                mask = unit_mask(b.tokens.shape[1], sae.cfg.d_sae, cols)
                return [(hook, splice_hook(sae, replace_codes(means[bi], mask)))]

            return round(mean_ld(model, clean, hooks_for=hooks_for), 4)

        units, pool = per_layer[layer]["units"], per_layer[layer]["active"]
        rand = []
        for _ in range(1 if args.smoke else args.n_random):  # random units active on clean
            perm = torch.randperm(len(pool), generator=gen)
            rand.append([run_units([tuple(map(int, pool[j])) for j in perm[:k]]) for k in ks])
        out["latents"][str(layer)] = {"top": [run_units(units[:k]) for k in ks], "random": rand}
    return out


def heatmap_figure(per_layer: dict, gap: float) -> Figure:
    """Normalised attribution of the top latents (rows) at each role (columns), per layer."""
    fig = Figure(figsize=(5.4 * len(per_layer), 7.0))
    for k, (layer, res) in enumerate(per_layer.items()):
        ax = fig.add_subplot(1, len(per_layer), k + 1)
        lats = list(dict.fromkeys(i for _, i in res["units"][:24]))[:16]
        # percent of the LD gap; the colour scale is set by the latents (the error row may clip)
        grid = 100 * torch.cat([res["norm"][:, lats].T, res["err"][None]])  # [latents+1 roles+1]
        vmax = grid[:-1].abs().max().item()
        im = ax.imshow(grid.numpy(), cmap="RdBu_r", vmin=-vmax, vmax=vmax, aspect="auto")
        ax.set_xticks(range(len(ROLES) + 1), [*ROLES, "other"])
        ax.set_yticks(range(len(lats) + 1), [f"latent {i}" for i in lats] + ["SAE error term"])
        ax.set_xlabel("position (role in the prompt)")
        ax.set_title(f"layer {layer} residual SAE")
        for (y, x), v in zip(
            torch.cartesian_prod(torch.arange(grid.shape[0]), torch.arange(grid.shape[1])).tolist(),
            grid.flatten().tolist(),
            strict=True,
        ):
            if abs(v) >= 0.05 * vmax:
                ax.text(
                    x,
                    y,
                    f"{v:.2f}" if abs(v) < 10 else f"{v:.0f}",
                    ha="center",
                    va="center",
                    fontsize=7,
                    color="white" if abs(v) > 0.6 * vmax else "black",
                )
        fig.colorbar(im, ax=ax, shrink=0.7, label="attribution (% of clean − flipped LD)")
    fig.suptitle(
        f"Which latents restore the IO/S role? Attribution patching, flip_s2 "
        f"(clean − flipped mean LD = {gap:.2f})"
    )
    fig.tight_layout()
    return fig


def exact_figure(per_layer: dict) -> Figure:
    """Linear estimate vs exact patch for the top units; every latent at a role, per layer."""
    fig = Figure(figsize=(12, 4.8))
    ax = fig.add_subplot(1, 2, 1)
    lo, hi = 0.0, 0.0
    for (layer, res), mk in zip(per_layer.items(), ("o", "s"), strict=False):
        ev = res["metrics"]["exact_vs_attribution"]
        a, e = [u["attribution"] for u in ev], [u["exact"] for u in ev]
        ax.scatter(a, e, marker=mk, s=36, label=f"layer {layer}: top units")
        for u in ev[:4]:
            ax.annotate(
                f"{u['latent']}@{u['role']}",
                (u["attribution"], u["exact"]),
                fontsize=7,
                xytext=(3, 3),
                textcoords="offset points",
            )
        lo, hi = min(lo, *a, *e), max(hi, *a, *e)
    ax.plot([lo, hi], [lo, hi], color="0.5", lw=0.8, ls="--", label="estimate = exact")
    ax.set_xlabel("attribution estimate (fraction of LD gap)")
    ax.set_ylabel("exact patch of that one latent (fraction)")
    ax.set_title("One latent at one role: linear estimate vs exact patch")
    ax.legend(loc="best", fontsize=8)
    ax = fig.add_subplot(1, 2, 2)
    roles = PATCH_ROLES
    w = 0.8 / (3 * len(per_layer))
    for k, (layer, res) in enumerate(per_layer.items()):
        rp = res["metrics"]["role_patch"]
        for j, (key, word) in enumerate(
            (
                ("latents_exact", "all latents, exact"),
                ("latents_attribution", "all latents, estimate"),
                ("error_attribution", "error term, estimate"),
            )
        ):
            xs = [r - 0.4 + w * (3 * k + j + 0.5) for r in range(len(roles))]
            ax.bar(
                xs,
                [rp[r][key] for r in roles],
                width=w,
                label=f"L{layer}: {word}",
                alpha=1.0 - 0.25 * j,
                color=f"C{k}",
                edgecolor="0.3",
                lw=0.5,
                hatch="//" if j == 2 else None,
            )
    ax.axhline(0, color="0.4", lw=0.8)
    ax.set_xticks(range(len(roles)), roles)
    ax.set_xlabel("position patched")
    ax.set_ylabel("restored fraction of the LD gap")
    ax.set_title("Every latent at one position (clean codes into flipped run)")
    ax.set_ylim(top=max(ax.get_ylim()[1], 0.95))
    ax.legend(loc="upper right", fontsize=7, ncol=2)
    fig.tight_layout()
    return fig


def _short(text: str, n: int) -> str:
    return text if len(text) <= n else "…" + text[-(n - 1) :]


def dashboard_figure(dash: list[dict], layer: int) -> Figure:
    """A text table: latent, density, mean code at S2 / END / IO, top logit tokens, contexts."""
    rows = []
    for d in dash:
        mc = d["mean_code_by_role"]
        ctx = "\n".join(_short(c, 58) for c in d["contexts"][:2]) or "(never fires in corpus)"
        rows.append(
            [
                str(d["latent"]),
                f"{100 * d['density']:.2f}%",
                f"IO {mc['IO']:.1f}\nS2 {mc['S2']:.1f}  END {mc['END']:.1f}",
                " ".join(repr(t)[1:-1] for t in d["top_logits"][:4]),
                ctx,
            ]
        )
    fig = Figure(figsize=(14, 1.1 + 0.75 * len(rows)))
    ax = fig.add_subplot(1, 1, 1)
    header = [
        "latent",
        "corpus density",
        "mean code on IOI prompts",
        "top logit tokens (direct path)",
        "top-activating corpus contexts ([peak token])",
    ]
    text_table(ax, rows, header, widths=[0.06, 0.08, 0.14, 0.2, 0.52], fontsize=8, row_scale=3.0)
    ax.set_title(f"Top latents of the layer-{layer} SAE by attribution (flip_s2)")
    fig.tight_layout()
    return fig


def heads_figure(patch: torch.Tensor, dla_grid: torch.Tensor) -> Figure:
    fig = Figure(figsize=(9, 8))
    for k, (grid, title, unit) in enumerate(
        (
            (patch, "head patching (flip_s2)", "restored fraction"),
            (dla_grid, "direct logit attribution (clean)", "logit[IO] − logit[S]"),
        )
    ):
        ax = fig.add_subplot(1, 2, k + 1)
        vmax = grid.abs().max().item()
        im = ax.imshow(grid.numpy(), cmap="RdBu_r", vmin=-vmax, vmax=vmax, aspect="auto")
        ax.set_xlabel("head")
        ax.set_ylabel("layer")
        ax.set_title(title)
        fig.colorbar(im, ax=ax, shrink=0.6, label=unit)
    fig.suptitle("Heads that carry the IOI answer in SmolLM2-135M-Instruct")
    fig.tight_layout()
    return fig


def ablation_figure(ab: dict) -> Figure:
    fig = Figure(figsize=(8, 5))
    ax = fig.add_subplot(1, 1, 1)
    ks = ab["ks"]
    ax.plot(ks, ab["heads"], "o-", color="black", label="top-k heads (by patching)")
    for j, (layer, cur) in enumerate(ab["latents"].items()):
        ax.plot(ks, cur["top"], "s-", color=f"C{j}", label=f"top-k layer-{layer} latent units")
        rand = torch.tensor(cur["random"])
        ax.plot(
            ks,
            rand.mean(0).tolist(),
            "--",
            color=f"C{j}",
            alpha=0.7,
            label=f"random active layer-{layer} latent units (mean of {len(rand)})",
        )
    ax.axhline(ab["clean"], color="tab:green", lw=0.8, ls=":", label="clean, nothing ablated")
    ax.axhline(ab["abc"], color="tab:red", lw=0.8, ls=":", label="abc prompts (no IO)")
    ax.set_xscale("log", base=2)
    ax.set_xticks(ks, [str(k) for k in ks])
    ax.set_xlabel("k (units mean-ablated over abc prompts)")
    ax.set_ylabel("mean logit[IO] − logit[S] on clean prompts")
    ax.set_title("Ablating latents vs ablating heads")
    ax.legend(loc="best", fontsize=8)
    fig.tight_layout()
    return fig


def mechanism_figure(ex: dict, layer: int) -> Figure:
    """The splice at one position, and attribution vs exact patch of the worked example."""
    fig, ax = canvas(13, 7.2, scale=0.75)
    box(ax, (0.3, 5.4), f"clean prompt\n…{ex['s']} gave … to", width=3.2, height=1.1, role="input")
    box(
        ax,
        (0.3, 3.6),
        f"flipped prompt (flip_s2)\n…{ex['io']} gave … to",
        width=3.2,
        height=1.1,
        role="highlight",
    )
    box(ax, (4.3, 4.3), f"blocks 0–{layer}", width=2.0, height=1.4, role="param")
    arrow(ax, (3.5, 5.95), (4.3, 5.3))
    arrow(ax, (3.5, 4.15), (4.3, 4.7))
    box(
        ax,
        (7.1, 4.0),
        f"x = f · W_dec + b_dec + e\n(SAE at layer {layer}, position "
        f"{ex['role']})\nf: {ex['d_sae']} latents, e: error (held fixed)",
        width=4.4,
        height=2.0,
        role="op",
        fontsize=9,
    )
    arrow(ax, (6.3, 5.0), (7.1, 5.0))
    box(
        ax,
        (7.1, 1.6),
        f"blocks {layer + 1}–29 + unembed\nLD = logit[IO] − logit[S]",
        width=4.4,
        height=1.2,
        role="param",
        fontsize=9,
    )
    arrow(ax, (9.3, 4.0), (9.3, 2.8))
    txt = (
        f"latent {ex['latent']} at {ex['role']}: f_clean = {ex['f_clean_first']}, "
        f"f_flipped = {ex['f_flip_first']} (first prompt)\n"
        f"estimate Σ (f_clean − f_flip) ∂LD/∂f = {ex['attribution']:.3f}   "
        f"exact patch = {ex['exact']:.3f}   (fractions of the LD gap {ex['gap']:.2f})\n"
        f"all {ex['d_sae']} latents at {ex['role']} together: estimate "
        f"{ex['all_estimate']:.3f}, exact patch {ex['all_exact']:.3f}"
    )
    box(ax, (0.3, 0.0), txt, width=12.4, height=1.4, role="output", fontsize=9)
    label(
        ax,
        (0.3, 6.9),
        "Splice the SAE in, keep its error e: the flipped run is unchanged, and "
        "∂LD/∂f ranks every latent at every position",
        fontsize=10,
        ha="left",
    )
    finish(ax)
    return fig


if __name__ == "__main__":
    run_script(main, Args)
