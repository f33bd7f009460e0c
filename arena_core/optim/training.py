"""A small, fast real task for comparing optimizers: an MLP on the 8x8 sklearn digits (days 15-19).

1,797 images (1,437 train / 360 test with `arena_core.data.load_digits`), flattened to 64 inputs;
an epoch of an MLP with 64 hidden units takes milliseconds on a CPU, so sweeps of dozens of
training runs fit in a minute, and the full-batch loss is cheap enough to map a loss landscape.
"""

from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from jaxtyping import Float, Int
from torch import Tensor, nn


@dataclass
class Split:
    x: Float[Tensor, "n d"]
    y: Int[Tensor, " n"]


@dataclass
class DigitsTask:
    train: Split
    test: Split
    source: str

    @property
    def n_inputs(self) -> int:
        return self.train.x.shape[1]


def load_digits_task(dtype: torch.dtype = torch.float32) -> DigitsTask:
    from arena_core.data import load_digits

    tr, te = load_digits("train"), load_digits("test")
    flat = lambda ds: Split(ds.images.flatten(1).to(dtype), ds.labels)
    return DigitsTask(flat(tr), flat(te), tr.source)


def make_mlp(
    n_inputs: int = 64, hidden: int = 64, n_classes: int = 10, depth: int = 2
) -> nn.Module:
    """`depth` hidden layers of width `hidden` with ReLU."""
    layers, width = [], n_inputs
    for _ in range(depth):
        layers += [nn.Linear(width, hidden), nn.ReLU()]
        width = hidden
    return nn.Sequential(*layers, nn.Linear(width, n_classes))


@torch.no_grad()
def evaluate(model: nn.Module, split: Split) -> tuple[float, float]:
    """(mean cross-entropy, accuracy) over the whole split."""
    logits = model(split.x)
    loss = nn.functional.cross_entropy(logits, split.y).item()
    return loss, (logits.argmax(-1) == split.y).float().mean().item()


@dataclass
class History:
    step_loss: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    test_loss: list[float] = field(default_factory=list)
    test_accuracy: list[float] = field(default_factory=list)


def train_classifier(
    model: nn.Module,
    optimizer,
    task: DigitsTask,
    epochs: int,
    batch_size: int = 64,
    scheduler=None,
    seed: int = 0,
    on_epoch: Callable[[int, History], None] | None = None,
) -> History:
    """Mini-batch training with cross-entropy; the scheduler (if any) steps once per batch."""
    g = torch.Generator().manual_seed(seed)
    hist = History()
    n = len(task.train.y)
    for epoch in range(epochs):
        model.train()
        for idx in torch.randperm(n, generator=g).split(batch_size):
            loss = nn.functional.cross_entropy(model(task.train.x[idx]), task.train.y[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            hist.step_loss.append(loss.item())
            hist.lr.append(optimizer.param_groups[0]["lr"])
            if scheduler is not None:
                scheduler.step()
        model.eval()
        test_loss, acc = evaluate(model, task.test)
        hist.test_loss.append(test_loss)
        hist.test_accuracy.append(acc)
        if on_epoch is not None:
            on_epoch(epoch, hist)
    return hist
