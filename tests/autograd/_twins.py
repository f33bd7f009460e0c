"""Run the same program on our numpy `Tensor` engine and on torch.autograd, and compare what
happened: the same error at the same stage, or the same loss and the same leaf gradients.

A program is `program(lib, *leaves) -> scalar loss`; it uses only methods both tensor types
have (`*`, `.sum()`, `.mul_()`, `.reshape()`, ...) and `lib.no_grad()` / `lib.tensor()`.
float64 throughout: both engines then differ by rounding only (~1e-15 relative per op).
"""

from dataclasses import dataclass

import numpy as np
import torch

from arena_core.autograd import Tensor, no_grad

# torch's wording for a saved tensor that was overwritten; our engine raises the same sentence
INPLACE_ERROR = "modified by an inplace operation"


class Ours:
    name = "ours"
    no_grad = staticmethod(no_grad)

    @staticmethod
    def tensor(array, requires_grad=False):
        return Tensor(np.array(array, dtype=np.float64), requires_grad=requires_grad)

    @staticmethod
    def grad(t):
        return None if t.grad is None else np.array(t.grad.data)

    @staticmethod
    def value(t):
        return np.array(t.data)


class Torch:
    name = "torch"
    no_grad = staticmethod(torch.no_grad)

    @staticmethod
    def tensor(array, requires_grad=False):
        return torch.tensor(np.array(array, dtype=np.float64), requires_grad=requires_grad)

    @staticmethod
    def grad(t):
        if not t.is_leaf:  # a constant that an in-place op gave a history: no .grad, like ours
            return None
        return None if t.grad is None else t.grad.numpy().copy()

    @staticmethod
    def value(t):
        return t.detach().numpy().copy()


@dataclass
class Outcome:
    stage: str  # "forward" or "backward" (where a RuntimeError was raised) or "ok"
    error: str = ""
    loss: np.ndarray | None = None
    grads: tuple = ()


def run(lib, program, arrays, requires_grad) -> Outcome:
    leaves = [lib.tensor(a, rg) for a, rg in zip(arrays, requires_grad, strict=True)]
    try:
        loss = program(lib, *leaves)
    except RuntimeError as e:
        return Outcome("forward", str(e))
    try:
        loss.backward()
    except RuntimeError as e:
        return Outcome("backward", str(e))
    return Outcome("ok", loss=lib.value(loss), grads=tuple(lib.grad(t) for t in leaves))


def assert_same_outcome(program, arrays, requires_grad=None, rtol=1e-10, atol=1e-12):
    """Run `program` on both engines and `assert_outcomes_match`; returns both outcomes."""
    requires_grad = requires_grad or [True] * len(arrays)
    ours = run(Ours, program, arrays, requires_grad)
    theirs = run(Torch, program, arrays, requires_grad)
    assert_outcomes_match(ours, theirs, rtol, atol)
    return ours, theirs


def assert_outcomes_match(ours: Outcome, theirs: Outcome, rtol=1e-10, atol=1e-12) -> None:
    """Both engines raise at the same stage (a backward error being torch's in-place error), or
    both give the same loss and gradients (None, i.e. no path to the leaf, must match too)."""
    assert ours.stage == theirs.stage, (
        f"ours: {ours.stage} {ours.error!r}; torch: {theirs.stage} {theirs.error!r}"
    )
    if theirs.stage == "backward":
        assert INPLACE_ERROR in theirs.error and INPLACE_ERROR in ours.error, (ours, theirs)
    if theirs.stage == "ok":
        np.testing.assert_allclose(ours.loss, theirs.loss, rtol=rtol, atol=atol)
        for i, (g, tg) in enumerate(zip(ours.grads, theirs.grads, strict=True)):
            assert (g is None) == (tg is None), f"leaf {i}: ours {g}, torch {tg}"
            if tg is not None:
                np.testing.assert_allclose(g, tg, rtol=rtol, atol=atol, err_msg=f"leaf {i}")
