"""Learning-rate schedules that set `group["lr"]` of an optimizer's parameter groups.

Days 15-18. Each schedule is a closed-form function of the step count t = 0, 1, 2, ... and the
group's initial learning rate η_0 (kept in `group["initial_lr"]`, as torch does):

    StepLR          η_t = η_0 γ^⌊t / s⌋
    ExponentialLR   η_t = η_0 γ^t
    CosineAnnealing η_t = η_min + (η_0 − η_min) (1 + cos(π t / T)) / 2   (Loshchilov & Hutter '17)
    LinearLR        η_t = η_0 (a + (b − a) min(t, T) / T)        (linear warm-up when a < b = 1)
    SequentialLR    schedule k runs on t − m_k after milestone m_k (warm-up → cosine)

Usage is torch's: build the scheduler after the optimizer (that sets the step-0 learning rate),
call `scheduler.step()` after each `optimizer.step()`. They drive our optimizers and torch's alike,
since both expose `param_groups`. torch computes most schedules recursively (η_t from η_{t-1});
the closed forms agree with it up to float rounding (checked in tests/optim/test_schedulers.py).
"""

import bisect
import math


class LRScheduler:
    """Base class: subclasses implement `lr_at(t, base_lr)`."""

    def __init__(self, optimizer, last_epoch: int = -1):
        self.optimizer = optimizer
        for group in optimizer.param_groups:
            group.setdefault("initial_lr", group["lr"])
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        self.step()

    def lr_at(self, t: int, base_lr: float) -> float:
        raise NotImplementedError

    def step(self) -> None:
        self.last_epoch += 1
        self._set(self.last_epoch)

    def _set(self, t: int) -> None:
        for group, base in zip(self.optimizer.param_groups, self.base_lrs, strict=True):
            group["lr"] = self.lr_at(t, base)
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    def get_last_lr(self) -> list[float]:
        return list(self._last_lr)

    def state_dict(self) -> dict:
        return {"last_epoch": self.last_epoch, "base_lrs": list(self.base_lrs)}

    def load_state_dict(self, state: dict) -> None:
        self.last_epoch, self.base_lrs = state["last_epoch"], list(state["base_lrs"])
        self._set(self.last_epoch)


class StepLR(LRScheduler):
    def __init__(self, optimizer, step_size: int, gamma: float = 0.1, last_epoch: int = -1):
        if step_size < 1:
            raise ValueError("step_size must be >= 1")
        self.step_size, self.gamma = step_size, gamma
        super().__init__(optimizer, last_epoch)

    def lr_at(self, t: int, base_lr: float) -> float:
        return base_lr * self.gamma ** (t // self.step_size)


class ExponentialLR(LRScheduler):
    def __init__(self, optimizer, gamma: float, last_epoch: int = -1):
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def lr_at(self, t: int, base_lr: float) -> float:
        return base_lr * self.gamma**t


class CosineAnnealingLR(LRScheduler):
    """Half a cosine from η_0 down to η_min over `T_max` steps (beyond it, the cosine continues)."""

    def __init__(self, optimizer, T_max: int, eta_min: float = 0.0, last_epoch: int = -1):
        if T_max < 1:
            raise ValueError("T_max must be >= 1")
        self.T_max, self.eta_min = T_max, eta_min
        super().__init__(optimizer, last_epoch)

    def lr_at(self, t: int, base_lr: float) -> float:
        return (
            self.eta_min + (base_lr - self.eta_min) * (1 + math.cos(math.pi * t / self.T_max)) / 2
        )


class LinearLR(LRScheduler):
    """Scale η_0 linearly from `start_factor` to `end_factor` over `total_iters` steps."""

    def __init__(
        self,
        optimizer,
        start_factor: float = 1 / 3,
        end_factor: float = 1.0,
        total_iters: int = 5,
        last_epoch: int = -1,
    ):
        if not 0 < start_factor <= 1 or not 0 <= end_factor <= 1 or total_iters < 1:
            raise ValueError("need 0 < start_factor <= 1, 0 <= end_factor <= 1, total_iters >= 1")
        self.start_factor, self.end_factor, self.total_iters = start_factor, end_factor, total_iters
        super().__init__(optimizer, last_epoch)

    def lr_at(self, t: int, base_lr: float) -> float:
        frac = min(t, self.total_iters) / self.total_iters
        return base_lr * (self.start_factor + (self.end_factor - self.start_factor) * frac)


class SequentialLR(LRScheduler):
    """Run `schedulers[k]` from step `milestones[k-1]` on, restarting its clock at 0 there."""

    def __init__(self, optimizer, schedulers: list[LRScheduler], milestones: list[int]):
        if len(milestones) != len(schedulers) - 1 or sorted(milestones) != list(milestones):
            raise ValueError("need len(schedulers) - 1 increasing milestones")
        self.schedulers, self.milestones = schedulers, list(milestones)
        super().__init__(optimizer)

    def lr_at(self, t: int, base_lr: float) -> float:
        k = bisect.bisect_right(self.milestones, t)
        start = self.milestones[k - 1] if k > 0 else 0
        return self.schedulers[k].lr_at(t - start, base_lr)


def warmup_cosine(
    optimizer, warmup_steps: int, total_steps: int, start_factor: float = 0.01, eta_min: float = 0.0
) -> SequentialLR:
    """Linear warm-up from `start_factor`·η_0 to η_0, then cosine decay to `eta_min` by the end."""
    warmup = LinearLR(optimizer, start_factor, 1.0, total_iters=warmup_steps)
    cosine = CosineAnnealingLR(optimizer, T_max=total_steps - warmup_steps, eta_min=eta_min)
    return SequentialLR(optimizer, [warmup, cosine], milestones=[warmup_steps])
