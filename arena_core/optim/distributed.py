"""Data-parallel training on `torch.distributed`: every process holds a full copy of the model,
computes gradients on its shard of the global batch, and the gradients are averaged with one
all-reduce before each (identical) optimizer step. Day 19 (and the scaling-up sections later).

With W processes, each on B/W examples, the averaged gradient equals the gradient of the mean loss
over the whole batch of B (when the shards have equal size), so W processes take exactly the steps
one process would take on the global batch, up to the order of floating-point additions.

Backends: gloo on CPU, nccl on CUDA. Launch with torchrun (it sets RANK, WORLD_SIZE, MASTER_ADDR,
MASTER_PORT for each process):

    torchrun --standalone --nproc_per_node=2 -m arena_core.optim.distributed --steps 50

or, from Python (tests, notebooks), `spawn(fn, world_size, *args)`, which picks a free loopback
port and calls `fn(rank, world_size, *args)` in each process with the group initialised.
`torch.nn.parallel.DistributedDataParallel` does the same averaging, overlapped with backward.
"""

import argparse
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import Tensor, nn


def find_free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def default_backend() -> str:
    return "nccl" if torch.cuda.is_available() and dist.is_nccl_available() else "gloo"


def average_gradients(params: list[Tensor]) -> None:
    """Replace each gradient by its mean over all processes (one all-reduce of a flat buffer)."""
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat, op=dist.ReduceOp.SUM)
    flat /= dist.get_world_size()
    offset = 0
    for g in grads:
        g.copy_(flat[offset : offset + g.numel()].view_as(g))
        offset += g.numel()


@torch.no_grad()
def broadcast_parameters(params: list[Tensor], src: int = 0) -> None:
    """Make every process start from rank `src`'s parameters."""
    for p in params:
        dist.broadcast(p, src)


def shard(n: int, rank: int, world_size: int) -> slice:
    """The contiguous slice of n examples that `rank` handles (needs n divisible by world_size)."""
    if n % world_size:
        raise ValueError(f"global batch {n} is not divisible by {world_size} processes")
    per = n // world_size
    return slice(rank * per, (rank + 1) * per)


def _spawn_entry(rank, fn, world_size, port, backend, args) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group(backend, rank=rank, world_size=world_size)
    try:
        fn(rank, world_size, *args)
    finally:
        dist.destroy_process_group()


def spawn(fn: Callable, world_size: int, *args, backend: str | None = None) -> None:
    """Run `fn(rank, world_size, *args)` in `world_size` fresh processes on loopback.
    `fn` must be importable (defined at module level) for the spawn start method."""
    port = find_free_port()
    mp.spawn(
        _spawn_entry,
        args=(fn, world_size, port, backend or default_backend(), args),
        nprocs=world_size,
        join=True,
    )


# --- a small, deterministic demo (used by the test and by the torchrun entry point) ----------
@dataclass(frozen=True)
class DemoConfig:
    steps: int = 20
    global_batch: int = 32
    n_examples: int = 256
    d_in: int = 10
    hidden: int = 16
    n_classes: int = 4
    lr: float = 0.1
    momentum: float = 0.9
    seed: int = 0


def demo_data(cfg: DemoConfig) -> tuple[Tensor, Tensor]:
    g = torch.Generator().manual_seed(cfg.seed + 1)
    x = torch.randn(cfg.n_examples, cfg.d_in, generator=g, dtype=torch.float64)
    w = torch.randn(cfg.d_in, cfg.n_classes, generator=g, dtype=torch.float64)
    return x, (x @ w).argmax(-1)


def demo_model(cfg: DemoConfig) -> nn.Module:
    torch.manual_seed(cfg.seed)
    return nn.Sequential(
        nn.Linear(cfg.d_in, cfg.hidden), nn.Tanh(), nn.Linear(cfg.hidden, cfg.n_classes)
    ).double()


def demo_global_batch(cfg: DemoConfig, step: int) -> slice:
    start = (step * cfg.global_batch) % cfg.n_examples
    return slice(start, start + cfg.global_batch)


def train_demo(rank: int, world_size: int, cfg: DemoConfig, out_path: str | None = None) -> None:
    """Data-parallel SGD on the demo problem; rank 0 saves the final parameters to `out_path`."""
    from arena_core.optim.sgd import SGD

    x, y = demo_data(cfg)
    model = demo_model(cfg)
    params = list(model.parameters())
    broadcast_parameters(params)
    opt = SGD(params, lr=cfg.lr, momentum=cfg.momentum)
    for step in range(cfg.steps):
        batch = demo_global_batch(cfg, step)
        mine = shard(cfg.global_batch, rank, world_size)
        xb, yb = x[batch][mine], y[batch][mine]
        loss = nn.functional.cross_entropy(model(xb), yb)
        opt.zero_grad()
        loss.backward()
        average_gradients(params)
        opt.step()
        if rank == 0 and out_path is None and (step % 10 == 0 or step == cfg.steps - 1):
            print(f"step {step:4d}  loss on rank 0's shard {loss.item():.4f}", flush=True)
    if rank == 0 and out_path is not None:
        torch.save([p.detach() for p in params], out_path)


def main() -> None:
    """Entry point for `torchrun ... -m arena_core.optim.distributed` (reads RANK, WORLD_SIZE)."""
    parser = argparse.ArgumentParser(description="data-parallel SGD demo on torch.distributed")
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--backend", default=None)
    parser.add_argument("--out", type=Path, default=None, help="save rank 0's final parameters")
    args = parser.parse_args()
    dist.init_process_group(args.backend or default_backend())
    try:
        rank, world = dist.get_rank(), dist.get_world_size()
        train_demo(rank, world, DemoConfig(steps=args.steps), str(args.out) if args.out else None)
    finally:
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
