"""Broadcast shape rule and stride-0 expansion vs torch.broadcast_shapes / torch.broadcast_to."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from arena_core.tensors.broadcasting import broadcast_shape, expand_via_strides

dims = st.lists(st.integers(1, 4), min_size=0, max_size=4)


@settings(max_examples=60, deadline=None)
@given(a=dims, b=dims, ones=st.lists(st.booleans(), min_size=4, max_size=4))
def test_broadcast_shape_matches_torch(a, b, ones):
    # set some sizes to 1 so that compatible pairs are common
    a = [1 if o else s for s, o in zip(a, ones)]
    try:
        expected = tuple(torch.broadcast_shapes(tuple(a), tuple(b)))
    except RuntimeError:
        with pytest.raises(ValueError):
            broadcast_shape(tuple(a), tuple(b))
        return
    assert broadcast_shape(tuple(a), tuple(b)) == expected


@pytest.mark.parametrize(
    "src, shape",
    [((3, 1), (2, 3, 4)), ((1,), (5,)), ((4,), (3, 4)), ((2, 1, 3), (2, 5, 3)), ((), (2, 2))],
)
def test_expand_via_strides_matches_broadcast_to(src, shape):
    x = torch.randn(src)
    ours = expand_via_strides(x, shape)
    ref = torch.broadcast_to(x, shape)
    torch.testing.assert_close(ours, ref, rtol=0, atol=0)
    assert ours.stride() == ref.stride()  # the same stride-0 view, not a copy
    assert ours.data_ptr() == x.data_ptr()


def test_expand_of_a_sliced_view_keeps_its_offset():
    base = torch.arange(12.0).reshape(3, 4)
    col = base[:, 2:3]  # non-contiguous, non-zero storage offset
    torch.testing.assert_close(expand_via_strides(col, (3, 5)), col.expand(3, 5))
    with pytest.raises(ValueError):
        expand_via_strides(torch.randn(3), (4,))
