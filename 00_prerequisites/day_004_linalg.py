"""Day 4 — linear algebra in code: einsum products, a cosine-similarity matrix, PCA of real
digits via the SVD, and least squares by QR vs the normal equations.

On sklearn's bundled 8x8 digits (`arena_core.data.load_digits`):
- einsum trace/mv/mm/inner/outer/bmm (`arena_core.tensors.linalg`) vs torch's own functions;
- the cosine-similarity matrix of 200 test digits sorted by class (heatmap with a visible block
  structure), vs `F.cosine_similarity`;
- PCA via SVD: a 2-D scatter of the training digits and the cumulative explained variance,
  vs `sklearn.decomposition.PCA`;
- least squares: a linear classifier fitted in closed form on the top PCA components
  (QR, normal equations and `torch.linalg.lstsq` agree), and a polynomial-fitting experiment that
  shows the normal equations losing twice the digits as the condition number grows.

Run:  arena run 4 [--smoke] [--publish]   (or python 00_prerequisites/day_004_linalg.py)
Full run: ~10 s on 2 CPU cores. Smoke: ~4 s.
"""

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from matplotlib.figure import Figure

from arena_core.data import load_digits
from arena_core.tensors import linalg as L
from arena_core.utils import DayArgs, Run, run_script


@dataclass
class Args(DayArgs):
    per_class: int = 20  # test digits per class in the similarity heatmap
    components: int = 40  # PCA components used as features for the least-squares classifier
    max_degree: int = 14  # largest polynomial degree in the conditioning experiment


def max_err(a: torch.Tensor, b: torch.Tensor) -> float:
    return (a.double() - b.double()).abs().max().item()


def einsum_checks(gen: torch.Generator) -> float:
    a = torch.randn(7, 5, generator=gen, dtype=torch.float64)
    b = torch.randn(5, 3, generator=gen, dtype=torch.float64)
    sq = torch.randn(6, 6, generator=gen, dtype=torch.float64)
    v, w = a[0], b[:, 0]
    ba, bb = torch.randn(4, 7, 5, generator=gen, dtype=torch.float64), b.expand(4, 5, 3)
    return max(
        max_err(L.trace(sq), torch.trace(sq)),
        max_err(L.mv(a, w), a @ w),
        max_err(L.mm(a, b), a @ b),
        max_err(L.inner(v, v), torch.dot(v, v)),
        max_err(L.outer(v, w), torch.outer(v, w)),
        max_err(L.batched_mm(ba, bb), torch.bmm(ba, bb.contiguous())),
        max_err(L.batched_mv(ba, bb[:, :, 0]), (ba @ bb[:, :, :1])[..., 0]),
    )


def similarity_figure(images: torch.Tensor, labels: torch.Tensor, per_class: int):
    picked = torch.cat([torch.nonzero(labels == c)[:per_class, 0] for c in range(10)])
    x = images[picked].flatten(1).double()
    y = labels[picked]
    sim = L.cosine_similarity_matrix(x, x)
    ref = F.cosine_similarity(x[:, None], x[None], dim=-1)
    same = y[:, None] == y[None]
    off_diag = ~torch.eye(len(y), dtype=torch.bool)
    within = sim[same & off_diag].mean().item()
    between = sim[~same].mean().item()
    fig = Figure(figsize=(6.2, 5.2))
    ax = fig.subplots()
    im = ax.imshow(sim.numpy(), cmap="viridis", vmin=0.2, vmax=1, interpolation="nearest")
    ticks = [per_class * c + per_class / 2 for c in range(10)]
    ax.set_xticks(ticks, [str(c) for c in range(10)])
    ax.set_yticks(ticks, [str(c) for c in range(10)])
    ax.set_xlabel("digit class")
    ax.set_title(f"Cosine similarity of {len(y)} test digits (sorted by class)")
    fig.colorbar(im, ax=ax, fraction=0.046)
    return fig, {
        "cosine_sim_vs_torch_max_abs_err": max_err(sim, ref),
        "cosine_sim_mean_within_class": within,
        "cosine_sim_mean_between_class": between,
    }


def pca_figure(train: torch.Tensor, labels: torch.Tensor):
    from sklearn.decomposition import PCA

    x = train.flatten(1).double()
    full = L.pca(x, min(x.shape))
    ref = PCA(svd_solver="full").fit(x.numpy())
    ratio_err = max_err(
        full.explained_variance_ratio, torch.from_numpy(ref.explained_variance_ratio_)
    )
    cumulative = full.explained_variance_ratio.cumsum(0)
    k90 = int((cumulative < 0.9).sum().item()) + 1
    fig = Figure(figsize=(11, 4.4))
    ax1, ax2 = fig.subplots(1, 2, width_ratios=[1.3, 1])
    proj = full.projection[:, :2].numpy()
    for c in range(10):
        pts = proj[(labels == c).numpy()]
        ax1.scatter(pts[:, 0], pts[:, 1], s=6, alpha=0.6, label=str(c), color=f"C{c}")
        centre = pts.mean(0)
        ax1.text(
            centre[0],
            centre[1],
            str(c),
            fontsize=14,
            weight="bold",
            color=f"C{c}",
            ha="center",
            va="center",
            bbox=dict(facecolor="white", alpha=0.7, lw=0),
        )
    ev = full.explained_variance_ratio
    ax1.set_xlabel(f"PC 1 ({ev[0]:.1%} of variance)")
    ax1.set_ylabel(f"PC 2 ({ev[1]:.1%} of variance)")
    ax1.set_title(f"{len(x)} training digits projected on 2 principal components")
    ax2.plot(range(1, len(cumulative) + 1), cumulative.numpy(), marker=".")
    ax2.axhline(0.9, color="gray", ls="--")
    ax2.axvline(k90, color="gray", ls="--")
    ax2.text(k90 + 1, 0.5, f"{k90} components\nexplain 90%", fontsize=9)
    ax2.set_xlabel("number of components")
    ax2.set_ylabel("cumulative explained variance")
    ax2.set_title("Explained variance (SVD of the centred data)")
    ax2.grid(True, alpha=0.3)
    return (
        fig,
        full,
        {
            "pca_explained_variance_ratio_vs_sklearn_max_abs_err": ratio_err,
            "pca_top2_explained_variance": float(ev[:2].sum()),
            "pca_components_for_90pct_variance": k90,
        },
    )


def least_squares_classifier(train, test, k: int) -> dict[str, float]:
    """One-hot targets regressed on [top-k PCA coordinates, 1]; predict the argmax."""
    x_tr = train.images.flatten(1).double()
    basis = L.pca(x_tr, k)
    x_te = test.images.flatten(1).double()

    def features(x):
        z = (x - basis.mean) @ basis.components.T
        return torch.cat([z, torch.ones(len(z), 1, dtype=z.dtype)], dim=1)

    a, targets = features(x_tr), F.one_hot(train.labels, 10).double()
    w_qr = L.lstsq_qr(a, targets)
    w_ne = L.lstsq_normal(a, targets)
    w_ref = torch.linalg.lstsq(a, targets).solution
    acc = (features(x_te) @ w_qr).argmax(1).eq(test.labels).double().mean().item()
    return {
        "lstsq_classifier_test_accuracy": acc,
        "lstsq_qr_vs_torch_lstsq_max_abs_err": max_err(w_qr, w_ref),
        "lstsq_normal_vs_torch_lstsq_max_abs_err": max_err(w_ne, w_ref),
        "lstsq_feature_condition_number": torch.linalg.cond(a).item(),
    }


def conditioning_figure(max_degree: int, gen: torch.Generator):
    """Fit exact polynomial data sum_p x_p t^p on [0, 1]: the true coefficients are known."""
    t = torch.linspace(0, 1, 60, dtype=torch.float64)
    rows = []
    for degree in range(1, max_degree + 1):
        a = torch.stack([t**p for p in range(degree + 1)], dim=1)
        x_true = torch.randn(degree + 1, generator=gen, dtype=torch.float64)
        b = a @ x_true
        errs = {}
        for name, solve in (
            ("QR", L.lstsq_qr),
            ("normal equations", L.lstsq_normal),
            ("torch.linalg.lstsq", lambda a, b: torch.linalg.lstsq(a, b[:, None]).solution[:, 0]),
        ):
            try:
                errs[name] = max_err(solve(a, b), x_true) / x_true.abs().max().item()
            except RuntimeError:  # Cholesky fails once a^T a is numerically singular
                errs[name] = float("nan")
        rows.append((degree, torch.linalg.cond(a).item(), errs))
    fig = Figure(figsize=(6.4, 4.2))
    ax = fig.subplots()
    conds = [r[1] for r in rows]
    for name in rows[0][2]:
        ax.loglog(conds, [max(r[2][name], 1e-17) for r in rows], marker="o", label=name)
    ax.loglog(conds, [c * 1.1e-16 for c in conds], "k:", label="cond(A) x eps")
    ax.loglog(conds, [c**2 * 1.1e-16 for c in conds], "k--", label="cond(A)^2 x eps")
    ax.set_ylim(1e-17, 1e3)
    ax.set_xlabel(f"condition number of A (polynomial degree 1 ... {max_degree})")
    ax.set_ylabel("relative error of fitted coefficients")
    ax.set_title("Least squares: QR vs normal equations")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    ok = [r for r in rows if r[2]["normal equations"] == r[2]["normal equations"]]  # not NaN
    failed = [r[0] for r in rows if r not in ok]
    last = ok[-1]
    if failed:
        ax.text(
            conds[-1],
            1e-16,
            f"Cholesky of A^T A fails at degree {failed[0]}",
            ha="right",
            fontsize=8,
            color="C1",
        )
    return fig, {
        "polyfit_max_condition_number": rows[-1][1],
        "polyfit_qr_rel_err_at_max_degree": rows[-1][2]["QR"],
        "polyfit_last_degree_normal_eq_solves": last[0],
        "polyfit_condition_number_there": last[1],
        "polyfit_qr_rel_err_there": last[2]["QR"],
        "polyfit_normal_eq_rel_err_there": last[2]["normal equations"],
        "polyfit_first_degree_normal_eq_fails": failed[0] if failed else -1,
    }


def main(args: Args) -> dict:
    if args.smoke:
        args.per_class, args.components, args.max_degree = 4, 10, 6
    with Run(day=4, args=args) as run:
        train, test = load_digits("train"), load_digits("test")
        run.record_source("data", train.source)
        metrics = {"einsum_ops_vs_torch_max_abs_err": einsum_checks(run.generator)}
        fig, m = similarity_figure(test.images, test.labels, args.per_class)
        run.save_fig(fig, "cosine_similarity")
        metrics |= m
        fig, _, m = pca_figure(train.images, train.labels)
        run.save_fig(fig, "pca_digits")
        metrics |= m
        metrics |= least_squares_classifier(train, test, args.components)
        fig, m = conditioning_figure(args.max_degree, run.generator)
        run.save_fig(fig, "lstsq_conditioning")
        metrics |= m
        return run.finish(metrics)


if __name__ == "__main__":
    run_script(main, Args)
