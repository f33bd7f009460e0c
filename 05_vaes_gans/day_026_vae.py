"""Day 26 — Variational autoencoders: train with the ELBO, report test ELBO in nats per image.

Trains `arena_core.generative.VAE` (the day-25 conv encoder/decoder; the encoder outputs a mean
and a log-variance, z is drawn with the reparameterisation trick) by minimising
-ELBO = Bernoulli NLL (BCE summed over the 784 [0, 1] pixels) + beta * closed-form KL to N(0, I),
on class-balanced subsets of each offline source. Two latent sizes per source: d = 2 (to draw the
latent space) and a larger d (a better bound). Reports the test ELBO (one z sample per image,
beta = 1, nats/image, Bernoulli likelihood), its NLL/KL split, how many latent dimensions carry
information (active: the posterior mean varies across test images) and, for d = 2, how the posterior
means spread. Figures: the mechanism (encoder -> mu, log sigma^2 -> z = mu + sigma * eps -> decoder,
with the KL to the prior, on the worked example's numbers), train -ELBO and test ELBO per epoch,
the test images' posterior means (2-D model), the decoder on a grid of z (2-D model),
interpolations between test images and samples from the prior (larger model).

Run:  arena run 26 [--smoke] [--publish] [--resume]   (or python 05_vaes_gans/day_026_vae.py)
Full run: ~3 min on 2 CPU cores (178 s in the published run). Smoke: ~8 s.
"""

import math
from dataclasses import dataclass

import torch
from matplotlib.figure import Figure
from matplotlib.patches import Circle, Ellipse, Rectangle

from arena_core.generative import VAE, evaluate_elbo, gaussian_kl, train_vae
from arena_core.generative.figures import image_grid, latent_scatter, load_sources, source_label
from arena_core.nn import sigmoid
from arena_core.utils import DayArgs, Run, run_script
from arena_core.utils.diagrams import arrow, box, canvas, finish, label, matrix


@dataclass
class Args(DayArgs):
    n_train: int = 10_000  # training images per source (class-balanced subset)
    n_test: int = 2_000  # test images per source (the ELBO is reported on these)
    steps: int = 400  # optimiser steps per model (epochs = steps / batches per epoch)
    big_latent: int = 16  # latent size of the second model (the first has 2)
    beta: float = 1.0  # weight of the KL term (1 = the true ELBO)
    batch_size: int = 128  # minibatch size
    lr: float = 2e-3  # Adam learning rate
    threads: int = 1  # torch threads (small convs on a busy machine: 1 is fastest)
    resume: bool = False  # continue from the checkpoints of an interrupted run


#: The worked example of the post: one image's posterior in d = 2 and one draw of eps.
EXAMPLE_MU = [1.0, -0.5]
EXAMPLE_SIGMA = [1.0, 0.5]
EXAMPLE_EPS = [0.5, 2.0]


def worked_example() -> dict[str, list[float]]:
    """mu, log sigma^2, eps, z = mu + sigma * eps and the KL per dimension (our gaussian_kl)."""
    mu = torch.tensor([EXAMPLE_MU], dtype=torch.float64)
    logvar = 2 * torch.tensor([EXAMPLE_SIGMA], dtype=torch.float64).log()
    eps = torch.tensor([EXAMPLE_EPS], dtype=torch.float64)
    z = mu + torch.exp(0.5 * logvar) * eps  # what `reparameterise` computes for this eps
    kl_dims = [gaussian_kl(mu[:, j : j + 1], logvar[:, j : j + 1]).item() for j in range(2)]
    return {
        "mu": mu[0].tolist(),
        "logvar": logvar[0].tolist(),
        "eps": eps[0].tolist(),
        "z": z[0].tolist(),
        "kl_dims": kl_dims,
        "kl": gaussian_kl(mu, logvar).item(),
    }


def mechanism_figure() -> Figure:
    """The VAE's forward pass on the worked example, and q(z|x) drawn against the prior."""
    ex = worked_example()
    fig, ax = canvas(width=15, height=8, scale=0.55)
    box(ax, (0, 5.0), "image x", width=1.6, height=1.0, role="input")
    arrow(ax, (1.6, 5.5), (2.3, 5.5))
    box(ax, (2.3, 5.0), "encoder", width=1.6, height=1.0)
    arrow(ax, (3.9, 5.75), (4.9, 6.55))
    arrow(ax, (3.9, 5.25), (4.9, 4.45))
    fmt = "{:.2f}"
    matrix(ax, ex["mu"], xy=(4.9, 6.1), title="mean μ", cmap=None, fmt=fmt, cell=0.9)
    matrix(ax, ex["logvar"], xy=(4.9, 4.0), title="log σ²", cmap=None, fmt=fmt, cell=0.9)
    matrix(ax, ex["eps"], xy=(9.0, 7.1), title="ε ~ N(0, I)", cmap=None, fmt=fmt, cell=0.9)
    box(ax, (8.6, 5.0), "z = μ + σ ⊙ ε", width=2.6, height=1.0)
    arrow(ax, (6.8, 6.55), (8.6, 5.75))
    arrow(ax, (6.8, 4.45), (8.6, 5.25))
    label(ax, (7.1, 4.1), "σ = exp(½ log σ²)", fontsize=9.5, ha="left", color="0.25")
    label(ax, (5.95, 2.95), "from μ and log σ²", fontsize=9.5, ha="left", color="0.25")
    arrow(ax, (9.9, 7.05), (9.9, 6.05))
    arrow(ax, (11.2, 5.5), (11.9, 5.5))
    matrix(ax, ex["z"], xy=(11.9, 5.05), title="z", cmap=None, fmt=fmt, cell=0.9)
    arrow(ax, (12.75, 5.05), (12.75, 3.65))
    box(ax, (11.4, 2.65), "decoder → pixel\nprobabilities", width=2.7, height=1.0)
    arrow(ax, (12.75, 2.65), (12.75, 1.75))
    box(ax, (10.9, 0.75), "reconstruction\n−log p(x | z)", width=3.7, height=1.0, role="output")
    arrow(ax, (5.8, 4.0), (5.8, 1.95))
    kl = ex["kl_dims"]
    box(ax, (4.2, 0.75), f"KL(q(z|x) ‖ N(0, I))\n= {kl[0]:.3f} + {kl[1]:.3f} = {ex['kl']:.3f} nats",
        width=4.6, height=1.2, role="param")  # fmt: skip
    label(ax, (9.85, 1.35), "+", fontsize=16)
    label(ax, (9.4, -0.45), "loss = reconstruction + β · KL   (β = 1: the negative ELBO)",
          fontsize=11)  # fmt: skip
    # the posterior q(z|x) against the prior, in z-space (1 unit of z = s cells)
    cx, cy, s = 1.75, 1.6, 0.55
    ax.add_patch(Rectangle((cx - 3 * s, cy - 3 * s), 6 * s, 6 * s, fill=False, ec="0.75", lw=0.8))
    ax.plot([cx - 3 * s, cx + 3 * s], [cy, cy], color="0.85", lw=0.8)
    ax.plot([cx, cx], [cy - 3 * s, cy + 3 * s], color="0.85", lw=0.8)
    for r in (1, 2):
        ax.add_patch(Circle((cx, cy), r * s, fill=False, ec="0.45", ls="--", lw=1.0))
    mu, sig, z = ex["mu"], EXAMPLE_SIGMA, ex["z"]
    for r in (1, 2):
        ax.add_patch(Ellipse((cx + mu[0] * s, cy + mu[1] * s), 2 * r * sig[0] * s,
                             2 * r * sig[1] * s, fill=False, ec="#d62728", lw=1.5))  # fmt: skip
    ax.plot([cx + mu[0] * s], [cy + mu[1] * s], "o", color="#d62728", ms=3.5)
    ax.plot([cx + z[0] * s], [cy + z[1] * s], "*", color="#1f77b4", ms=10)
    label(ax, (cx + z[0] * s + 0.12, cy + z[1] * s + 0.22), "z", fontsize=10, ha="left")
    label(ax, (cx, cy + 3 * s + 0.45), "z-space: q(z|x) red, prior grey\n(1σ and 2σ contours)",
          fontsize=9.5)  # fmt: skip
    finish(ax)
    return fig


@torch.no_grad()
def latent_grid(model: VAE, steps: int) -> torch.Tensor:
    """Decode z on a grid over [-2.5, 2.5]^2 (the prior's bulk), z2 increasing upwards."""
    a = torch.linspace(-2.5, 2.5, steps)
    grid = torch.stack(torch.meshgrid(a.flip(0), a, indexing="ij"), -1).flip(-1).reshape(-1, 2)
    return sigmoid(model.decode_logits(grid))


@torch.no_grad()
def interpolations(model: VAE, images: torch.Tensor, pairs: list[tuple[int, int]], steps: int):
    """Decode (1 - t) mu(a) + t mu(b) for t in [0, 1], one row per pair."""
    mu, _ = model.encode(images)
    t = torch.linspace(0, 1, steps).view(-1, 1)
    rows = [sigmoid(model.decode_logits((1 - t) * mu[a] + t * mu[b])) for a, b in pairs]
    return torch.cat(rows)


def main(args: Args) -> dict:
    with Run(day=26, args=args) as run:
        run.save_fig(mechanism_figure(), "mechanism")
        n_train, n_test = (256, 200) if args.smoke else (args.n_train, args.n_test)
        sources = load_sources(
            ("fashion_mnist", "mnist"), n_train, n_test, record=run.record_source
        )
        metrics: dict = {"likelihood": "Bernoulli (BCE summed over pixels)", "beta": args.beta}
        models, histories, means = {}, {}, {}
        for name, (train, test) in sources.items():
            run.record_source(f"data_{name}", f"{train.source}; {len(train)} train / "
                              f"{len(test)} test, class-balanced")  # fmt: skip
            for d in (2, args.big_latent):
                tag = f"{name}_d{d}"
                per_epoch = max(1, len(train) // args.batch_size)
                epochs = 1 if args.smoke else math.ceil(args.steps / per_epoch)
                model = VAE(latent_dim=d)
                ckpt = run.checkpoint_path(f"vae_{tag}.pt")
                if not args.resume:
                    ckpt.unlink(missing_ok=True)

                def track(epoch, history, model=model, test=test):
                    history.setdefault("test_elbo", []).append(
                        evaluate_elbo(model, test.images, seed=args.seed)["elbo"]
                    )

                history = train_vae(
                    model, train.images, epochs=epochs, lr=args.lr, beta=args.beta,
                    batch_size=args.batch_size, seed=args.seed, checkpoint_path=ckpt,
                    device=run.device, desc=f"VAE {tag}", on_epoch_end=track,
                )  # fmt: skip
                model.eval().cpu()
                stats = evaluate_elbo(model, test.images, seed=args.seed)
                models[tag], histories[tag] = model, history
                for key, value in stats.items():
                    metrics[f"{tag}_test_{key}"] = value
                metrics[f"{tag}_train_neg_elbo_last_epoch"] = history["neg_elbo"][-1]
                metrics[f"{tag}_train_seconds"] = sum(history["seconds"])
                metrics[f"{tag}_epochs"] = epochs
                with torch.no_grad():
                    mu, logvar = model.encode(test.images)
                means[tag] = mu
                # a dimension is "active" when its posterior mean moves with the image
                metrics[f"{tag}_active_dims"] = int((mu.var(dim=0) > 0.01).sum())
                if d == 2:
                    metrics[f"{tag}_test_mu_std"] = mu.std(dim=0).tolist()
                    metrics[f"{tag}_test_sigma_mean"] = logvar.mul(0.5).exp().mean(0).tolist()
                    # aggregate posterior variance per dimension: Var(mu) + E[sigma^2]
                    agg = mu.var(dim=0) + logvar.exp().mean(dim=0)
                    metrics[f"{tag}_aggregate_variance"] = agg.tolist()
                    inside = (mu.abs() <= 2.5).all(dim=1).double().mean()
                    metrics[f"{tag}_test_mu_inside_grid"] = float(inside)
                run.log(**metrics)
                run.print(f"{tag}: test ELBO {stats['elbo']:.1f} nats/image "
                          f"(NLL {stats['nll']:.1f}, KL {stats['kl']:.1f})")  # fmt: skip

        fig = Figure(figsize=(10, 3.9), dpi=120)
        ax1, ax2 = fig.subplots(1, 2)
        for tag, h in histories.items():
            name, d = tag.rsplit("_d", 1)
            style = {  # colour: the data; dashed circles: d = 2, solid squares: the larger d
                "color": "#1f77b4" if name == "fashion_mnist" else "#d62728",
                "ls": "--" if d == "2" else "-",
                "marker": "o" if d == "2" else "s",
                "ms": 4,
            }
            text = f"{source_label(name)}, d = {d}"
            ax1.plot(h["epoch"], h["neg_elbo"], label=text, **style)
            ax2.plot(h["epoch"], h["test_elbo"], label=text, **style)
        ax1.set_title("training loss (β = 1: the negative ELBO)")
        ax1.set_ylabel("−ELBO, epoch mean (nats/image)")
        ax2.set_title("test ELBO after each epoch (higher is better)")
        ax2.set_ylabel("ELBO (nats/image)")
        for ax in (ax1, ax2):
            ax.set_xlabel("epoch")
        ax2.legend(loc="lower right")
        fig.tight_layout()
        run.save_fig(fig, "elbo_curves")

        names = list(sources)
        fig = Figure(figsize=(5.2 * len(names), 4.3), dpi=120)
        for ax, name in zip(fig.subplots(1, len(names), squeeze=False)[0], names, strict=True):
            test = sources[name][1]
            title = f"{source_label(name)}, d = 2: posterior means μ"
            latent_scatter(means[f"{name}_d2"], test.labels, test.classes, title, ax)
            ax.add_patch(Rectangle((-2.5, -2.5), 5, 5, fill=False, ec="0.2", ls="--", lw=1.2))
        fig.tight_layout()
        run.save_fig(fig, "posterior_means")

        fig = Figure(figsize=(4.6 * len(names), 4.9), dpi=120)
        for ax, name in zip(fig.subplots(1, len(names), squeeze=False)[0], names, strict=True):
            image_grid(latent_grid(models[f"{name}_d2"], 15), nrow=15, ax=ax,
                       title=f"{source_label(name)}, d = 2: decoder on a 15×15 grid")  # fmt: skip
            ax.set_xlabel("$z_1$ from −2.5 (left) to 2.5 (right)")
            ax.set_ylabel("$z_2$ from −2.5 (bottom) to 2.5 (top)")
        fig.tight_layout()
        run.save_fig(fig, "latent_grid")

        fig = Figure(figsize=(8, 2.4 * len(names)), dpi=120)
        for ax, name in zip(fig.subplots(len(names), 1, squeeze=False)[:, 0], names, strict=True):
            test = sources[name][1]
            firsts = [int((test.labels == c).nonzero()[0]) for c in range(4)]
            pairs = [(firsts[0], firsts[1]), (firsts[2], firsts[3]), (firsts[1], firsts[3])]
            rows = interpolations(models[f"{name}_d{args.big_latent}"], test.images, pairs, 10)
            image_grid(rows, nrow=10, ax=ax,
                       title=f"{source_label(name)}, d = {args.big_latent}: decoding the straight "
                       "line between two test images' μ")  # fmt: skip
        fig.tight_layout()
        run.save_fig(fig, "interpolation")

        fig = Figure(figsize=(4.6 * len(names), 3.0), dpi=120)
        gen = torch.Generator().manual_seed(args.seed)
        for ax, name in zip(fig.subplots(1, len(names), squeeze=False)[0], names, strict=True):
            samples = models[f"{name}_d{args.big_latent}"].sample(40, generator=gen)
            title = f"{source_label(name)}, d = {args.big_latent}: decoded z ~ N(0, I)"
            image_grid(samples, nrow=10, ax=ax, title=title)
        fig.tight_layout()
        run.save_fig(fig, "prior_samples")
        return run.finish(metrics)


if __name__ == "__main__":
    run_script(main, Args)
