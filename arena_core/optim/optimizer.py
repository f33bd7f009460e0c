"""The optimizer base class: parameter groups, per-parameter state, `zero_grad`, `state_dict`.

Days 15-19. The interface follows `torch.optim.Optimizer`, so that our optimizers and torch's
learning-rate schedulers, training loops and checkpoints are interchangeable:

- `param_groups` is a list of dicts; each holds `"params"` (a list of tensors) and that group's
  hyperparameters (`lr`, `weight_decay`, ...). Keys missing from a group take the constructor's
  defaults, so `SGD([{"params": body}, {"params": head, "lr": 1e-3}], lr=1e-2)` trains the head
  ten times slower than the body.
- `state[p]` holds per-parameter buffers (momentum, Adam moments, the step count), created lazily
  on the first step in which `p` has a gradient. Parameters whose `.grad` is None are skipped:
  neither they nor their state change (their Adam step count does not advance).
- `zero_grad(set_to_none=True)` sets `p.grad = None` (torch's default since 2.0);
  `set_to_none=False` zeroes the gradient tensors in place, so the next step *does* see them (as
  zero gradients; with momentum or weight decay the parameter still moves).

Each subclass writes its update rule twice: `_update` for one tensor, the readable reference, and
`_update_foreach` for the whole group at once with `torch._foreach_*` multi-tensor ops (one
dispatch per operation for all tensors instead of one per tensor). The two give the same numbers;
`foreach=True` picks the second.
"""

from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import Tensor


class Optimizer:
    """Base class; subclasses set `defaults` and implement `_update` and `_update_foreach`."""

    def __init__(self, params: Iterable[Tensor] | Iterable[dict[str, Any]], defaults: dict):
        self.defaults = dict(defaults)
        self.param_groups: list[dict[str, Any]] = []
        self.state: dict[Tensor, dict[str, Any]] = {}
        groups = list(params)
        if not groups:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    def add_param_group(self, group: dict[str, Any]) -> None:
        """Append a group; hyperparameters it does not name come from the defaults."""
        group = dict(group)
        params = group["params"]
        group["params"] = [params] if isinstance(params, Tensor) else list(params)
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        for p in group["params"]:
            if not isinstance(p, Tensor) or not p.is_leaf:
                raise TypeError("optimizers can only optimize leaf tensors")
            if id(p) in seen:
                raise ValueError("a parameter appears in more than one parameter group")
            seen.add(id(p))
        for key, value in self.defaults.items():
            group.setdefault(key, value)
        self.param_groups.append(group)

    def zero_grad(self, set_to_none: bool = True) -> None:
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    p.grad.detach_()
                    p.grad.zero_()

    @torch.no_grad()
    def step(self, closure: Callable[[], Tensor] | None = None) -> Tensor | None:
        """One update of every parameter that has a gradient; `closure` recomputes the loss."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            if not params:
                continue
            if any(p.grad.is_sparse for p in params):
                raise RuntimeError("sparse gradients are not supported")
            states = [self.state.setdefault(p, {}) for p in params]
            if group.get("foreach", False):
                self._update_foreach(group, params, [p.grad for p in params], states)
            else:
                for p, state in zip(params, states, strict=True):
                    self._update(group, p, p.grad, state)
        return loss

    def _update(self, group: dict, p: Tensor, grad: Tensor, state: dict) -> None:
        raise NotImplementedError

    def _update_foreach(
        self, group: dict, params: list[Tensor], grads: list[Tensor], states: list[dict]
    ) -> None:
        raise NotImplementedError

    # --- checkpoints: parameters are referred to by their position across all groups -------
    def state_dict(self) -> dict[str, Any]:
        index = {}
        groups = []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            packed["params"] = []
            for p in group["params"]:
                index[p] = len(index)
                packed["params"].append(index[p])
            groups.append(packed)
        state = {
            index[p]: {k: v.clone() if isinstance(v, Tensor) else v for k, v in s.items()}
            for p, s in self.state.items()
            if p in index
        }
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        saved = state_dict["param_groups"]
        if len(saved) != len(self.param_groups) or any(
            len(s["params"]) != len(g["params"])
            for s, g in zip(saved, self.param_groups, strict=True)
        ):
            raise ValueError("the state dict's parameter groups do not match this optimizer's")
        by_index = {}
        for saved_group, group in zip(saved, self.param_groups, strict=True):
            for i, p in zip(saved_group["params"], group["params"], strict=True):
                by_index[i] = p
            group.update({k: v for k, v in saved_group.items() if k != "params"})
        self.state = {}
        for i, s in state_dict["state"].items():
            p = by_index[int(i)]
            self.state[p] = {
                k: v.to(device=p.device, dtype=p.dtype).clone() if isinstance(v, Tensor) else v
                for k, v in s.items()
            }

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            settings = ", ".join(f"{k}={v}" for k, v in group.items() if k != "params")
            lines.append(f"  group {i}: {len(group['params'])} tensors, {settings}")
        return "\n".join(lines) + "\n)"
