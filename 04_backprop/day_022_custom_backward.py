"""Day 22 — Custom backward passes with `torch.autograd.Function`.

Three custom Functions from `arena_core.autograd.torch_functions`, each checked with
torch.autograd.gradcheck in float64:
1. stability: softplus and log-sum-exp that stay finite where the naive formulas overflow
   (values and gradients over x in [-200, 200] in float32);
2. a made-up gradient: the straight-through estimator lets a model with *rounded* weights learn
   integer weights, where torch.round's true (zero) gradient learns nothing;
3. memory: gradient checkpointing of a deep tanh MLP, bytes saved for backward and time per
   step against depth, with the gradients unchanged.

Run:  arena run 22 [--smoke] [--publish]   (or python 04_backprop/day_022_custom_backward.py)
Full run: ~5 s on 2 CPU cores. Smoke: ~4 s.
"""

import time
from dataclasses import dataclass

import numpy as np
import torch
from matplotlib.figure import Figure

from arena_core.autograd.torch_functions import (
    checkpoint,
    checkpoint_sequential,
    logsumexp,
    saved_tensor_bytes,
    softplus,
    straight_through_round,
)
from arena_core.utils import DayArgs, Run, run_script


@dataclass
class Args(DayArgs):
    ste_steps: int = 300  # optimisation steps of the quantised regression
    width: int = 256  # width of the checkpointing MLP
    batch: int = 256  # batch of the checkpointing MLP
    max_depth: int = 32  # deepest MLP in the checkpointing sweep


def gradchecks() -> dict[str, bool]:
    x = torch.randn(5, 7, dtype=torch.float64, requires_grad=True)
    w = (0.3 * torch.randn(7, 7, dtype=torch.float64)).requires_grad_()
    layer = lambda h, w: torch.tanh(h @ w)  # noqa: E731
    return {
        "gradcheck_softplus": torch.autograd.gradcheck(softplus, (x,)),
        "gradcheck_logsumexp": torch.autograd.gradcheck(logsumexp, (x,)),
        "gradcheck_checkpoint": torch.autograd.gradcheck(
            lambda x, w: checkpoint(lambda a, b: layer(layer(a, b), b), x, w), (x, w)
        ),
    }


def stability_figure() -> tuple[Figure, dict]:
    x = torch.linspace(-200, 200, 801, requires_grad=True)  # float32: e^x overflows past ~88.7
    naive = torch.log(1 + torch.exp(x))
    (g_naive,) = torch.autograd.grad(naive.sum(), x)
    ours = softplus(x)
    (g_ours,) = torch.autograd.grad(ours.sum(), x)
    fig = Figure(figsize=(10, 3.6))
    ax_v, ax_g = fig.subplots(1, 2)
    xs = x.detach().numpy()
    for ax, a, b, what in [(ax_v, naive, ours, "value"), (ax_g, g_naive, g_ours, "gradient")]:
        a, b = a.detach().numpy(), b.detach().numpy()
        ax.plot(xs, np.where(np.isfinite(a), a, np.nan), lw=3, alpha=0.5, label="naive log(1+e^x)")
        ax.plot(xs, b, "k--", lw=1, label="our Softplus Function")
        bad = ~np.isfinite(a)
        if bad.any():
            ax.axvspan(xs[bad].min(), xs[bad].max(), color="red", alpha=0.1, label="naive: inf/nan")
        ax.set(title=f"softplus {what} (float32)", xlabel="x")
        ax.legend(fontsize=8)
    fig.tight_layout()
    big = torch.tensor([[1000.0, 999.0, -1000.0]])
    stats = {
        "naive_softplus_nonfinite_points": int((~torch.isfinite(naive)).sum()),
        "naive_softplus_grad_nonfinite_points": int((~torch.isfinite(g_naive)).sum()),
        "softplus_nonfinite_points": int((~torch.isfinite(ours)).sum()),
        "naive_logsumexp_overflows": bool(torch.isinf(torch.log(torch.exp(big).sum()))),
        "logsumexp_at_1000": float(logsumexp(big)),
    }
    return fig, stats


def quantised_regression(steps: int, use_ste: bool, seed: int) -> list[float]:
    """Fit y = X w_true (integer w_true) with a model whose weights are rounded in the forward."""
    gen = torch.Generator().manual_seed(seed)
    X = torch.randn(256, 8, generator=gen)
    w_true = torch.randint(-3, 4, (8,), generator=gen).float()
    y = X @ w_true
    w = torch.zeros(8, requires_grad=True)
    opt = torch.optim.SGD([w], lr=0.05)
    losses = []
    for _ in range(steps):
        w_q = straight_through_round(w) if use_ste else torch.round(w)
        loss = ((X @ w_q - y) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


def checkpoint_sweep(depths, width: int, batch: int, seed: int) -> dict[str, list[float]]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _sweep(depths, width, batch, seed)
    finally:
        torch.set_num_threads(threads)


def _sweep(depths, width: int, batch: int, seed: int) -> dict[str, list[float]]:
    gen = torch.Generator().manual_seed(seed)
    layer = lambda h, w: torch.tanh(h @ w)  # noqa: E731
    out = {
        "depth": [],
        "plain_mb": [],
        "ckpt_mb": [],
        "plain_ms": [],
        "ckpt_ms": [],
        "grad_diff": [],
    }
    for depth in depths:
        x = torch.randn(batch, width, generator=gen)
        ws = [(torch.randn(width, width, generator=gen) / width**0.5).requires_grad_()
              for _ in range(depth)]  # fmt: skip
        segment = max(1, round(depth**0.5))  # sqrt(n) segments: Chen et al.'s sweet spot

        def plain(x=x, ws=ws):
            h = x
            for w in ws:
                h = layer(h, w)
            return h.square().mean()

        def ckpt(x=x, ws=ws, segment=segment):
            return checkpoint_sequential(layer, x, ws, segment).square().mean()

        grads = {}
        for name, fn in [("plain", plain), ("ckpt", ckpt)]:
            out[f"{name}_mb"].append(saved_tensor_bytes(fn) / 2**20)
            # CPU time of one thread: on a shared machine, wall time mostly measures the neighbours
            start = time.process_time()
            for _ in range(3):
                grads[name] = torch.autograd.grad(fn(), ws)
            out[f"{name}_ms"].append((time.process_time() - start) / 3 * 1e3)
        diff = max(
            (a - b).abs().max().item() for a, b in zip(grads["plain"], grads["ckpt"], strict=True)
        )
        out["depth"].append(depth)
        out["grad_diff"].append(diff)
    return out


def ste_and_memory_figure(ste, plain, sweep) -> Figure:
    fig = Figure(figsize=(11, 3.8))
    ax_ste, ax_mem, ax_t = fig.subplots(1, 3)
    ax_ste.semilogy(np.maximum(ste, 1e-12), label="straight-through round")
    ax_ste.semilogy(plain, label="torch.round (true gradient = 0)")
    ax_ste.set(title="rounded-weight regression", xlabel="SGD step", ylabel="MSE (floored 1e-12)")
    ax_ste.legend(fontsize=8)
    ax_mem.plot(sweep["depth"], sweep["plain_mb"], "o-", label="plain")
    ax_mem.plot(sweep["depth"], sweep["ckpt_mb"], "s-", label="checkpoint, sqrt(n) segments")
    ax_mem.set(title="tensors saved for backward", xlabel="depth (layers)", ylabel="MiB")
    ax_mem.legend(fontsize=8)
    ax_t.plot(sweep["depth"], sweep["plain_ms"], "o-", label="plain")
    ax_t.plot(sweep["depth"], sweep["ckpt_ms"], "s-", label="checkpoint")
    ax_t.set(title="forward + backward, 1 thread", xlabel="depth (layers)", ylabel="CPU ms")
    ax_t.legend(fontsize=8)
    fig.tight_layout()
    return fig


def main(args: Args) -> dict:
    with Run(day=22, args=args) as run:
        run.record_source("data", "synthetic tensors (torch.Generator seeded)")
        smoke = args.smoke
        checks = gradchecks()
        fig, stability = stability_figure()
        run.save_fig(fig, "softplus_stability")

        steps = 30 if smoke else args.ste_steps
        ste = quantised_regression(steps, use_ste=True, seed=args.seed)
        plain = quantised_regression(steps, use_ste=False, seed=args.seed)
        depths = [2, 4] if smoke else [2, 4, 8, 16, args.max_depth]
        width, batch = (32, 64) if smoke else (args.width, args.batch)
        sweep = checkpoint_sweep(depths, width, batch, args.seed)
        run.save_fig(ste_and_memory_figure(ste, plain, sweep), "ste_and_checkpointing")

        return run.finish(
            {
                **checks,
                **stability,
                "ste_final_mse": ste[-1],
                "round_final_mse": plain[-1],
                "checkpoint_depths": sweep["depth"],
                "checkpoint_saved_mib_plain": sweep["plain_mb"],
                "checkpoint_saved_mib_ckpt": sweep["ckpt_mb"],
                "checkpoint_ms_plain": sweep["plain_ms"],
                "checkpoint_ms_ckpt": sweep["ckpt_ms"],
                "checkpoint_max_grad_diff": max(sweep["grad_diff"]),
            }
        )


if __name__ == "__main__":
    run_script(main, Args)
