"""Optimizer step time: arena_core.optim (foreach and per-tensor) vs torch.optim (foreach=True).

Parameters have the shapes of torchvision's resnet34 (110 tensors, 21.8M floats, float32) with
fixed random gradients. Each candidate owns its own copy of the parameters and its own optimizer,
and the candidates are timed interleaved (`arena_core.utils.compare`). Goal: ours (foreach) within
1.5x of torch's foreach step.

Run:  python benchmarks/bench_optim.py [--rounds 15] [--device cpu] [--threads 1]

On a machine shared with other jobs, `--threads 1` gives far steadier numbers: with two threads a
descheduled worker stalls the other at every op, and single steps can take 100x longer.
"""

import argparse
from functools import partial

import torch
import torchvision

from arena_core import optim as ours
from arena_core.utils import compare, resolve_device

CONFIGS = {
    "SGD-momentum": (ours.SGD, torch.optim.SGD, dict(lr=0.1, momentum=0.9, weight_decay=1e-4)),
    "Adam": (ours.Adam, torch.optim.Adam, dict(lr=1e-3)),
    "AdamW": (ours.AdamW, torch.optim.AdamW, dict(lr=1e-3, weight_decay=0.05)),
}


def resnet34_params(device: torch.device, seed: int = 0) -> list[torch.Tensor]:
    shapes = [p.shape for p in torchvision.models.resnet34().parameters()]
    g = torch.Generator().manual_seed(seed)
    params = []
    for shape in shapes:
        p = torch.randn(shape, generator=g).to(device).requires_grad_()
        p.grad = torch.randn(shape, generator=g).to(device) * 1e-2
        params.append(p)
    return params


def stepper(make_opt, base: list[torch.Tensor]):
    params = [p.detach().clone().requires_grad_() for p in base]
    for p, b in zip(params, base, strict=True):
        p.grad = b.grad.clone()
    opt = make_opt(params)
    sync = torch.cuda.synchronize if params[0].is_cuda else (lambda: None)

    def step():
        opt.step()
        sync()

    return step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None, help="intra-op threads (both sides)")
    args = parser.parse_args()
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    base = resnet34_params(device)
    n = sum(p.numel() for p in base)
    print(
        f"resnet34 shapes: {len(base)} tensors, {n / 1e6:.1f}M params, device {device}, "
        f"torch {torch.__version__}, {torch.get_num_threads()} threads"
    )
    ratios = {}
    for name, (ours_cls, torch_cls, kw) in CONFIGS.items():
        result = compare(
            {
                "torch.optim foreach": stepper(partial(torch_cls, **kw, foreach=True), base),
                "ours foreach": stepper(partial(ours_cls, **kw, foreach=True), base),
                "ours per-tensor": stepper(partial(ours_cls, **kw, foreach=False), base),
            },
            reference="torch.optim foreach",
            rounds=args.rounds,
            warmup=2,
        )
        print(f"\n{name}\n{result.table()}")
        ratios[name] = (result.ratio("ours foreach"), result.ratio("ours per-tensor"))
    print("\nmedian step-time ratio ours / torch.optim(foreach=True):")
    for name, (fe, pt) in ratios.items():
        print(f"  {name:<13} foreach {fe:5.2f}x   per-tensor {pt:5.2f}x")


if __name__ == "__main__":
    main()
