"""Day 13 — ResNet34 from our own layers, checked against torchvision.

Builds ResNet34 (`arena_core.nn.resnet34`), counts its parameters (21,797,672, stage by stage),
copies the weights of a randomly initialised torchvision `resnet34` into it with the strict key
mapping of `arena_core.nn.load_torchvision_weights`, and compares the two networks' logits in
eval mode (and, in float64 on a smaller ResNet, training-mode outputs and gradients). When
torchvision's ImageNet weights are already in the torch hub cache, it also classifies two sample
photos (bundled with scikit-learn) with both networks and compares the probabilities (ARENA's
check: within 5e-4); otherwise it says why that part was skipped.

Run:  arena run 13 [--smoke] [--publish]   (or python 02_cnns_resnets/day_013_resnet_arch.py)
Full run: ~5 s on 2 CPU cores (more when torchvision must load ImageNet weights). Smoke: ~5 s.
"""

from dataclasses import dataclass

import torch
import torchvision
from matplotlib.figure import Figure
from matplotlib.patches import Circle
from torchvision.models.resnet import BasicBlock
from torchvision.models.resnet import ResNet as TorchvisionResNet

from arena_core.nn import (
    ResNet,
    ResNetConfig,
    WeightMappingError,
    load_torchvision_weights,
    resnet34,
)
from arena_core.nn.pretrained import cached_resnet34_weights, imagenet_categories, sample_images
from arena_core.nn.resnet import ResidualBlock
from arena_core.nn.sequential import Identity
from arena_core.utils import DayArgs, Run, diagrams, run_script


@dataclass
class Args(DayArgs):
    batch: int = 4  # images in the random-weights parity check
    image_size: int = 224  # side of the random input images


def n_params(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def randomise_bn_stats(model: torch.nn.Module) -> None:
    """Fresh BN layers have mean 0 / var 1; random statistics make eval mode a real test."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.normal_(0, 0.1)
                m.running_var.uniform_(0.5, 1.5)
                m.weight.uniform_(0.5, 1.5)
                m.bias.normal_(0, 0.1)


def stage_table(model: ResNet, image_size: int) -> list[dict]:
    """Parameters and output shape of each stage, via forward hooks."""
    stages = {"stem": model.in_layers}
    for i, group in enumerate(model.residual_layers):
        stages[f"group {i + 1} ({len(group.blocks)} blocks)"] = group
    stages["head (pool+linear)"] = model.head  # pool + flatten hold no parameters
    shapes = {}
    hooks = [
        m.register_forward_hook(
            lambda _m, _i, out, name=name: shapes.__setitem__(name, tuple(out.shape[1:]))
        )
        for name, m in stages.items()
    ]
    with torch.no_grad():
        model.eval()(torch.zeros(1, 3, image_size, image_size))
    for h in hooks:
        h.remove()
    return [{"stage": n, "params": n_params(m), "output": shapes[n]} for n, m in stages.items()]


def residual_example(w1: float = 0.5, w2: float = -0.4, x0: float = 2.0) -> dict[str, float]:
    """The post's hand example: a one-channel residual block on a one-pixel image, eval mode.

    Only the centre tap of each 3x3 kernel touches a 1x1 image, so the learned branch is
    F(x) = w2 * relu(w1 * x) (BN with fresh statistics divides by sqrt(1 + 1e-5), nearly 1).
    The same branch without the shortcut is a plain layer: relu(F(x)).
    """
    block = ResidualBlock(1, 1).double().eval()
    with torch.no_grad():
        for conv, w in ((block.left[0], w1), (block.left[3], w2)):
            conv.weight.zero_()
            conv.weight[0, 0, 1, 1] = w
    out = {}
    for name, f in (
        ("residual", block),
        ("plain", lambda x: block.relu(block.left(x))),
    ):
        x = torch.full((1, 1, 1, 1), x0, dtype=torch.float64, requires_grad=True)
        y = f(x)
        (grad,) = torch.autograd.grad(y.sum(), x)
        out[f"{name}_y"], out[f"{name}_dy_dx"] = y.item(), grad.item()
    with torch.no_grad():
        out["F"] = block.left(torch.full((1, 1, 1, 1), x0, dtype=torch.float64)).item()
    return out


def block_parts(model: ResNet) -> dict[str, int]:
    """Parameters of each layer of the first block of group 2 (the block that downsamples)."""
    block = model.residual_layers[1].blocks[0]
    parts = {
        "conv_a": block.left[0],
        "bn_a": block.left[1],
        "conv_b": block.left[3],
        "bn_b": block.left[4],
        "conv_s": block.right[0],
        "bn_s": block.right[1],
    }
    return {name: n_params(m) for name, m in parts.items()}


def mechanism_figure(rows: list[dict], parts: dict[str, int], n_identity: int) -> Figure:
    """ResNet34 as stages, and inside the block of group 2 that halves the resolution."""
    fig, ax = diagrams.canvas(width=22, height=14, scale=0.42)
    font = 10
    # the network, stage by stage, with output shapes (from the forward hooks)
    names = ["stem", "group 1", "group 2", "group 3", "group 4", "pool +\nlinear"]
    shape = ["×".join(str(v) for v in r["output"]) for r in rows]
    blocks = [""] + [f"\n{n} blocks" for n in (3, 4, 6, 3)] + [""]
    for i, (name, shp, blk) in enumerate(zip(names, shape, blocks, strict=True)):
        role = "highlight" if i == 2 else ("input" if i == 0 else "op")
        diagrams.box(
            ax,
            (i * 3.7, 10.6),
            f"{name}{blk}\n{shp}",
            width=3.1,
            height=2.0,
            role=role,
            fontsize=font,
        )
        if i < 5:
            diagrams.arrow(ax, (i * 3.7 + 3.1, 11.6), (i * 3.7 + 3.7, 11.6))
    diagrams.label(
        ax,
        (11.0, 13.25),
        "ResNet34 on a 3×224×224 image: output shape after each stage",
        fontsize=font + 1,
        fontweight="bold",
    )
    diagrams.label(
        ax,
        (11.0, 10.0),
        "weight layers: 1 stem conv + 2 convs × 16 blocks + 1 linear "
        "= 34 (the 1×1 shortcut convs are not counted)",
        fontsize=font,
    )
    total = sum(parts.values())
    diagrams.label(
        ax,
        (11.0, 8.6),
        f"inside the first block of group 2: {total:,} parameters (per layer in brackets)",
        fontsize=font + 1,
        fontweight="bold",
    )
    # the block: x -> two branches -> + -> ReLU
    diagrams.box(ax, (0, 3.6), "x\n64×56×56", width=2.4, height=1.6, role="input", fontsize=font)
    left = [
        (f"3×3 conv\nstride 2\n64→128\n({parts['conv_a']:,})", "param"),
        (f"BN\n({parts['bn_a']})", "param"),
        ("ReLU", "op"),
        (f"3×3 conv\n128→128\n({parts['conv_b']:,})", "param"),
        (f"BN\n({parts['bn_b']})", "param"),
    ]
    xs = [3.4 + 2.9 * i for i in range(len(left))]
    for x, (text, role) in zip(xs, left, strict=True):
        diagrams.box(ax, (x, 5.4), text, width=2.4, height=2.1, role=role, fontsize=font)
    for a, b in zip(xs, xs[1:], strict=False):
        diagrams.arrow(ax, (a + 2.4, 6.45), (b, 6.45))
    right = [
        (f"1×1 conv\nstride 2\n64→128\n({parts['conv_s']:,})", "param"),
        (f"BN\n({parts['bn_s']})", "param"),
    ]
    for x, (text, role) in zip(xs[1:4:2], right, strict=True):
        diagrams.box(ax, (x, 1.0), text, width=2.4, height=2.1, role=role, fontsize=font)
    diagrams.arrow(ax, (xs[1] + 2.4, 2.05), (xs[3], 2.05))
    diagrams.arrow(ax, (2.4, 4.6), (xs[0], 6.45))
    diagrams.arrow(ax, (2.4, 4.2), (xs[1], 2.05))
    diagrams.label(ax, (xs[2] + 1.2, 7.95), "learned residual F(x)", fontsize=font, style="italic")
    diagrams.label(
        ax,
        (xs[2] + 1.2, 0.45),
        f"shortcut: reshapes x to 128×28×28 (the identity in {n_identity} of the 16 blocks)",
        fontsize=font,
        style="italic",
    )
    plus = xs[-1] + 3.3
    ax.add_patch(Circle((plus, 4.4), 0.45, facecolor=diagrams.PALETTE["op"], edgecolor="0.35"))
    diagrams.label(ax, (plus, 4.4), "+", fontsize=font + 4)
    diagrams.arrow(ax, (xs[-1] + 2.4, 6.45), (plus - 0.3, 4.75))
    diagrams.arrow(ax, (xs[3] + 2.4, 2.05), (plus - 0.3, 4.05))
    diagrams.box(ax, (plus + 0.9, 3.7), "ReLU", width=1.6, height=1.4, role="op", fontsize=font)
    diagrams.arrow(ax, (plus + 0.45, 4.4), (plus + 0.9, 4.4))
    diagrams.box(
        ax, (plus + 0.6, 1.0), "y\n128×28×28", width=2.4, height=1.6, role="output", fontsize=font
    )
    diagrams.arrow(ax, (plus + 1.7, 3.7), (plus + 1.8, 2.6))
    diagrams.finish(ax)
    return fig


def architecture_figure(rows: list[dict], total: int) -> Figure:
    fig = Figure(figsize=(8, 3.6))
    ax = fig.subplots()
    names = [r["stage"] for r in rows][::-1]
    values = [r["params"] / 1e6 for r in rows][::-1]
    bars = ax.barh(names, values, color="tab:blue")
    for bar, r in zip(bars, rows[::-1], strict=True):
        shape = "×".join(str(s) for s in r["output"])
        ax.text(
            bar.get_width() + 0.2,
            bar.get_y() + bar.get_height() / 2,
            f"{r['params']:,}  (output {shape})",
            va="center",
            fontsize=9,
        )
    ax.set_xlim(0, max(values) * 1.6)
    ax.set_xlabel("parameters (millions)")
    ax.grid(axis="y", visible=False)
    ax.set_title(f"ResNet34: parameters per stage ({total:,} in all)")
    fig.tight_layout()
    return fig


def parity_figure(ours: torch.Tensor, theirs: torch.Tensor) -> Figure:
    fig = Figure(figsize=(8.5, 3.4))
    a, b = fig.subplots(1, 2)
    a.scatter(theirs.flatten(), ours.flatten(), s=2, alpha=0.4)
    a.set_xlabel("torchvision's logit")
    a.set_ylabel("our logit")
    a.set_title("Same random weights, eval mode")
    diff = (ours - theirs).abs().flatten()
    same = int((diff == 0).sum())
    b.hist(diff[diff > 0].log10(), bins=30, color="tab:orange")
    b.set_xlabel("log10 |our logit − torchvision's|")
    b.set_ylabel("number of logits")
    b.set_title(f"{same:,} of {diff.numel():,} identical; largest gap {diff.max():.1e}")
    fig.tight_layout()
    return fig


def train_mode_check(smoke: bool) -> dict[str, float]:
    """Float64 training-mode forward + backward of a ResNet-18-shaped net vs torchvision."""
    blocks, batch, size = ([1, 1, 1, 1], 2, 32) if smoke else ([2, 2, 2, 2], 4, 48)
    tv = TorchvisionResNet(BasicBlock, blocks, num_classes=10).double().train()
    ours = load_torchvision_weights(
        ResNet(ResNetConfig(n_classes=10, n_blocks_per_group=tuple(blocks))).double(),
        tv.state_dict(),
    ).train()
    x = torch.randn(batch, 3, size, size, dtype=torch.float64)
    y_ours, y_tv = ours(x), tv(x)
    y_ours.square().sum().backward()
    y_tv.square().sum().backward()
    grad_diff = max(
        (a.grad - b.grad).abs().max().item()
        for a, b in zip(ours.parameters(), tv.parameters(), strict=True)
    )
    return {
        "train_mode_float64_max_output_diff": (y_ours - y_tv).abs().max().item(),
        "train_mode_float64_max_grad_diff": grad_diff,
    }


def pretrained_check(run: Run) -> dict:
    path = cached_resnet34_weights()
    if path is None:
        reason = (
            f"skipped: torchvision's ImageNet ResNet34 weights are not in the hub cache "
            f"({torch.hub.get_dir()}/checkpoints)"
        )
        run.print(f"pretrained check {reason}")
        run.record_source("pretrained_weights", reason)
        return {"pretrained_checked": False}
    run.record_source("pretrained_weights", f"torchvision ImageNet ResNet34 from {path}")
    state = torch.load(path, map_location="cpu", weights_only=True)
    tv = torchvision.models.resnet34()
    tv.load_state_dict(state)
    ours = load_torchvision_weights(resnet34(), state).eval()
    images, names = sample_images()
    with torch.no_grad():
        p_ours, p_tv = ours(images).softmax(-1), tv.eval()(images).softmax(-1)
    cats = imagenet_categories()
    top = {
        n: [(cats[i], round(p_ours[k, i].item(), 4)) for i in p_ours[k].topk(3).indices]
        for k, n in enumerate(names)
    }
    for n, t in top.items():
        run.print(f"  {n}: {t}")
    run.log(pretrained_top3=top)
    return {
        "pretrained_checked": True,
        "pretrained_max_prob_diff": (p_ours - p_tv).abs().max().item(),
        "pretrained_top1_agree": bool((p_ours.argmax(-1) == p_tv.argmax(-1)).all()),
    }


def main(args: Args) -> dict:
    with Run(day=13, args=args) as run:
        run.record_source(
            "model",
            "torchvision.models.resnet34() with random weights "
            "(no download), copied into arena_core.nn.resnet34()",
        )
        batch, size = (1, 64) if args.smoke else (args.batch, args.image_size)
        tv = torchvision.models.resnet34()
        randomise_bn_stats(tv)
        ours = load_torchvision_weights(resnet34(), tv.state_dict())
        x = torch.randn(batch, 3, size, size)
        with torch.no_grad():
            y_ours, y_tv = ours.eval()(x), tv.eval()(x)
        max_diff = (y_ours - y_tv).abs().max().item()
        run.print(
            f"eval-mode logits, {batch}x3x{size}x{size}: max |ours - torchvision| = "
            f"{max_diff:.2e}; same top-1: {bool((y_ours.argmax(-1) == y_tv.argmax(-1)).all())}"
        )
        try:  # the mapping refuses a state dict that does not fit (resnet18 into resnet34)
            load_torchvision_weights(resnet34(), torchvision.models.resnet18().state_dict())
            mapping_refused = False
        except WeightMappingError as err:
            mapping_refused = True
            run.print(f"resnet18 weights into resnet34 -> {str(err)[:110]}...")
        rows = stage_table(ours, 224)  # one zero image: cheap even in a smoke run
        for r in rows:
            run.print(f"  {r['stage']:<24} {r['params']:>12,}  -> {r['output']}")
        total = n_params(ours)
        run.log(stages=rows)
        parts = block_parts(ours)
        n_identity = sum(
            isinstance(b.right, Identity) for g in ours.residual_layers for b in g.blocks
        )
        run.save_fig(mechanism_figure(rows, parts, n_identity), "mechanism")
        example = residual_example()
        run.print(f"residual example (x = 2, w1 = 0.5, w2 = -0.4): {example}")
        run.save_fig(architecture_figure(rows, total), "architecture")
        run.save_fig(parity_figure(y_ours, y_tv), "parity")
        metrics = {
            "n_params_ours": total,
            "n_params_torchvision": n_params(tv),
            "eval_max_abs_logit_diff": max_diff,
            "eval_max_abs_logit": y_tv.abs().max().item(),
            "eval_identical_logits": int((y_ours == y_tv).sum()),
            "eval_n_logits": y_tv.numel(),
            "eval_top1_agree": bool((y_ours.argmax(-1) == y_tv.argmax(-1)).all()),
            "parity_batch": batch,
            "parity_image_size": size,
            "mapping_refuses_resnet18": mapping_refused,
            "block2_params": parts,
            "n_identity_shortcuts": n_identity,
            "residual_example": example,
            **train_mode_check(args.smoke),
            **pretrained_check(run),
        }
        return run.finish(metrics)


if __name__ == "__main__":
    run_script(main, Args)
