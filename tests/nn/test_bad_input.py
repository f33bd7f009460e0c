"""Bad input gets a clear error, never a silently wrong shape.

Every layer of batchnorm.py, pooling.py, linear.py and conv_transpose.py is fed a wrong rank or a
wrong channel count. torch's twin must refuse the same input (so the case really is invalid, not
a rule we made up), and ours must raise a ValueError whose message names the layer, what it
expects and the shape it was given. Inputs that torch accepts (unbatched (C, H, W) images for the
pools and the transposed convolution) are checked against torch's values in test_pooling.py and
test_conv_transpose.py.

The suite's jaxtyping hook checks annotations before a forward runs, so it would reject some of
these inputs (a 3-D tensor where the annotation says "batch channels height width") before the
layer's own check. Users run without the hook and see the layer's message, so these tests turn
the hook off to check that message.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass

import jaxtyping
import pytest
import torch
import torch.nn.functional as F

from arena_core import nn as ours_nn


@dataclass(frozen=True)
class Case:
    name: str
    ours: Callable[[], Callable]  # builds our layer (or a functional with its arguments bound)
    ref: Callable[[], Callable]  # builds torch's twin
    shape: tuple[int, ...]  # the bad input
    expects: str  # regex for the "<layer> expects ..." part of our message


def _layers(build: Callable[[object], Callable]) -> tuple[Callable, Callable]:
    """The same constructor call on our namespace and on torch.nn (same names, same arguments)."""
    return (lambda: build(ours_nn)), (lambda: build(torch.nn))


def _case(name, build, shape, expects):
    ours, ref = _layers(build)
    return Case(name, ours, ref, shape, expects)


BN = r"BatchNorm2d\({c}\) expects a 4-D input \(N, {c}, H, W\)"
POOL = r"{layer} expects a 4-D input \(N, C, H, W\) or an unbatched 3-D input \(C, H, W\)"
CT = r"{who} expects a 4-D input \(N, 3, H, W\) or an unbatched 3-D input \(3, H, W\)"

CASES = [
    # BatchNorm2d: eval mode used to broadcast these silently (BatchNorm2d(1) applied channel 0's
    # statistics to 3 channels; 2-D and 3-D inputs came back 4-D); train mode failed obscurely
    _case("bn-eval-channels", lambda m: m.BatchNorm2d(1).eval(), (2, 3, 4, 4), BN.format(c=1)),
    _case("bn-eval-2d", lambda m: m.BatchNorm2d(3).eval(), (2, 3), BN.format(c=3)),
    _case("bn-eval-3d", lambda m: m.BatchNorm2d(3).eval(), (2, 3, 5), BN.format(c=3)),
    _case("bn-eval-unbatched", lambda m: m.BatchNorm2d(3).eval(), (3, 4, 4), BN.format(c=3)),
    _case("bn-eval-5d", lambda m: m.BatchNorm2d(3).eval(), (1, 3, 2, 4, 4), BN.format(c=3)),
    _case("bn-train-channels", lambda m: m.BatchNorm2d(1), (2, 3, 4, 4), BN.format(c=1)),
    _case("bn-train-3d", lambda m: m.BatchNorm2d(3), (2, 3, 5), BN.format(c=3)),
    # pools: 3-D and 4-D are valid, anything else is not. AdaptiveAvgPool2d uses output size 2
    # because torch's 1x1 case is a plain mean over the last two dims that accepts any rank.
    *[
        _case(f"{layer}-{len(shape)}d", build, shape, POOL.format(layer=layer))
        for layer, build in [
            ("MaxPool2d", lambda m: m.MaxPool2d(2)),
            ("AvgPool2d", lambda m: m.AvgPool2d(2)),
            ("AdaptiveAvgPool2d", lambda m: m.AdaptiveAvgPool2d(2)),
        ]
        for shape in [(6, 6), (1, 3, 6, 6, 6)]
    ],
    # Linear: the last dim must be in_features (matmul's own error names neither)
    _case("linear-last-dim", lambda m: m.Linear(7, 4), (5, 6), r"Linear\(7, 4\) .* \(\*, 7\)"),
    _case("linear-3d", lambda m: m.Linear(7, 4), (2, 3, 8), r"Linear\(7, 4\) .* \(\*, 7\)"),
    _case("linear-0d", lambda m: m.Linear(1, 4), (), r"Linear\(1, 4\) .* \(\*, 1\)"),
    # Flatten: out-of-range dims used to wrap around and flatten the wrong dims
    _case("flatten-1d", lambda m: m.Flatten(), (5,), r"Flatten\(start_dim=1, end_dim=-1\)"),
    _case("flatten-order", lambda m: m.Flatten(2, 1), (2, 3, 4), r"Flatten\(start_dim=2"),
    _case("flatten-range", lambda m: m.Flatten(3), (2, 3, 4), r"Flatten\(start_dim=3"),
    # ConvTranspose2d(3, 2): a 3-channel batch or one 3-channel image
    *[
        _case(
            f"convT-{shape}",
            lambda m: m.ConvTranspose2d(3, 2, 3),
            shape,
            CT.format(who=r"ConvTranspose2d\(3, 2\)"),
        )
        for shape in [(1, 4, 5, 5), (4, 5, 5), (5, 5), (1, 3, 5, 5, 5)]
    ],
    # the functional forms name themselves
    Case(
        "max_pool2d-5d",
        lambda: lambda x: ours_nn.max_pool2d(x, 2),
        lambda: lambda x: F.max_pool2d(x, 2),
        (1, 3, 6, 6, 6),
        POOL.format(layer="max_pool2d"),
    ),
    Case(
        "avg_pool2d-2d",
        lambda: lambda x: ours_nn.avg_pool2d(x, 2),
        lambda: lambda x: F.avg_pool2d(x, 2),
        (6, 6),
        POOL.format(layer="avg_pool2d"),
    ),
    Case(
        "adaptive_avg_pool2d-5d",
        lambda: lambda x: ours_nn.adaptive_avg_pool2d(x, 2),
        lambda: lambda x: F.adaptive_avg_pool2d(x, 2),
        (1, 3, 6, 6, 6),
        POOL.format(layer="adaptive_avg_pool2d"),
    ),
    *[
        Case(
            f"conv_transpose2d-{shape}",
            lambda: lambda x: ours_nn.conv_transpose2d(x, torch.ones(3, 2, 3, 3)),
            lambda: lambda x: F.conv_transpose2d(x, torch.ones(3, 2, 3, 3)),
            shape,
            CT.format(who="conv_transpose2d"),
        )
        for shape in [(1, 4, 5, 5), (5, 5)]
    ],
]


@pytest.fixture
def no_jaxtyping(monkeypatch):
    """Run without the suite's annotation checks, as users do (see the module docstring)."""
    monkeypatch.setattr(jaxtyping.config, "jaxtyping_disable", True)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_torch_refuses_the_input_too(case):
    with pytest.raises((ValueError, RuntimeError, IndexError)):
        case.ref()(torch.randn(case.shape))


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_ours_raises_a_clear_error(case, no_jaxtyping):
    got = re.escape(f"got shape {case.shape}")
    with pytest.raises(ValueError, match=f"{case.expects}.*{got}"):
        case.ours()(torch.randn(case.shape))


@pytest.mark.parametrize("shape", [(6,), (6, 6), (1, 3, 6, 6, 6)])
def test_global_avg_pool_refuses_other_ranks(shape, no_jaxtyping):
    # no torch twin: torch's AdaptiveAvgPool2d(1) is a mean over the last two dims of any rank
    with pytest.raises(ValueError, match=POOL.format(layer="GlobalAvgPool")):
        ours_nn.GlobalAvgPool()(torch.randn(shape))


def test_weight_of_wrong_rank_is_refused(no_jaxtyping):
    with pytest.raises(RuntimeError):
        F.conv_transpose2d(torch.randn(1, 3, 5, 5), torch.randn(3, 2, 3))
    with pytest.raises(ValueError, match=r"conv_transpose2d expects a 4-D weight .* \(3, 2, 3\)"):
        ours_nn.conv_transpose2d(torch.randn(1, 3, 5, 5), torch.randn(3, 2, 3))
