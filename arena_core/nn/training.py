"""A small, resumable training loop for classifiers (days 12 and 14; reused by later days).

`train_classifier` runs minibatch training with cross-entropy, evaluates on the test set after
every epoch, shows a progress bar, and (given `checkpoint_path`) saves model + optimiser + history
+ RNG state atomically after each epoch. Calling it again with the same path resumes after the last
finished epoch, so an interrupt loses at most the epoch in progress, and a resumed run produces the
same numbers as an uninterrupted one: each epoch's shuffle comes from its own seeded generator.
"""

import math
import time
from pathlib import Path
from typing import Any, Literal

import torch
import torch.nn.functional as F
from jaxtyping import Float, Int
from torch import Tensor, nn

from arena_core.utils import load_checkpoint, progress, save_checkpoint


def _as_tensors(data: Any) -> tuple[Tensor, Tensor]:
    """Accept an (images, labels) pair or anything with `.images` and `.labels`."""
    if isinstance(data, (tuple, list)):
        return data[0], data[1]
    return data.images, data.labels


@torch.no_grad()
def evaluate(
    model: nn.Module, data: Any, batch_size: int = 1000, device: str | torch.device = "cpu"
) -> tuple[float, float]:
    """Mean cross-entropy and accuracy of `model` (in eval mode) on `data`."""
    images, labels = _as_tensors(data)
    was_training = model.training
    model.eval()
    total_loss, correct = 0.0, 0
    for start in range(0, len(labels), batch_size):
        x = images[start : start + batch_size].to(device)
        y = labels[start : start + batch_size].to(device)
        logits = model(x)
        total_loss += F.cross_entropy(logits, y, reduction="sum").item()
        correct += (logits.argmax(-1) == y).sum().item()
    model.train(was_training)
    return total_loss / len(labels), correct / len(labels)


def train_step(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    x: Float[Tensor, "batch ..."],
    y: Int[Tensor, " batch"],
) -> tuple[float, int]:
    """One optimiser step on a batch; returns (loss before the step, number correct)."""
    logits = model(x)
    loss = F.cross_entropy(logits, y)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return loss.item(), (logits.argmax(-1) == y).sum().item()


def make_optimizer(
    params, kind: Literal["adam", "sgd"], lr: float, weight_decay: float = 0.0
) -> torch.optim.Optimizer:
    if kind == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    if kind == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=0.9, weight_decay=weight_decay)
    raise ValueError(f"unknown optimizer {kind!r}")


def train_classifier(
    model: nn.Module,
    train_data: Any,
    test_data: Any,
    *,
    epochs: int,
    batch_size: int = 64,
    lr: float = 1e-3,
    optimizer: Literal["adam", "sgd"] = "adam",
    weight_decay: float = 0.0,
    checkpoint_path: str | Path | None = None,
    seed: int = 0,
    device: str | torch.device = "cpu",
    desc: str = "train",
    eval_batch_size: int = 1000,
) -> dict[str, list]:
    """Train with cross-entropy; return the history (per-epoch metrics and per-step losses).

    history keys: epoch, train_loss, train_acc, test_loss, test_acc, seconds (one entry per
    epoch) and step_loss (one entry per optimiser step).
    """
    images, labels = _as_tensors(train_data)
    model.to(device)
    opt = make_optimizer(model.parameters(), optimizer, lr, weight_decay)
    history: dict[str, list] = {
        k: [] for k in ("epoch", "train_loss", "train_acc", "test_loss", "test_acc", "seconds")
    }
    history["step_loss"] = []
    start_epoch = 0
    if checkpoint_path is not None:
        state = load_checkpoint(checkpoint_path, map_location=device)
        if state is not None:
            model.load_state_dict(state["model"])
            opt.load_state_dict(state["optimizer"])
            history = state["history"]
            start_epoch = state["epoch"] + 1
            torch.set_rng_state(state["torch_rng"])
    n = len(labels)
    steps = math.ceil(n / batch_size)
    for epoch in range(start_epoch, epochs):
        tick = time.perf_counter()
        model.train()
        order = torch.randperm(n, generator=torch.Generator().manual_seed(seed * 100_003 + epoch))
        loss_sum, correct = 0.0, 0
        bar = progress(range(steps), desc=f"{desc} epoch {epoch + 1}/{epochs}", leave=False)
        for step in bar:
            idx = order[step * batch_size : (step + 1) * batch_size]
            x, y = images[idx].to(device), labels[idx].to(device)
            loss, right = train_step(model, opt, x, y)
            history["step_loss"].append(loss)
            loss_sum += loss * len(idx)
            correct += right
        test_loss, test_acc = evaluate(model, test_data, eval_batch_size, device)
        history["epoch"].append(epoch + 1)
        history["train_loss"].append(loss_sum / n)
        history["train_acc"].append(correct / n)
        history["test_loss"].append(test_loss)
        history["test_acc"].append(test_acc)
        history["seconds"].append(time.perf_counter() - tick)
        if checkpoint_path is not None:
            save_checkpoint(
                {
                    "model": model.state_dict(),
                    "optimizer": opt.state_dict(),
                    "history": history,
                    "epoch": epoch,
                    "torch_rng": torch.get_rng_state(),
                },
                checkpoint_path,
            )
    return history
