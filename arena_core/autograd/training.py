"""Train the numpy-engine MLP with minibatch SGD, and a torch twin on identical batches (day 23).

The twin starts from the same weights and sees the same shuffled minibatches, so any difference
between the two accuracy curves comes from our engine (float32 rounding aside), not from luck.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from arena_core.autograd.grad_mode import no_grad
from arena_core.autograd.nn import MLP, Linear, cross_entropy
from arena_core.autograd.optim import SGD
from arena_core.autograd.tensor import Tensor


@dataclass
class History:
    test_accuracy: list[float] = field(default_factory=list)  # after each epoch
    train_loss: list[float] = field(default_factory=list)  # every step
    epoch_seconds: list[float] = field(default_factory=list)


def image_arrays(train, test) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Flatten two `ImageDataset`s to float32 (N, pixels), standardised with the train set's
    mean and std (for MNIST these are ARENA's 0.1307 / 0.3081), plus int64 labels."""
    X_train = train.images.reshape(len(train), -1).numpy()
    X_test = test.images.reshape(len(test), -1).numpy()
    mean, std = float(X_train.mean()), float(X_train.std())
    return (
        (X_train - mean) / std,
        train.labels.numpy().astype(np.int64),
        (X_test - mean) / std,
        test.labels.numpy().astype(np.int64),
    )


def batches(n: int, batch_size: int, epoch_seed: int) -> list[np.ndarray]:
    order = np.random.default_rng(epoch_seed).permutation(n)
    return [order[i : i + batch_size] for i in range(0, n, batch_size)]


def accuracy(predict: Callable[[np.ndarray], np.ndarray], X: np.ndarray, y: np.ndarray) -> float:
    correct = 0
    for i in range(0, len(X), 2048):
        correct += int((predict(X[i : i + 2048]).argmax(-1) == y[i : i + 2048]).sum())
    return correct / len(X)


def train_numpy_mlp(model: MLP, data: tuple, epochs: int, lr: float, batch_size: int,
                    seed: int, on_epoch: Callable | None = None) -> History:  # fmt: skip
    """`data` = (X_train, y_train, X_test, y_test) as numpy arrays, X flattened (N, 784)."""
    X_train, y_train, X_test, y_test = data
    opt = SGD(model.parameters(), lr=lr)
    hist = History()

    def predict(x):
        with no_grad():
            return model(Tensor(x)).data

    for epoch in range(epochs):
        start = time.perf_counter()
        for idx in batches(len(X_train), batch_size, seed + epoch):
            loss = cross_entropy(model(Tensor(X_train[idx])), y_train[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            hist.train_loss.append(loss.item())
        hist.epoch_seconds.append(time.perf_counter() - start)
        hist.test_accuracy.append(accuracy(predict, X_test, y_test))
        if on_epoch is not None:
            on_epoch(epoch, hist)
    return hist


def torch_twin(model: MLP) -> torch.nn.Sequential:
    """torch.nn layers holding copies of `model`'s weights (Linear -> nn.Linear, ReLU -> ReLU)."""
    layers = []
    for m in model._modules.values():
        if isinstance(m, Linear):
            lin = torch.nn.Linear(m.weight.shape[1], m.weight.shape[0])
            with torch.no_grad():
                lin.weight.copy_(torch.from_numpy(m.weight.data.copy()))
                lin.bias.copy_(torch.from_numpy(m.bias.data.copy()))
            layers.append(lin)
        else:
            layers.append(torch.nn.ReLU())
    return torch.nn.Sequential(*layers)


def train_torch_mlp(net: torch.nn.Module, data: tuple, epochs: int, lr: float, batch_size: int,
                    seed: int) -> History:  # fmt: skip
    X_train, y_train, X_test, y_test = (torch.from_numpy(a) for a in data)
    opt = torch.optim.SGD(net.parameters(), lr=lr)
    hist = History()

    def predict(x):
        with torch.no_grad():
            return net(torch.as_tensor(x)).numpy()

    for epoch in range(epochs):
        start = time.perf_counter()
        for idx in batches(len(X_train), batch_size, seed + epoch):
            idx = torch.from_numpy(idx)
            loss = F.cross_entropy(net(X_train[idx]), y_train[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            hist.train_loss.append(loss.item())
        hist.epoch_seconds.append(time.perf_counter() - start)
        hist.test_accuracy.append(accuracy(predict, X_test.numpy(), y_test.numpy()))
    return hist
