"""Neural-network building blocks on the numpy `Tensor` engine (days 21 and 23).

`Module` registers `Parameter`s and sub-modules assigned as attributes (as torch.nn.Module does),
so `parameters()` finds them recursively; `Linear` uses torch's default initialisation
U(-1/sqrt(fan_in), 1/sqrt(fan_in)); `cross_entropy` is the numerically stable
log-sum-exp form built from primitive ops, so its gradient comes from the engine itself.
"""

from collections.abc import Iterator

import numpy as np

from arena_core.autograd.tensor import Tensor


class Parameter(Tensor):
    """A leaf tensor that requires grad and is registered by `Module`."""

    def __init__(self, data, dtype=None):
        super().__init__(data, requires_grad=True, dtype=dtype)


class Module:
    def __init__(self) -> None:
        object.__setattr__(self, "_parameters", {})
        object.__setattr__(self, "_modules", {})

    def __setattr__(self, name: str, value) -> None:
        if "_parameters" not in self.__dict__:
            raise AttributeError("call super().__init__() before assigning attributes of a Module")
        self._parameters.pop(name, None)
        self._modules.pop(name, None)
        if isinstance(value, Parameter):
            self._parameters[name] = value
        elif isinstance(value, Module):
            self._modules[name] = value
        object.__setattr__(self, name, value)

    def named_parameters(self, prefix: str = "") -> Iterator[tuple[str, Parameter]]:
        for name, p in self._parameters.items():
            yield prefix + name, p
        for name, m in self._modules.items():
            yield from m.named_parameters(prefix + name + ".")

    def parameters(self) -> Iterator[Parameter]:
        return (p for _, p in self.named_parameters())

    def zero_grad(self) -> None:
        for p in self.parameters():
            p.grad = None

    def forward(self, *args):
        raise NotImplementedError

    def __call__(self, *args):
        return self.forward(*args)


class Linear(Module):
    """y = x W^T + b with W of shape (out_features, in_features), as in torch.nn.Linear."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True, rng=None,
                 dtype=np.float32):  # fmt: skip
        super().__init__()
        rng = rng if rng is not None else np.random.default_rng()
        bound = 1.0 / np.sqrt(in_features)
        self.weight = Parameter(rng.uniform(-bound, bound, (out_features, in_features)), dtype)
        self.bias = Parameter(rng.uniform(-bound, bound, out_features), dtype) if bias else None

    def forward(self, x: Tensor) -> Tensor:
        if x.shape[-1] != self.weight.shape[1]:
            raise ValueError(f"Linear expects inputs with last dim {self.weight.shape[1]}, "
                             f"got shape {x.shape}")  # fmt: skip
        out = x @ self.weight.T
        return out + self.bias if self.bias is not None else out


class ReLU(Module):
    def forward(self, x: Tensor) -> Tensor:
        return x.relu()


class Sequential(Module):
    def __init__(self, *modules: Module):
        super().__init__()
        for i, m in enumerate(modules):
            setattr(self, str(i), m)

    def forward(self, x: Tensor) -> Tensor:
        for m in self._modules.values():
            x = m(x)
        return x


class MLP(Sequential):
    """Linear-ReLU-...-Linear; `MLP([784, 64, 64, 10])` is ARENA's day-23 network."""

    def __init__(self, sizes: list[int], rng=None, dtype=np.float32):
        layers: list[Module] = []
        for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
            layers.append(Linear(n_in, n_out, rng=rng, dtype=dtype))
            if i < len(sizes) - 2:
                layers.append(ReLU())
        super().__init__(*layers)


def log_softmax(logits: Tensor, dim: int = -1) -> Tensor:
    """x - logsumexp(x): the max is subtracted (as a constant) so exp never overflows."""
    shifted = logits - logits.amax(dim=dim, keepdim=True).detach()
    return shifted - shifted.exp().sum(dim=dim, keepdim=True).log()


def cross_entropy(logits: Tensor, targets) -> Tensor:
    """Mean negative log-likelihood of integer `targets` (batch,) under softmax(`logits`)."""
    targets = np.asarray(targets.data if isinstance(targets, Tensor) else targets)
    if logits.ndim != 2 or targets.shape != (logits.shape[0],):
        raise ValueError(f"cross_entropy expects logits (batch, classes) and targets (batch,), got "
                         f"{logits.shape} and {targets.shape}")  # fmt: skip
    logp = log_softmax(logits, dim=-1)
    return -logp[np.arange(len(targets)), targets].mean()
