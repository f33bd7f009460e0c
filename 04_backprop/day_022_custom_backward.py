"""Day 22 — Custom backward passes with `torch.autograd.Function`.

Three custom Functions from `arena_core.autograd.torch_functions`, each checked with
torch.autograd.gradcheck in float64:
1. stability: softplus and log-sum-exp that stay finite where the naive formulas overflow
   (values and gradients over x in [-200, 200] in float32);
2. a made-up gradient: the straight-through estimator lets a model with *rounded* weights learn
   integer weights, where torch.round's true (zero) gradient learns nothing;
3. memory: gradient checkpointing of a deep tanh MLP, activations kept for backward and CPU time
   per step against depth, with the gradients unchanged.
The figures are about checkpointing (the mechanism diagram: which activations a 9-layer chain
keeps, plain and in 3 blocks of 3; the sweep); 1 and 2 are reported in metrics.json.

Run:  arena run 22 [--smoke] [--publish]   (or python 04_backprop/day_022_custom_backward.py)
Full run: ~5 s on 2 CPU cores. Smoke: ~4 s.
"""

import time
from dataclasses import dataclass

import torch
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from arena_core.autograd.torch_functions import (
    checkpoint,
    checkpoint_sequential,
    logsumexp,
    saved_activation_bytes,
    softplus,
    straight_through_round,
)
from arena_core.utils import DayArgs, Run, diagrams, run_script
from arena_core.utils.diagrams import PALETTE


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


def stability_stats() -> dict:
    """Where the naive softplus and logsumexp overflow in float32, and ours do not."""
    x = torch.linspace(-200, 200, 801, requires_grad=True)  # float32: e^x overflows past ~88.7
    naive = torch.log(1 + torch.exp(x))
    (g_naive,) = torch.autograd.grad(naive.sum(), x)
    ours = softplus(x)
    big = torch.tensor([[1000.0, 999.0, -1000.0]])
    return {
        "naive_softplus_nonfinite_points": int((~torch.isfinite(naive)).sum()),
        "naive_softplus_grad_nonfinite_points": int((~torch.isfinite(g_naive)).sum()),
        "softplus_nonfinite_points": int((~torch.isfinite(ours)).sum()),
        "naive_logsumexp_overflows": bool(torch.isinf(torch.log(torch.exp(big).sum()))),
        "logsumexp_at_1000": float(logsumexp(big)),
    }


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
            out[f"{name}_mb"].append(saved_activation_bytes(fn) / 2**20)
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


def memory_figure(sweep) -> Figure:
    fig = Figure(figsize=(10, 3.9))
    ax_mem, ax_t = fig.subplots(1, 2)
    ax_mem.plot(sweep["depth"], sweep["plain_mb"], "o-", label="plain: every activation")
    ax_mem.plot(sweep["depth"], sweep["ckpt_mb"], "s-", label="checkpointed, √n blocks")
    ax_mem.set(title="activations kept for backward", xlabel="depth (layers)", ylabel="MiB")
    ax_mem.legend(loc="upper left")
    ax_t.plot(sweep["depth"], sweep["plain_ms"], "o-", label="plain")
    ax_t.plot(sweep["depth"], sweep["ckpt_ms"], "s-", label="checkpointed")
    ax_t.set(title="one forward + backward, one thread", xlabel="depth (layers)",
             ylabel="CPU time (ms)")  # fmt: skip
    ax_t.legend(loc="upper left")
    fig.tight_layout()
    return fig


def worked_example(depth: int = 9, width: int = 256, batch: int = 256, seed: int = 0) -> dict:
    """Activations kept by a 9-layer tanh MLP, plain and in 3 checkpointed blocks of 3."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, width, generator=gen)
    ws = [torch.randn(width, width, generator=gen).requires_grad_() for _ in range(depth)]
    layer = lambda h, w: torch.tanh(h @ w)  # noqa: E731
    segment = round(depth**0.5)

    def plain():
        h = x
        for w in ws:
            h = layer(h, w)
        return h.square().mean()

    def ckpt():
        return checkpoint_sequential(layer, x, ws, segment).square().mean()

    return {
        "depth": depth,
        "segment": segment,
        "activation_kib": batch * width * 4 / 2**10,
        "plain_mib": saved_activation_bytes(plain) / 2**20,
        "ckpt_mib": saved_activation_bytes(ckpt) / 2**20,
    }


def mechanism_figure(ex: dict) -> Figure:
    """A 9-layer chain, plain and checkpointed: which activations stay alive until backward."""
    depth, seg = ex["depth"], ex["segment"]
    step = 2.0  # one activation square + one layer box
    fig, ax = diagrams.canvas(width=step * depth + 3, height=9, scale=0.45)
    red = "#b03a2e"

    def chain(y: float, kept) -> None:
        for i in range(depth + 1):
            x0 = i * step
            name = "x" if i == 0 else f"h{i}"
            keep = kept(i)
            ax.add_patch(Rectangle((x0, y), 0.6, 0.6, facecolor=PALETTE["highlight"] if keep
                                   else "white", edgecolor="0.3" if keep else "0.6",
                                   ls="-" if keep else "--", lw=1.2))  # fmt: skip
            diagrams.label(ax, (x0 + 0.3, y - 0.35), name, fontsize=9.5)
            if i < depth:
                diagrams.box(ax, (x0 + 0.85, y - 0.1), f"L{i + 1}", width=0.9, height=0.8,
                             role="op", fontsize=9.5)  # fmt: skip
                diagrams.arrow(ax, (x0 + 0.6, y + 0.3), (x0 + 0.85, y + 0.3))
                diagrams.arrow(ax, (x0 + 1.75, y + 0.3), (x0 + 2.0, y + 0.3))

    right = depth * step + 0.9
    # plain
    chain(6.5, lambda i: True)
    diagrams.label(ax, (0, 7.75), "plain: every activation stays in memory until backward uses "
                   "it", fontsize=11, ha="left", fontweight="bold")  # fmt: skip
    n_plain = depth + 1
    diagrams.label(ax, (right, 6.8), f"{n_plain} kept\n= {ex['plain_mib']:g} MiB", fontsize=10,
                   ha="left")  # fmt: skip
    # checkpointed
    chain(2.5, lambda i: i % seg == 0)
    diagrams.label(ax, (0, 4.6), f"checkpointed in {depth // seg} blocks of {seg}: keep only "
                   "each block's input (and the output)", fontsize=11, ha="left",
                   fontweight="bold")  # fmt: skip
    for b in range(depth // seg):  # a bracket over each block
        x0, x1 = b * seg * step + 0.7, (b + 1) * seg * step - 0.1
        ax.plot([x0, x0, x1, x1], [3.75, 3.95, 3.95, 3.75], color="0.4", lw=1)
        diagrams.label(ax, ((x0 + x1) / 2, 4.15), f"block {b + 1}", fontsize=9.5, color="0.3")
    n_ckpt = depth // seg + 1
    diagrams.label(ax, (right, 2.8), f"{n_ckpt} kept\n= {ex['ckpt_mib']:g} MiB", fontsize=10,
                   ha="left")  # fmt: skip
    # backward through the last block: recompute from its saved input
    start, end = (depth - seg) * step + 0.3, depth * step + 0.3
    diagrams.arrow(ax, (start, 1.95), (end - 0.4, 1.95), color=red)
    n_blocks = depth // seg
    diagrams.label(ax, (0, 1.2), f"backward, block {n_blocks} first: run L{depth - seg + 1}–"
                   f"L{depth} again from h{depth - seg} (red arrow), then backprop through them; "
                   f"then block {n_blocks - 1} from h{depth - 2 * seg}, and so on",
                   fontsize=10, color=red, ha="left")  # fmt: skip
    diagrams.label(ax, (0, 0.6), "cost: one extra forward pass in total; only one block's "
                   "activations are alive at a time", fontsize=10, color=red,
                   ha="left")  # fmt: skip
    # key
    for j, (keep, text) in enumerate([(True, "kept until backward"),
                                      (False, "dropped after the forward pass")]):  # fmt: skip
        x0 = j * 6.5
        ax.add_patch(Rectangle((x0, -0.45), 0.45, 0.45, facecolor=PALETTE["highlight"] if keep
                               else "white", edgecolor="0.3" if keep else "0.6",
                               ls="-" if keep else "--", lw=1.2))  # fmt: skip
        diagrams.label(ax, (x0 + 0.65, -0.22), text, fontsize=10, ha="left")
    diagrams.label(ax, (13.5, -0.22), f"one activation: 256 × 256 float32 = "
                   f"{ex['activation_kib']:g} KiB", fontsize=10, ha="left")  # fmt: skip
    diagrams.finish(ax)
    return fig


def main(args: Args) -> dict:
    with Run(day=22, args=args) as run:
        run.record_source("data", "synthetic tensors (torch.Generator seeded)")
        smoke = args.smoke
        ex = worked_example(seed=args.seed)
        run.save_fig(mechanism_figure(ex), "mechanism")
        run.print(
            f"worked example, {ex['depth']} tanh layers of 256 x 256 (float32): activations kept "
            f"{ex['plain_mib']:g} MiB plain, {ex['ckpt_mib']:g} MiB in blocks of {ex['segment']}"
        )
        checks = gradchecks()
        stability = stability_stats()

        steps = 30 if smoke else args.ste_steps
        ste = quantised_regression(steps, use_ste=True, seed=args.seed)
        plain = quantised_regression(steps, use_ste=False, seed=args.seed)
        depths = [2, 4] if smoke else [2, 4, 8, 16, args.max_depth]
        width, batch = (32, 64) if smoke else (args.width, args.batch)
        sweep = checkpoint_sweep(depths, width, batch, args.seed)
        run.save_fig(memory_figure(sweep), "checkpointing_memory_and_time")

        return run.finish(
            {
                **checks,
                **stability,
                "ste_final_mse": ste[-1],
                "round_final_mse": plain[-1],
                "checkpoint_depths": sweep["depth"],
                "checkpoint_activation_mib_plain": sweep["plain_mb"],
                "checkpoint_activation_mib_ckpt": sweep["ckpt_mb"],
                "checkpoint_ms_plain": sweep["plain_ms"],
                "checkpoint_ms_ckpt": sweep["ckpt_ms"],
                "checkpoint_max_grad_diff": max(sweep["grad_diff"]),
                "checkpoint_time_ratio_deepest": sweep["ckpt_ms"][-1] / sweep["plain_ms"][-1],
                "worked_example_activation_mib_plain": ex["plain_mib"],
                "worked_example_activation_mib_ckpt": ex["ckpt_mib"],
            }
        )


if __name__ == "__main__":
    run_script(main, Args)
