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
from arena_core.utils import DayArgs, Run, run_script


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


def architecture_figure(rows: list[dict], total: int) -> Figure:
    fig = Figure(figsize=(8, 3.6), dpi=120)
    ax = fig.subplots()
    names = [r["stage"] for r in rows][::-1]
    values = [r["params"] / 1e6 for r in rows][::-1]
    bars = ax.barh(names, values, color="tab:blue")
    for bar, r in zip(bars, rows[::-1], strict=True):
        shape = "x".join(str(s) for s in r["output"])
        ax.text(
            bar.get_width() + 0.2,
            bar.get_y() + bar.get_height() / 2,
            f"{r['params']:,} params -> {shape}",
            va="center",
            fontsize=8,
        )
    ax.set_xlim(0, max(values) * 1.75)
    ax.set_xlabel("parameters (millions)")
    ax.set_title(
        f"ResNet34: {total:,} parameters; output shape after each stage (224x224 input)", fontsize=9
    )
    fig.tight_layout()
    return fig


def parity_figure(ours: torch.Tensor, theirs: torch.Tensor) -> Figure:
    fig = Figure(figsize=(8, 3.2), dpi=120)
    a, b = fig.subplots(1, 2)
    a.scatter(theirs.flatten(), ours.flatten(), s=2, alpha=0.4)
    a.set_xlabel("torchvision logit"), a.set_ylabel("our logit")
    a.set_title("same random weights, eval mode", fontsize=9)
    diff = (ours - theirs).abs().flatten().clamp(min=1e-12)
    b.hist(diff.log10(), bins=40, color="tab:orange")
    b.set_xlabel("log10 |ours - torchvision|"), b.set_ylabel("logits")
    b.set_title(f"max |diff| = {diff.max():.2e} (float32)", fontsize=9)
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
        rows = stage_table(ours, 64 if args.smoke else 224)
        for r in rows:
            run.print(f"  {r['stage']:<24} {r['params']:>12,}  -> {r['output']}")
        total = n_params(ours)
        run.log(stages=rows)
        run.save_fig(architecture_figure(rows, total), "architecture")
        run.save_fig(parity_figure(y_ours, y_tv), "parity")
        metrics = {
            "n_params_ours": total,
            "n_params_torchvision": n_params(tv),
            "eval_max_abs_logit_diff": max_diff,
            "eval_top1_agree": bool((y_ours.argmax(-1) == y_tv.argmax(-1)).all()),
            "parity_batch": batch,
            "parity_image_size": size,
            "mapping_refuses_resnet18": mapping_refused,
            **train_mode_check(args.smoke),
            **pretrained_check(run),
        }
        return run.finish(metrics)


if __name__ == "__main__":
    run_script(main, Args)
