"""Training a causal language model on a token stream, with checkpoints that resume exactly.

The objective is next-token cross-entropy: for a window `x_0 .. x_{n-1}`,

    loss = -1/(n-1) * sum_{t<n-1} log p(x_{t+1} | x_0 .. x_t),

averaged over a batch of windows drawn at random positions of the training tokens. Optimiser:
AdamW (Loshchilov & Hutter 2019) with linear warm-up then cosine decay, gradient clipping, weight
decay on matrices only (not on biases, norms or embeddings' 1-D parameters), as in nanoGPT.

Exact resumption: a checkpoint holds the model, the optimiser state, the step, the loss history and
the state of the `torch.Generator` that draws batches. Training N steps in one go and training k
steps, "crashing", and resuming for N - k steps give the same parameters bit for bit on CPU
(`tests/transformer/test_training.py` checks this). Validation uses its own fixed batches, so
evaluating does not disturb the training stream.

Used by day 33 (a small GPT on Shakespeare) and later days that train small transformers.
"""

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from jaxtyping import Float, Int
from torch import Tensor, nn

from arena_core.utils import load_checkpoint, progress, save_checkpoint


@dataclass(frozen=True)
class TrainConfig:
    steps: int = 1000  # optimiser steps in total
    batch_size: int = 32  # windows per batch
    seq_len: int = 128  # tokens per window
    lr: float = 1e-3  # peak learning rate
    min_lr_ratio: float = 0.1  # cosine decay ends at lr * min_lr_ratio
    warmup_steps: int = 50  # linear warm-up from 0 to lr
    weight_decay: float = 0.1  # AdamW decay on >= 2-D parameters
    betas: tuple[float, float] = (0.9, 0.95)
    grad_clip: float = 1.0  # max global gradient norm (0: no clipping)
    eval_every: int = 100  # steps between validation losses
    eval_batches: int = 8  # batches per validation estimate
    checkpoint_every: int = 100  # steps between checkpoints (when a path is given)
    seed: int = 0  # seeds the batch generator


@dataclass
class TrainHistory:
    steps: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    val_steps: list[int] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    seconds: float = 0.0


def lm_loss(
    logits: Float[Tensor, "batch pos d_vocab"], tokens: Int[Tensor, "batch pos"]
) -> Float[Tensor, ""]:
    """Mean next-token cross-entropy: position t predicts token t + 1."""
    return F.cross_entropy(logits[:, :-1].flatten(0, 1).float(), tokens[:, 1:].flatten())


def random_windows(
    data: Int[Tensor, " n"], batch_size: int, seq_len: int, generator: torch.Generator
) -> Int[Tensor, "batch seq_len"]:
    """`batch_size` windows of `seq_len` consecutive tokens at uniformly random offsets."""
    if len(data) < seq_len:
        raise ValueError(f"need at least seq_len={seq_len} tokens, have {len(data)}")
    starts = torch.randint(0, len(data) - seq_len + 1, (batch_size,), generator=generator)
    return torch.stack([data[s : s + seq_len] for s in starts.tolist()])


def lr_at(step: int, cfg: TrainConfig) -> float:
    """Linear warm-up to `lr`, then cosine decay to `lr * min_lr_ratio` at the last step."""
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    progress_frac = (step - cfg.warmup_steps) / max(1, cfg.steps - cfg.warmup_steps)
    cosine = 0.5 * (1.0 + math.cos(math.pi * min(progress_frac, 1.0)))
    return cfg.lr * (cfg.min_lr_ratio + (1.0 - cfg.min_lr_ratio) * cosine)


def make_optimizer(model: nn.Module, cfg: TrainConfig) -> torch.optim.AdamW:
    """AdamW with weight decay on matrices (dim >= 2) and none on vectors (biases, norm gains)."""
    params = [p for p in model.parameters() if p.requires_grad]
    groups = [
        {"params": [p for p in params if p.dim() >= 2], "weight_decay": cfg.weight_decay},
        {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(groups, lr=cfg.lr, betas=cfg.betas)


@torch.no_grad()
def evaluate(
    model: nn.Module, data: Int[Tensor, " n"], cfg: TrainConfig, device: torch.device | str = "cpu"
) -> float:
    """Mean loss over `cfg.eval_batches` fixed batches (seeded by `cfg.seed + 1`)."""
    generator = torch.Generator().manual_seed(cfg.seed + 1)
    was_training = model.training
    model.eval()
    losses = []
    for _ in range(cfg.eval_batches):
        tokens = random_windows(data, cfg.batch_size, cfg.seq_len, generator).to(device)
        losses.append(lm_loss(model(tokens), tokens).item())
    model.train(was_training)
    return sum(losses) / len(losses)


def train_lm(
    model: nn.Module,
    train_data: Int[Tensor, " n"],
    val_data: Int[Tensor, " m"] | None,
    cfg: TrainConfig,
    checkpoint_path: str | Path | None = None,
    stop_after: int | None = None,
    show_progress: bool = True,
    make_batch: Callable[[Tensor, torch.Generator], Tensor] | None = None,
) -> TrainHistory:
    """Train `model` (tokens -> logits) for `cfg.steps` steps, resuming from `checkpoint_path`.

    `stop_after`: run at most this many steps in this call, then checkpoint and return (used to
    simulate an interruption; Ctrl-C also checkpoints before re-raising).
    `make_batch(train_data, generator)`: how a training batch is drawn (default: `random_windows`
    of `cfg.batch_size` x `cfg.seq_len`); it must draw its randomness from `generator` only, so
    that resuming stays exact. Validation always uses plain windows.
    """
    if make_batch is None:

        def make_batch(data: Tensor, generator: torch.Generator) -> Tensor:
            return random_windows(data, cfg.batch_size, cfg.seq_len, generator)

    device = next(model.parameters()).device
    optimizer = make_optimizer(model, cfg)
    generator = torch.Generator().manual_seed(cfg.seed)
    history = TrainHistory()
    start = 0
    state = load_checkpoint(checkpoint_path) if checkpoint_path is not None else None
    if state is not None:
        if state["config"] != asdict(cfg):
            raise ValueError(f"checkpoint {checkpoint_path} was written with another TrainConfig")
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        generator.set_state(state["generator"])
        history = TrainHistory(**state["history"])
        start = state["step"]

    def checkpoint(step: int) -> None:
        if checkpoint_path is not None:
            save_checkpoint(
                {
                    "model": model.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "generator": generator.get_state(),
                    "history": asdict(history),
                    "step": step,
                    "config": asdict(cfg),
                },
                checkpoint_path,
            )

    end = cfg.steps if stop_after is None else min(cfg.steps, start + stop_after)
    model.train()
    step = start
    t0 = time.perf_counter() - history.seconds
    bar = progress(range(start, end), desc="train", disable=None if show_progress else True)
    try:
        for step in bar:
            for group in optimizer.param_groups:
                group["lr"] = lr_at(step, cfg)
            tokens = make_batch(train_data, generator).to(device)
            loss = lm_loss(model(tokens), tokens)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.grad_clip > 0:
                nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            optimizer.step()
            history.steps.append(step)
            history.train_loss.append(loss.item())
            done = step + 1
            if val_data is not None and (done % cfg.eval_every == 0 or done == cfg.steps):
                history.val_steps.append(done)
                history.val_loss.append(evaluate(model, val_data, cfg, device))
                bar.set_postfix(train=f"{loss.item():.3f}", val=f"{history.val_loss[-1]:.3f}")
            history.seconds = time.perf_counter() - t0
            if done % cfg.checkpoint_every == 0 and done != end:
                checkpoint(done)
        step = end
    except KeyboardInterrupt:
        history.seconds = time.perf_counter() - t0
        checkpoint(len(history.steps))
        raise
    checkpoint(step)
    return history
