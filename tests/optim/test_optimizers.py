"""Our optimizers against `torch.optim` on random float64 problems, step by step for 60 steps.

Each problem has two parameter groups with different hyperparameters, a parameter that never gets
a gradient (must stay untouched), and one that gets a gradient only on even steps (skipped on odd
steps when `zero_grad(set_to_none=True)` left its grad as None; updated with a zero gradient when
`set_to_none=False` left a zero tensor). Both the per-tensor and the foreach path are checked.

Tolerance 1e-10: both sides do the same float64 arithmetic up to the order of a few operations
(rounding ~1e-16 per op); over 60 steps on a well-conditioned problem the gap stays < 1e-13, so
1e-10 catches any real difference (a wrong bias correction or weight-decay form is ≥ 1e-4).
"""

import copy

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from arena_core.optim import SGD, Adam, AdamW, RMSprop

SHAPES = [(3,), (4, 5), (2, 3, 7), (1,), (6, 1)]
STEPS = 60
TOL = 1e-10


def make_params(seed: int) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(s, generator=g, dtype=torch.float64) for s in [*SHAPES, (5,), (2, 2)]]


def loss_fn(params: list[torch.Tensor], step: int) -> torch.Tensor:
    """A smooth random problem; parameter -2 only enters on even steps, -1 never does."""
    g = torch.Generator().manual_seed(1000 + step)  # fresh "mini-batch" noise every step
    loss = torch.zeros((), dtype=torch.float64)
    used = params[:-2] + ([params[-2]] if step % 2 == 0 else [])
    for p in used:
        target = torch.randn(p.shape, generator=g, dtype=torch.float64)
        loss = loss + ((p - target) ** 2).sum() + 0.1 * torch.cos(p).sum()
    return loss + 0.05 * (params[0].sum() * params[1].sum())


def groups_of(params, group_kwargs):
    return [{"params": params[:3]}, {"params": params[3:], **group_kwargs}]


def run_pair(ours_cls, torch_cls, kwargs, group_kwargs, foreach, set_to_none_every=3):
    base = make_params(0)
    p_ref = [p.clone().requires_grad_() for p in base]
    p_our = [p.clone().requires_grad_() for p in base]
    opt_ref = torch_cls(groups_of(p_ref, group_kwargs), **kwargs, foreach=False)
    opt_our = ours_cls(groups_of(p_our, group_kwargs), **kwargs, foreach=foreach)
    for step in range(STEPS):
        set_to_none = step % set_to_none_every != 0
        for opt, params in ((opt_ref, p_ref), (opt_our, p_our)):
            opt.zero_grad(set_to_none=set_to_none)
            loss_fn(params, step).backward()
            opt.step()
        for a, b in zip(p_ref, p_our):
            assert torch.allclose(a, b, rtol=0, atol=TOL), f"step {step}: {(a - b).abs().max()}"
            assert (a.grad is None) == (b.grad is None)
    moved = [(a - b).abs().max().item() for a, b in zip(p_ref, base)]
    assert min(moved[:-1]) > 1e-3, "every parameter with gradients should have moved"
    assert torch.equal(p_our[-1].detach(), base[-1]), "a parameter without gradient must not move"
    return opt_our


SETTINGS = settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
lrs = st.floats(1e-3, 5e-2)
decays = st.sampled_from([0.0, 1e-3, 0.1])


@SETTINGS
@given(
    lr=lrs,
    momentum=st.sampled_from([0.0, 0.5, 0.9]),
    dampening=st.sampled_from([0.0, 0.3]),
    nesterov=st.booleans(),
    wd=decays,
    lr2=lrs,
    foreach=st.booleans(),
)
def test_sgd_matches_torch(lr, momentum, dampening, nesterov, wd, lr2, foreach):
    if nesterov and (momentum == 0 or dampening != 0):
        dampening, momentum = 0.0, 0.9
    kwargs = dict(lr=lr, momentum=momentum, dampening=dampening, nesterov=nesterov, weight_decay=wd)
    run_pair(SGD, torch.optim.SGD, kwargs, {"lr": lr2, "momentum": 0.8}, foreach)


@SETTINGS
@given(
    lr=lrs,
    alpha=st.sampled_from([0.9, 0.99]),
    momentum=st.sampled_from([0.0, 0.5]),
    centered=st.booleans(),
    wd=decays,
    eps=st.sampled_from([1e-8, 1e-3]),
    foreach=st.booleans(),
)
def test_rmsprop_matches_torch(lr, alpha, momentum, centered, wd, eps, foreach):
    kwargs = dict(
        lr=lr, alpha=alpha, momentum=momentum, centered=centered, weight_decay=wd, eps=eps
    )
    run_pair(
        RMSprop, torch.optim.RMSprop, kwargs, {"lr": lr / 2, "centered": not centered}, foreach
    )


@pytest.mark.parametrize(
    "ours_cls,torch_cls", [(Adam, torch.optim.Adam), (AdamW, torch.optim.AdamW)]
)
@SETTINGS
@given(
    lr=lrs,
    beta1=st.sampled_from([0.0, 0.8, 0.9]),
    beta2=st.sampled_from([0.9, 0.999]),
    amsgrad=st.booleans(),
    wd=decays,
    eps=st.sampled_from([1e-8, 1e-4]),
    foreach=st.booleans(),
)
def test_adam_matches_torch(ours_cls, torch_cls, lr, beta1, beta2, amsgrad, wd, eps, foreach):
    kwargs = dict(lr=lr, betas=(beta1, beta2), amsgrad=amsgrad, weight_decay=wd, eps=eps)
    groups = {"lr": 2 * lr, "betas": (0.5, 0.99), "weight_decay": 0.05}
    run_pair(ours_cls, torch_cls, kwargs, groups, foreach)


@pytest.mark.parametrize("foreach", [False, True])
def test_zero_grad_semantics_match_torch(foreach):
    p_ref = torch.randn(4, dtype=torch.float64, requires_grad=True)
    p_our = p_ref.detach().clone().requires_grad_()
    opt_ref = torch.optim.SGD([p_ref], lr=0.1)
    opt_our = SGD([p_our], lr=0.1, foreach=foreach)
    for p, opt in ((p_ref, opt_ref), (p_our, opt_our)):
        (p**2).sum().backward()
        opt.zero_grad(set_to_none=False)
    assert torch.equal(p_our.grad, p_ref.grad) and not p_our.grad.any()
    opt_our.zero_grad()
    opt_ref.zero_grad()
    assert p_our.grad is None and p_ref.grad is None
    opt_our.step()  # no gradients at all: a no-op
    assert torch.equal(p_our, p_ref)


@pytest.mark.parametrize("foreach", [False, True])
def test_add_param_group_and_state_dict_round_trip(foreach):
    """Resuming from a state dict (with a group added mid-run) gives torch's uninterrupted path."""
    base = make_params(1)
    p_ref = [p.clone().requires_grad_() for p in base]
    p_our = [p.clone().requires_grad_() for p in base]
    opt_ref = torch.optim.Adam(p_ref[:4], lr=0.02, amsgrad=True)
    opt_our = Adam(p_our[:4], lr=0.02, amsgrad=True, foreach=foreach)
    for step in range(30):
        if step == 10:
            opt_ref.add_param_group({"params": p_ref[4:], "lr": 0.05, "weight_decay": 0.1})
            opt_our.add_param_group({"params": p_our[4:], "lr": 0.05, "weight_decay": 0.1})
        if step == 20:  # checkpoint, then continue on a fresh optimizer built from it
            saved = copy.deepcopy(opt_our.state_dict())
            opt_our = Adam(p_our[:4], lr=1.0, foreach=foreach)
            opt_our.add_param_group({"params": p_our[4:]})
            opt_our.load_state_dict(saved)
        for params, opt in ((p_ref, opt_ref), (p_our, opt_our)):
            opt.zero_grad()
            loss_fn(params, step).backward()
            opt.step()
    for a, b in zip(p_ref, p_our):
        torch.testing.assert_close(a, b, rtol=0, atol=TOL)


def test_rejects_bad_input():
    p = torch.zeros(2, requires_grad=True)
    with pytest.raises(ValueError):
        SGD([p], lr=0.1, nesterov=True)
    with pytest.raises(ValueError):
        SGD([{"params": [p]}, {"params": [p]}], lr=0.1)
    with pytest.raises(ValueError):
        Adam([], lr=0.1)
    with pytest.raises(TypeError):
        SGD([p * 2], lr=0.1)
