"""Day 4 — linear algebra in code: einsum products, a cosine-similarity matrix, PCA of real
digits via the SVD, and least squares by QR vs the normal equations.

The post is about least squares: why QR keeps digits that the normal equations lose.
- mechanism: the 3x2 matrix A = [[1, 1], [d, 0], [0, d]] with d = 1e-9 (Lauchli's example). Its
  A^T A = [[1 + d^2, 1], [1, 1 + d^2]] rounds to the singular [[1, 1], [1, 1]], so the Cholesky
  solve fails, while QR keeps d in R and recovers x = (1, 1);
- a polynomial-fitting experiment on [0, 1] with known coefficients (degree 1 ... 14): the error of
  the normal equations grows like cond(A)^2 eps, QR's like cond(A) eps;
- a control on sklearn's bundled 8x8 digits (`arena_core.data.load_digits`): a linear classifier
  fitted in closed form on the top PCA components, where cond(A) is small and all solvers agree.
Metrics only (no figure): einsum trace/mv/mm/inner/outer/bmm vs torch; the cosine-similarity
matrix of 200 test digits vs `F.cosine_similarity` (within- vs between-class means); PCA via SVD
vs `sklearn.decomposition.PCA`.

Run:  arena run 4 [--smoke] [--publish]   (or python 00_prerequisites/day_004_linalg.py)
Full run: ~10 s on 2 CPU cores. Smoke: ~4 s.
"""

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from arena_core.data import load_digits
from arena_core.tensors import linalg as L
from arena_core.utils import DayArgs, Run, run_script
from arena_core.utils.diagrams import PALETTE, arrow, canvas, finish, label


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


def similarity_metrics(images: torch.Tensor, labels: torch.Tensor, per_class: int) -> dict:
    """Cosine-similarity matrix of `per_class` test digits per class, vs F.cosine_similarity."""
    picked = torch.cat([torch.nonzero(labels == c)[:per_class, 0] for c in range(10)])
    x = images[picked].flatten(1).double()
    y = labels[picked]
    sim = L.cosine_similarity_matrix(x, x)
    ref = F.cosine_similarity(x[:, None], x[None], dim=-1)
    same = y[:, None] == y[None]
    off_diag = ~torch.eye(len(y), dtype=torch.bool)
    return {
        "cosine_sim_vs_torch_max_abs_err": max_err(sim, ref),
        "cosine_sim_mean_within_class": sim[same & off_diag].mean().item(),
        "cosine_sim_mean_between_class": sim[~same].mean().item(),
    }


def pca_metrics(train: torch.Tensor) -> dict:
    """PCA of the training digits via the SVD, vs sklearn."""
    from sklearn.decomposition import PCA

    x = train.flatten(1).double()
    full = L.pca(x, min(x.shape))
    ref = PCA(svd_solver="full").fit(x.numpy())
    ratio_err = max_err(
        full.explained_variance_ratio, torch.from_numpy(ref.explained_variance_ratio_)
    )
    cumulative = full.explained_variance_ratio.cumsum(0)
    return {
        "pca_explained_variance_ratio_vs_sklearn_max_abs_err": ratio_err,
        "pca_top2_explained_variance": float(full.explained_variance_ratio[:2].sum()),
        "pca_components_for_90pct_variance": int((cumulative < 0.9).sum().item()) + 1,
    }


def text_matrix(
    ax,
    rows: list[list[str]],
    xy: tuple[float, float],
    w: float,
    h: float,
    title: str,
    role: str = "neutral",
) -> None:
    """A small grid of text cells (symbols such as "1 + δ²" that `matrix` can't show)."""
    x0, y0 = xy
    for i, row in enumerate(rows):
        for j, text in enumerate(row):
            x, y = x0 + j * w, y0 + (len(rows) - 1 - i) * h
            face = PALETTE[role] if role != "neutral" else "white"
            ax.add_patch(Rectangle((x, y), w, h, facecolor=face, edgecolor="0.4", lw=0.8))
            ax.text(x + w / 2, y + h / 2, text, ha="center", va="center", fontsize=10)
    ax.text(
        x0 + len(rows[0]) * w / 2,
        y0 + len(rows) * h + 0.15,
        title,
        ha="center",
        va="bottom",
        fontsize=10.5,
        fontweight="bold",
    )


def mechanism_figure(delta: float = 1e-9) -> tuple[Figure, dict]:
    """Lauchli's matrix: A^T A rounds to a singular matrix, QR keeps the small entries in R."""
    a = torch.tensor([[1.0, 1.0], [delta, 0.0], [0.0, delta]], dtype=torch.float64)
    b = a @ torch.ones(2, dtype=torch.float64)  # exact solution x = (1, 1)
    gram = a.T @ a
    try:
        L.lstsq_normal(a, b)
        normal_fails = False
    except RuntimeError:  # torch.linalg.LinAlgError: A^T A is not positive definite
        normal_fails = True
    q, r = torch.linalg.qr(a, mode="reduced")
    qtb = q.T @ b
    x_qr = L.lstsq_qr(a, b)

    def num(v: float) -> str:
        return f"{v:.3g}".replace("-", "−")

    fig, ax = canvas(width=19, height=9, scale=0.45)
    text_matrix(ax, [["1", "1"], ["δ", "0"], ["0", "δ"]], (0, 2.7), 1.2, 0.9, "A,  δ = 1e-9")
    label(ax, (1.2, 2.1), "b = A·(1, 1) = (2, δ, δ)", fontsize=10)
    # top route: the normal equations
    arrow(ax, (2.6, 5.5), (4.6, 6.9), "form AᵀA", curve=-0.2, text_offset=(-0.7, 0.1))
    text_matrix(ax, [["1 + δ²", "1"], ["1", "1 + δ²"]], (4.8, 6.4), 1.7, 0.9, "AᵀA, exact")
    arrow(ax, (8.4, 7.3), (10.0, 7.3), "round")
    stored = [[num(v) for v in row] for row in gram.tolist()]
    text_matrix(ax, stored, (10.2, 6.4), 0.9, 0.9, "AᵀA, float64")
    arrow(ax, (12.1, 7.3), (13.7, 7.3), "Cholesky")
    verdict = "fails: the matrix\nis singular" if normal_fails else "solves"
    label(ax, (13.9, 7.3), verdict, fontsize=10.5, color="#d62728", ha="left")
    label(
        ax,
        (9.2, 5.6),
        "1 + δ² = 1 + 1e-18 rounds to 1 in float64: δ is gone",
        fontsize=10,
        color="#d62728",
    )
    # bottom route: QR
    arrow(ax, (2.6, 3.1), (4.6, 1.5), "A = QR", curve=0.2, text_offset=(0.6, -0.2))
    text_matrix(ax, [[num(v) for v in row] for row in r.tolist()], (4.8, 0.4), 1.9, 0.9, "R")
    text_matrix(ax, [[num(v)] for v in qtb.tolist()], (9.3, 0.4), 1.9, 0.9, "Qᵀb")
    arrow(ax, (11.5, 1.3), (14.1, 1.3), "back-substitute", text_offset=(0.1, 0.18))
    text_matrix(ax, [[f"{v:.6g}"] for v in x_qr.tolist()], (14.3, 0.4), 1.0, 0.9, "x", "output")
    label(ax, (8.0, -0.4), "R keeps δ (its last entry is √2·δ): QR never forms δ·δ", fontsize=10)
    finish(ax)
    return fig, {
        "example_delta": delta,
        "example_gram_entry_minus_1": (gram[0, 0] - 1).item(),
        "example_normal_equations_fail": normal_fails,
        "example_cond_a": torch.linalg.cond(a).item(),
        "example_r_22": r[1, 1].item(),
        "example_qr_max_abs_err": (x_qr - 1).abs().max().item(),
    }


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
    ax.loglog(conds, [c * 1.1e-16 for c in conds], "k:", label=r"$\kappa(A)\,\varepsilon$")
    ax.loglog(conds, [c**2 * 1.1e-16 for c in conds], "k--", label=r"$\kappa(A)^2\,\varepsilon$")
    ax.set_ylim(1e-17, 1e3)
    ax.set_xlabel(rf"condition number $\kappa(A)$ (polynomial degree 1 to {max_degree})")
    ax.set_ylabel("relative error of fitted coefficients")
    ax.set_title("Fitting a polynomial: QR vs normal equations")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="upper left")
    ok = [r for r in rows if r[2]["normal equations"] == r[2]["normal equations"]]  # not NaN
    failed = [r[0] for r in rows if r not in ok]
    last = ok[-1]
    if failed:
        ax.text(
            conds[-1],
            1e-16,
            rf"Cholesky of $A^\top A$ fails from degree {failed[0]} on",
            ha="right",
            fontsize=9.5,
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
        einsum_err = einsum_checks(run.generator)  # first: the generator order fixes the data
        fig, example = mechanism_figure()
        run.save_fig(fig, "mechanism")
        fig, metrics = conditioning_figure(args.max_degree, run.generator)
        run.save_fig(fig, "lstsq_conditioning")
        metrics |= example
        metrics |= least_squares_classifier(train, test, args.components)
        metrics |= {"einsum_ops_vs_torch_max_abs_err": einsum_err}
        metrics |= similarity_metrics(test.images, test.labels, args.per_class)
        metrics |= pca_metrics(train.images)
        return run.finish(metrics)


if __name__ == "__main__":
    run_script(main, Args)
