"""Stochastic gradient descent for `Parameter`s of the numpy engine (day 23).

Same update as torch.optim.SGD (dampening 0, no Nesterov):
    g = grad + weight_decay * p ;  b = momentum * b + g (b = g on the first step) ;  p -= lr * b
"""

import numpy as np

from arena_core.autograd.grad_mode import no_grad


class SGD:
    def __init__(self, params, lr: float, momentum: float = 0.0, weight_decay: float = 0.0):
        self.params = list(params)
        if not self.params:
            raise ValueError("SGD got an empty parameter list")
        self.lr, self.momentum, self.weight_decay = lr, momentum, weight_decay
        self.buffers: list[np.ndarray | None] = [None] * len(self.params)

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    def step(self) -> None:
        with no_grad():
            for i, p in enumerate(self.params):
                if p.grad is None:
                    continue
                g = p.grad.data
                if self.weight_decay:
                    g = g + self.weight_decay * p.data
                if self.momentum:
                    buf = self.buffers[i]
                    self.buffers[i] = g.copy() if buf is None else self.momentum * buf + g
                    g = self.buffers[i]
                p.sub_(self.lr * g)
