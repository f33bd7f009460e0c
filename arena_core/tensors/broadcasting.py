"""Broadcasting, spelled out: the shape rule and the stride-0 trick that makes it free.

Rule (NumPy/torch): align shapes at the right; two sizes are compatible when they are equal or
one of them is 1; the result takes the larger. Missing leading dims count as 1.

Why it costs no memory: a dimension of size 1 can be "stretched" to size n by giving it stride 0,
so every index along it reads the same element. `expand_via_strides` builds exactly that view with
`as_strided`, which is what `torch.Tensor.expand` / `torch.broadcast_to` do internally.

Used by day 1 (ARENA 0.0 prerequisites); the stride view reappears in day 11 (conv via as_strided).
"""

from jaxtyping import Shaped
from torch import Tensor


def broadcast_shape(*shapes: tuple[int, ...]) -> tuple[int, ...]:
    """The shape that `shapes` broadcast to, or ValueError naming the clashing sizes."""
    ndim = max((len(s) for s in shapes), default=0)
    result = []
    for axis in range(-ndim, 0):  # right-aligned
        sizes = {s[axis] for s in shapes if len(s) >= -axis} - {1}
        if len(sizes) > 1:
            raise ValueError(f"shapes {shapes} do not broadcast: sizes {sorted(sizes)} at {axis}")
        result.append(sizes.pop() if sizes else 1)
    return tuple(result)


def expand_via_strides(x: Shaped[Tensor, "..."], shape: tuple[int, ...]) -> Shaped[Tensor, "..."]:
    """A read-only-in-spirit view of x broadcast to `shape`: stride 0 on every stretched dim."""
    if broadcast_shape(tuple(x.shape), shape) != tuple(shape):
        raise ValueError(f"cannot expand shape {tuple(x.shape)} to {tuple(shape)}")
    lead = len(shape) - x.ndim
    strides = []
    for axis, size in enumerate(shape):
        src = axis - lead
        if src < 0 or (x.shape[src] == 1 and size != 1):
            strides.append(0)  # new or stretched dimension: every index reads the same element
        else:
            strides.append(x.stride(src))
    return x.as_strided(shape, strides, x.storage_offset())
