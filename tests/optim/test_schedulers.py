"""Our learning-rate schedules against `torch.optim.lr_scheduler` over 80 steps.

Ours drive our SGD, torch's drive torch's SGD, on two parameter groups with different learning
rates; we compare every group's learning rate and the parameters after every step. Tolerance 1e-10:
torch updates most schedules recursively (η_t from η_{t-1}), ours use closed forms; the two agree
up to float rounding accumulated over 80 multiplications (~1e-14 relative).
"""

import pytest
import torch
from torch.optim import lr_scheduler as tls

from arena_core import optim as ours

STEPS = 80
TOL = 1e-10

CASES = {
    "step": (
        lambda o: ours.StepLR(o, step_size=7, gamma=0.5),
        lambda o: tls.StepLR(o, step_size=7, gamma=0.5),
    ),
    "exponential": (
        lambda o: ours.ExponentialLR(o, gamma=0.97),
        lambda o: tls.ExponentialLR(o, gamma=0.97),
    ),
    "cosine": (
        lambda o: ours.CosineAnnealingLR(o, T_max=30, eta_min=1e-3),
        lambda o: tls.CosineAnnealingLR(o, T_max=30, eta_min=1e-3),
    ),
    "cosine_no_min": (
        lambda o: ours.CosineAnnealingLR(o, T_max=STEPS),
        lambda o: tls.CosineAnnealingLR(o, T_max=STEPS),
    ),
    "linear": (
        lambda o: ours.LinearLR(o, start_factor=0.1, end_factor=0.9, total_iters=13),
        lambda o: tls.LinearLR(o, start_factor=0.1, end_factor=0.9, total_iters=13),
    ),
    "warmup_cosine": (
        lambda o: ours.warmup_cosine(o, warmup_steps=10, total_steps=STEPS, start_factor=0.05),
        lambda o: tls.SequentialLR(
            o,
            [
                tls.LinearLR(o, start_factor=0.05, total_iters=10),
                tls.CosineAnnealingLR(o, T_max=STEPS - 10),
            ],
            milestones=[10],
        ),
    ),
    "three_phase": (
        lambda o: ours.SequentialLR(
            o,
            [ours.LinearLR(o, 0.2, 1.0, 5), ours.ExponentialLR(o, 0.95), ours.StepLR(o, 4, 0.7)],
            milestones=[5, 40],
        ),
        lambda o: tls.SequentialLR(
            o,
            [tls.LinearLR(o, 0.2, 1.0, 5), tls.ExponentialLR(o, 0.95), tls.StepLR(o, 4, 0.7)],
            milestones=[5, 40],
        ),
    ),
}


def groups(params):
    return [{"params": params[:1]}, {"params": params[1:], "lr": 0.3, "momentum": 0.5}]


@pytest.mark.parametrize("name", list(CASES))
def test_schedule_matches_torch(name):
    make_ours, make_torch = CASES[name]
    g = torch.Generator().manual_seed(0)
    base = [torch.randn(5, generator=g, dtype=torch.float64) for _ in range(2)]
    p_ref = [p.clone().requires_grad_() for p in base]
    p_our = [p.clone().requires_grad_() for p in base]
    opt_ref = torch.optim.SGD(groups(p_ref), lr=0.1)
    opt_our = ours.SGD(groups(p_our), lr=0.1)
    sched_ref, sched_our = make_torch(opt_ref), make_ours(opt_our)
    lrs = []
    for _ in range(STEPS):
        assert sched_our.get_last_lr() == pytest.approx(sched_ref.get_last_lr(), abs=TOL, rel=0)
        lrs.append(sched_ref.get_last_lr()[0])
        for params, opt, sched in ((p_ref, opt_ref, sched_ref), (p_our, opt_our, sched_our)):
            opt.zero_grad()
            sum(((p - 1) ** 2).sum() for p in params).backward()
            opt.step()
            sched.step()
        for a, b in zip(p_ref, p_our):
            torch.testing.assert_close(a, b, rtol=0, atol=TOL)
    assert len(set(lrs)) > 3, "the schedule should actually change the learning rate"


@pytest.mark.filterwarnings("ignore:Detected call of `lr_scheduler.step\\(\\)` before")
def test_scheduler_drives_torch_optimizer_and_resumes():
    """Our schedule sets torch's param groups too; a state dict restores it mid-run."""
    p = torch.zeros(3, requires_grad=True)
    opt = torch.optim.SGD([p], lr=0.5)
    sched = ours.warmup_cosine(opt, warmup_steps=4, total_steps=20)
    for _ in range(7):
        sched.step()
    state = sched.state_dict()
    lr_now = opt.param_groups[0]["lr"]
    opt2 = torch.optim.SGD([p], lr=0.5)
    sched2 = ours.warmup_cosine(opt2, warmup_steps=4, total_steps=20)
    sched2.load_state_dict(state)
    assert opt2.param_groups[0]["lr"] == pytest.approx(lr_now, abs=1e-15)
    ref_opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.5)
    ref = tls.SequentialLR(
        ref_opt,
        [tls.LinearLR(ref_opt, 0.01, total_iters=4), tls.CosineAnnealingLR(ref_opt, 16)],
        milestones=[4],
    )
    for _ in range(7):
        ref.step()
    assert lr_now == pytest.approx(ref.get_last_lr()[0], abs=1e-12)
    assert 0 < lr_now < 0.5
