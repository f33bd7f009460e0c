"""Scalar neural networks on `Value`: neurons, layers, an MLP, and the max-margin loss of the
micrograd demo (a 2-16-16-1 MLP separating `make_moons`).

Used by day 20 and `benchmarks/bench_micrograd.py`. A neuron computes relu(w . x + b) as a single
`Value.dot` node instead of the chain of 2n binary `*` and `+` nodes that micrograd's `Neuron`
builds, and ||params||^2 is one node too: one step of the demo is a graph of 7,544 nodes instead
of 65,818. That is a graph-shape saving, separate from the engine's: the benchmark reports both
(the engine on micrograd's own graph, and the engine with these fused nodes).
"""

import random
from collections.abc import Sequence

from arena_core.autograd.value import Value


class Neuron:
    def __init__(self, n_in: int, nonlin: bool = True, rng: random.Random | None = None):
        rng = rng or random.Random()
        self.w = [Value(rng.uniform(-1, 1)) for _ in range(n_in)]
        self.b = Value(0.0)
        self.nonlin = nonlin

    def __call__(self, x: Sequence) -> Value:
        act = Value.dot(self.w, x, self.b)
        return act.relu() if self.nonlin else act

    def parameters(self) -> list[Value]:
        return [*self.w, self.b]


class Layer:
    def __init__(
        self, n_in: int, n_out: int, nonlin: bool = True, rng: random.Random | None = None
    ):
        self.neurons = [Neuron(n_in, nonlin, rng) for _ in range(n_out)]

    def __call__(self, x: Sequence) -> list[Value]:
        x = [v if isinstance(v, Value) else Value(v) for v in x]  # once, not once per neuron
        return [n(x) for n in self.neurons]

    def parameters(self) -> list[Value]:
        return [p for n in self.neurons for p in n.parameters()]


class ValueMLP:
    """Fully connected ReLU network on scalars; the last layer is linear."""

    def __init__(self, n_in: int, sizes: list[int], seed: int = 0):
        rng = random.Random(seed)
        dims = [n_in, *sizes]
        self.layers = [
            Layer(dims[i], dims[i + 1], nonlin=i != len(sizes) - 1, rng=rng)
            for i in range(len(sizes))
        ]

    def __call__(self, x: Sequence) -> list[Value]:
        for layer in self.layers:
            x = layer(x)
        return x

    def parameters(self) -> list[Value]:
        return [p for layer in self.layers for p in layer.parameters()]

    def zero_grad(self) -> None:
        for p in self.parameters():
            p.grad = 0.0


def svm_loss(model: ValueMLP, X: Sequence, y: Sequence, alpha: float = 1e-4) -> tuple[Value, float]:
    """The micrograd demo's loss: mean hinge relu(1 - y_i f(x_i)) + alpha * ||params||^2.

    `y` holds labels in {-1, +1}; returns (loss, accuracy of sign(f(x)) == y).
    """
    scores = [model(list(x))[0] for x in X]
    hinge = Value.sum((1 - yi * s).relu() for yi, s in zip(y, scores, strict=True)) * (1.0 / len(y))
    params = model.parameters()
    reg = alpha * Value.dot(params, params)  # ||p||^2 as one node (p appears as both factors)
    accuracy = sum((yi > 0) == (s.data > 0) for yi, s in zip(y, scores, strict=True)) / len(y)
    return hinge + reg, accuracy


def sgd_step(params: list[Value], lr: float) -> None:
    for p in params:
        p.data -= lr * p.grad
