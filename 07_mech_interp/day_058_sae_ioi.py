"""Day 58 — SAE latents in the IOI circuit: which latents carry "who is the subject"?

Shows, on SmolLM2-135M-Instruct with the project's residual-stream SAEs (layer 15, and layer 20
when asked for; `arena_core.sae.pretrained`):
1. latent attribution patching (`arena_core.sae.attribution`): with the SAE spliced in and its
   error term held fixed, (f_clean − f_corrupted) · ∂LD/∂f for every latent at every position,
   one forward + backward per template batch. The corruption is "flip_s2": the second mention of
   the subject becomes the indirect object's name, so clean and corrupted prompts hold the *same
   two names* and differ only in which one repeats: what moves is the IO/S role, not the name
   identity that "abc" would also change. Positions are read by role (IO, S1, S1+1, S2, END);
2. exact patches (clean codes into the flipped run) of the top units and of every latent at a
   role, to check the linear estimate;
3. dashboard rows for the top latents (`arena_core.sae.features`): top-activating contexts in
   the SAE's corpus, direct-path top logit tokens, density, mean code at each IOI role;
4. the heads the circuit uses, found here with head-output patching (`patch_head_z_all_pos`, same
   corruption) and per-head direct logit attribution (days 54–55 map the full circuit), and where
   their END query attends (IO, S1, S2);
5. ablation curves: the logit difference on clean prompts as the top-k latent units (by
   attribution) or the top-k heads (by patching) are mean-ablated over the "abc" prompts
   (position-wise means, same template), with random active latent units as the baseline.

Run:  arena run 58 [--smoke] [--publish]   (or python 07_mech_interp/day_058_sae_ioi.py)
Full run (128 prompts, SAEs at layers 15 and 20 already cached): 11 min wall clock on 1 thread
(measured; 19 min when the 2 cores were shared); head patching is about half of it.
Smoke: 16 prompts, the smoke-recipe SAE at layer 15, 2 templates for head patching.
The mechanism diagram is the splice x = x̂(f) + e at one position and the attribution of the
post's worked example (the top unit's Δf, gradient, estimate and exact patch, computed here).
"""

from dataclasses import dataclass

import torch
from matplotlib.figure import Figure

from arena_core.data.ioi import corrupt, ioi_dataset
from arena_core.interp.ablation import head_ablation_hooks, mean_z
from arena_core.interp.attribution import apply_final_norm_to_stack, residual_components
from arena_core.interp.logit_lens import final_norm, unembed_params
from arena_core.interp.patching import logit_diff, patch_head_z_all_pos, patching_setup
from arena_core.models import load_model
from arena_core.sae.attribution import latent_attribution, patch_codes
from arena_core.sae.features import encode_grid, logit_effects, top_contexts, top_logit_tokens
from arena_core.sae.pretrained import MASSIVE, SMOKE_RECIPE, SAERecipe, pretrained_sae
from arena_core.sae.splice import replace_codes, run_spliced, splice_hook, unit_mask
from arena_core.sae.store import token_activations
from arena_core.utils import DayArgs, Run, run_script
from arena_core.utils.diagrams import arrow, box, canvas, finish, label
from arena_core.utils.figures import text_table

ROLES = ("IO", "S1", "S1+1", "S2", "END")
# Pencil example of the post: three latents at one position.
TOY = {"f_clean": [2.0, 0.0, 1.0], "f_corr": [0.5, 1.0, 1.0], "grad": [0.8, -0.3, 2.0]}


@dataclass
class Args(DayArgs):
    threads: int = 1  # torch CPU threads
    model: str = "smollm2-135m"  # SmolLM2-135M-Instruct, the model of the IOI days
    n: int = 128  # IOI prompts (8 templates x 2 orders cycled: 16 per template)
    layers: str = "15,20"  # residual SAEs (after these blocks), comma-separated
    n_exact: int = 10  # top units per layer checked with an exact patch
    head_prompts: int = 8  # prompts per template for head patching (templates 1 and 2)
    ablate_prompts: int = 8  # prompts per template for the ablation curves
    ks: str = "1,2,4,8,16,32"  # numbers of ablated units
    n_random: int = 3  # random draws of latent units for the baseline
    dash_rows: int = 96  # corpus rows read for the top-activating contexts
    n_dash: int = 6  # latents shown in the dashboard table


def toy_example() -> dict:
    f1, f0, g = (torch.tensor(TOY[k], dtype=torch.float64) for k in ("f_clean", "f_corr", "grad"))
    terms = (f1 - f0) * g
    r = lambda v: [round(x, 4) for x in v.tolist()]  # noqa: E731
    return TOY | {"delta": r(f1 - f0), "terms": r(terms), "sum": round(terms.sum().item(), 4)}


@dataclass
class Batch:
    """The prompts of one template: one length, one column per role, no padding."""

    template: int
    idx: list[int]
    clean: torch.Tensor
    flip: torch.Tensor
    abc: torch.Tensor
    answers: torch.Tensor  # [b 2] (IO, S) of the clean prompt
    cols: dict


def template_batches(data, flip, abc) -> list[Batch]:
    out = []
    for t in sorted({p.template for p in data.prompts}):
        idx = [i for i, p in enumerate(data.prompts) if p.template == t]
        pos = data.positions[idx[0]]
        cols = {
            "IO": pos["IO"],
            "S1": pos["S1"],
            "S1+1": pos["S1"] + 1,
            "S2": pos["S2"],
            "END": pos["end"],
        }
        out.append(
            Batch(
                t,
                idx,
                *(torch.tensor([d.tokens[i] for i in idx]) for d in (data, flip, abc)),
                torch.tensor([[data.io_ids[i], data.s_ids[i]] for i in idx]),
                cols,
            )
        )
    return out


def subset(batches: list[Batch], per: int, templates=None) -> list[Batch]:
    keep = [b for b in batches if templates is None or b.template in templates]
    return [
        Batch(
            b.template,
            b.idx[:per],
            b.clean[:per],
            b.flip[:per],
            b.abc[:per],
            b.answers[:per],
            b.cols,
        )
        for b in keep
    ]


def ld_share(answers: torch.Tensor, n_total: int):
    """This batch's share of the mean LD over all prompts: sum of its LDs / n_total."""
    return lambda logits: logit_diff(logits, answers) * len(answers) / n_total


@torch.no_grad()
def mean_ld(model, batches: list[Batch], key: str, hooks_for=None) -> float:
    n = sum(len(b.idx) for b in batches)
    tot = 0.0
    for b in batches:
        hooks = [] if hooks_for is None else hooks_for(b)
        logits = model.run_with_hooks(getattr(b, key), fwd_hooks=hooks, last_only=True)
        tot += ld_share(b.answers, n)(logits).item()
    return tot


def attribute(model, sae, hook, batches, key):
    """Attribution [roles+1 d_sae] (last row: all other positions), error [roles+1], per-batch
    clean codes/errors, and the clean / corrupted mean LD."""
    n = sum(len(b.idx) for b in batches)
    lat = torch.zeros(len(ROLES) + 1, sae.cfg.d_sae)
    err = torch.zeros(len(ROLES) + 1)
    codes, m1, m0 = [], 0.0, 0.0
    for b in batches:
        a = latent_attribution(
            model, sae, hook, b.clean, getattr(b, key), ld_share(b.answers, n), last_only=True
        )
        cols = [b.cols[r] for r in ROLES]
        other = [c for c in range(b.clean.shape[1]) if c not in cols]
        lat += torch.cat([a.latents[cols], a.latents[other].sum(0, keepdim=True)]).float().cpu()
        err += torch.cat([a.error[cols], a.error[other].sum(0, keepdim=True)]).float().cpu()
        codes.append((a.codes_clean, a.error_clean))
        m1, m0 = m1 + a.metric_clean, m0 + a.metric_corrupted
    return lat, err, codes, m1, m0


def exact_units(model, sae, hook, batches, codes, units, include_error=False) -> float:
    """Mean LD of the flipped prompts with the clean codes of `units` [(role, latent), ...]
    patched in (every latent when latent is None), at each template's role column."""
    n = sum(len(b.idx) for b in batches)
    tot = 0.0
    for b, (f_clean, e_clean) in zip(batches, codes, strict=True):
        n_pos = b.clean.shape[1]
        mask = torch.zeros(n_pos, sae.cfg.d_sae, dtype=torch.bool)
        where = torch.zeros(n_pos, dtype=torch.bool)
        for role, lat in units:
            if lat is None:
                mask[b.cols[role]] = True
                where[b.cols[role]] = True
            else:
                mask[b.cols[role], lat] = True
        edit = (
            replace_codes(f_clean, mask, e_clean, where)
            if include_error
            else replace_codes(f_clean, mask)
        )
        tot += patch_codes(model, sae, hook, b.flip, edit, ld_share(b.answers, n), last_only=True)
    return tot


class TailFromCache:
    """`run_with_hooks` for a scan whose hooks all sit in one layer l (head patching): the
    corrupted run is the same up to block l, so blocks l.. are re-run from its cached
    `resid_pre`, and only the last position is unembedded (the LD metric reads no other)."""

    def __init__(self, model, tokens: torch.Tensor):
        self.model, self.cfg, self.tokens = model, model.cfg, tokens
        with torch.no_grad():
            _, self.cache = model.run_with_cache(tokens, names_filter=lambda n: "resid_pre" in n)

    def run_with_hooks(self, tokens, fwd_hooks=()):
        if not torch.equal(tokens, self.tokens):
            raise ValueError("TailFromCache only re-runs the tokens it cached")
        layer = min(int(name.split(".")[1]) for name, _ in fwd_hooks)
        with self.model.hooks(fwd_hooks):
            resid = self.cache[f"blocks.{layer}.hook_resid_pre"]
            return self.model(resid, start_at_layer=layer, last_only=True)


def head_scan(model, batches: list[Batch], show: bool):
    """Normalised head patching (flip_s2) and per-head DLA of logit[IO] − logit[S] at END,
    averaged over the batches; END's attention to IO, S1, S2 for every head."""
    cfg = model.cfg
    patch = torch.zeros(cfg.n_layers, cfg.n_heads)
    dla_grid = torch.zeros(cfg.n_layers, cfg.n_heads)
    attn = torch.zeros(3, cfg.n_layers, cfg.n_heads)
    W_U, _ = unembed_params(model)
    for b in batches:
        s = patching_setup(model, b.clean, b.flip, b.answers)
        patch += patch_head_z_all_pos(
            TailFromCache(model, b.flip), b.flip, s.clean_cache, s.metric, show
        )
        with torch.no_grad():
            stack, labels = residual_components(model, s.clean_cache)
            # the final norm's frozen scale is per position: apply it to the whole stack
            normed, labels = apply_final_norm_to_stack(model, s.clean_cache, stack, labels)
            dirs = (W_U[:, b.answers[:, 0]] - W_U[:, b.answers[:, 1]]).T  # [b d]
            per = torch.einsum("cbd,bd->c", normed[:, :, -1], dirs) / len(b.idx)
            index = {name: i for i, name in enumerate(labels)}
            dla_grid += torch.stack(
                [
                    per[[index[f"L{lay}H{h}"] for h in range(cfg.n_heads)]]
                    for lay in range(cfg.n_layers)
                ]
            )
            pat = s.clean_cache.stack("attn.hook_pattern", cfg.n_layers)  # [L b h q k]
            for j, r in enumerate(("IO", "S1", "S2")):
                attn[j] += pat[:, :, :, -1, b.cols[r]].mean(1)
    k = len(batches)
    return patch / k, dla_grid / k, attn / k


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
        templates = (1, 2) if args.smoke else None  # smoke: two templates, one batch each
        data = ioi_dataset(tok, n, seed=args.seed, templates=templates)
        flip = corrupt(tok, data, "flip_s2", seed=args.seed)
        abc = corrupt(tok, data, "abc", seed=args.seed)
        batches = template_batches(data, flip, abc)
        ld = {k: mean_ld(model, batches, k) for k in ("clean", "flip", "abc")}
        metrics.update(n_prompts=n, mean_ld={k: round(v, 4) for k, v in ld.items()})
        run.print(
            f"  mean LD clean {ld['clean']:.2f}, flip_s2 {ld['flip']:.2f}, "
            f"abc {ld['abc']:.2f} over {n} prompts"
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
            per_layer[layer] = analyse_layer(model, tok, sae, p, batches, gap, ld, args, run)
        metrics["layers"] = {str(k): v["metrics"] for k, v in per_layer.items()}

        # 4: heads
        head_b = subset(
            batches, 4 if args.smoke else args.head_prompts, (1,) if args.smoke else (1, 2)
        )
        patch, dla_grid, attn = head_scan(model, head_b, show=not args.smoke)
        top_heads = [
            (int(i) // model.cfg.n_heads, int(i) % model.cfg.n_heads)
            for i in patch.flatten().argsort(descending=True)
        ]
        metrics["heads"] = {
            "prompts": sum(len(b.idx) for b in head_b),
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
        abl_b = subset(batches, 2 if args.smoke else args.ablate_prompts)
        ks = [1, 2, 4] if args.smoke else [int(x) for x in args.ks.split(",")]
        metrics["ablation"] = ablation_curves(model, abl_b, saes, per_layer, top_heads, ks, args)
        run.save_fig(ablation_figure(metrics["ablation"]), "ablation")

        first = layers[0]
        ex = per_layer[first]["metrics"]["worked_example"]
        p0 = data.prompts[batches[0].idx[0]]
        ex.update(
            text=p0.text,
            flipped=flip.prompts[batches[0].idx[0]].text,
            io=p0.io,
            s=p0.s,
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


def analyse_layer(model, tok, sae, p, batches, gap, ld, args, run) -> dict:
    hook = p.hook
    lat, err, codes, m1, m0 = attribute(model, sae, hook, batches, "flip")
    lat_abc, err_abc, _, _, _ = attribute(model, sae, hook, batches, "abc")
    norm = lat / gap
    units = [
        (r, int(i))
        for r, i in zip(
            *torch.unravel_index(
                norm[: len(ROLES)].flatten().argsort(descending=True), norm[: len(ROLES)].shape
            ),
            strict=True,
        )
    ]
    n_exact = 3 if args.smoke else args.n_exact
    exact = []
    for r, i in units[:n_exact]:
        val = (exact_units(model, sae, hook, batches, codes, [(ROLES[r], i)]) - ld["flip"]) / gap
        exact.append(
            {
                "role": ROLES[r],
                "latent": i,
                "attribution": round(norm[r, i].item(), 4),
                "exact": round(val, 4),
            }
        )
    role_patch = {}
    for role in ("S1", "S2", "END"):
        v = exact_units(model, sae, hook, batches, codes, [(role, None)])
        role_patch[role] = {
            "latents_exact": round((v - ld["flip"]) / gap, 4),
            "latents_attribution": round(norm[ROLES.index(role)].sum().item(), 4),
            "error_attribution": round(err[ROLES.index(role)].item() / gap, 4),
        }
    run.print(
        f"  L{p.layer}: attribution sums {norm.sum().item():.3f} (+ error "
        f"{err.sum().item() / gap:.3f}); top unit {exact[0]}"
    )
    share = lat.abs().sum(1) / lat.abs().sum()
    share_abc = lat_abc.abs().sum(1) / lat_abc.abs().sum()
    top = units[:16]
    dash = dashboard(
        model, tok, sae, p, batches, codes, [i for _, i in units[: args.n_dash * 3]], args
    )
    active = torch.zeros(len(ROLES), sae.cfg.d_sae)
    for b, (f, _) in zip(batches, codes, strict=True):
        for r, role in enumerate(ROLES):
            active[r] += f[:, b.cols[role]].sum(0).float().cpu()
    ex = worked_example(model, sae, hook, batches, codes, units[0], gap, exact[0])
    m = {
        "hook": hook,
        "fve": p.meta["held_out"]["fve"],
        "l0": p.meta["held_out"]["l0"],
        "metric_clean": round(m1, 4),
        "metric_flip": round(m0, 4),
        "attribution_total": round(norm.sum().item(), 4),
        "error_total": round(err.sum().item() / gap, 4),
        "role_share_abs_flip": dict(
            zip([*ROLES, "other"], [round(x, 4) for x in share.tolist()], strict=True)
        ),
        "role_share_abs_abc": dict(
            zip([*ROLES, "other"], [round(x, 4) for x in share_abc.tolist()], strict=True)
        ),
        "exact_vs_attribution": exact,
        "role_patch": role_patch,
        "top_units": [
            {"role": ROLES[r], "latent": i, "attribution": round(norm[r, i].item(), 4)}
            for r, i in top
        ],
        "dashboard": dash,
        "worked_example": ex,
    }
    return {
        "metrics": m,
        "norm": norm,
        "err": err / gap,
        "units": units,
        "codes": codes,
        "active": torch.nonzero(active > 0),
    }


@torch.no_grad()
def worked_example(model, sae, hook, batches, codes, unit, gap, exact) -> dict:
    """The top unit on the first template's first prompt, and its totals over all prompts."""
    r, i = unit
    b = batches[0]
    col = b.cols[ROLES[r]]
    f_corr = run_spliced(model, sae, hook, b.flip[:1], last_only=True)[1][0, col, i].item()
    f_clean = codes[0][0][0, col, i].item()
    f_all = torch.cat(
        [f[:, bb.cols[ROLES[r]], i] for bb, (f, _) in zip(batches, codes, strict=True)]
    )
    return {
        "role": ROLES[r],
        "latent": i,
        "attribution": exact["attribution"],
        "exact": exact["exact"],
        "gap": round(gap, 4),
        "f_clean_first": round(f_clean, 3),
        "f_flip_first": round(f_corr, 3),
        "mean_f_clean": round(f_all.mean().item(), 3),
        "fires_on_clean": round((f_all > 0).float().mean().item(), 3),
    }


@torch.no_grad()
def dashboard(model, tok, sae, p, batches, codes, latents, args) -> list[dict]:
    """Top contexts in the SAE's corpus, top logit tokens, density, mean code per IOI role."""
    seen, picked = set(), []
    for i in latents:
        if i not in seen:
            seen.add(i)
            picked.append(i)
    picked = picked[: 2 if args.smoke else args.n_dash]
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
        ctxs = top_contexts(grid[..., j], 3, before=6, after=1)
        shown = []
        for c in ctxs:  # code position q is row token q + 1 (position 0 dropped)
            toks = rows[c.row][c.start + 1 : c.stop + 1]
            peak = c.pos - c.start
            words = [tok.decode([t]) for t in toks]
            words[peak] = f"[{words[peak]}]"
            shown.append("".join(words).replace("\n", "⏎"))
        lt = top_logit_tokens(eff[j], 5)
        role_mean = {
            r: round(
                sum(
                    f[:, b.cols[r], i].sum().item()
                    for b, (f, _) in zip(batches, codes, strict=True)
                )
                / sum(len(b.idx) for b in batches),
                3,
            )
            for r in ROLES
        }
        out.append(
            {
                "latent": i,
                "density": round(
                    (grid[..., j] > 0).float().sum().item() / max(int(keep.sum()), 1), 4
                ),
                "contexts": shown,
                "top_logits": [tok.decode([t]) for t in lt["top_ids"]],
                "mean_code_by_role": role_mean,
            }
        )
    return out


def ablation_curves(model, batches, saes, per_layer, top_heads, ks, args) -> dict:
    """LD on clean prompts with the top-k latent units / heads mean-ablated over abc."""
    clean = mean_ld(model, batches, "clean")
    abc = mean_ld(model, batches, "abc")
    z_means = {id(b): mean_z(model, b.abc, per_position=True) for b in batches}
    out = {"ks": ks, "clean": round(clean, 4), "abc": round(abc, 4), "heads": [], "latents": {}}
    for k in ks:
        v = mean_ld(
            model,
            batches,
            "clean",
            lambda b, k=k: head_ablation_hooks(top_heads[:k], z_means[id(b)]),
        )
        out["heads"].append(round(v, 4))
    gen = torch.Generator().manual_seed(args.seed)
    for layer, (sae, p) in saes.items():
        units = per_layer[layer]["units"]
        f_abc = {}
        with torch.no_grad():
            for b in batches:
                f_abc[id(b)] = run_spliced(model, sae, p.hook, b.abc, last_only=True)[1].mean(0)
        pool = per_layer[layer]["active"]  # random baseline: units active on clean prompts

        def run_units(chosen, layer_sae=sae, hook=p.hook, means=f_abc):
            def hooks_for(bt):
                cols = [(bt.cols[ROLES[r]], i) for r, i in chosen]
                mask = unit_mask(bt.clean.shape[1], layer_sae.cfg.d_sae, cols)
                return [(hook, splice_hook(layer_sae, replace_codes(means[id(bt)], mask)))]

            return round(mean_ld(model, batches, "clean", hooks_for), 4)

        top_curve = [run_units(units[:k]) for k in ks]
        rand = []
        for _ in range(1 if args.smoke else args.n_random):
            perm = torch.randperm(len(pool), generator=gen)
            rand.append([run_units([tuple(map(int, pool[j])) for j in perm[:k]]) for k in ks])
        out["latents"][str(layer)] = {"top": top_curve, "random": rand}
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
    roles = ("S1", "S2", "END")
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
