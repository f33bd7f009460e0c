"""Hook points with TransformerLens names, `run_with_hooks` and `run_with_cache` (days 29–62).

A `HookPoint` is an identity module placed at every interesting activation
(`blocks.3.attn.hook_pattern`, `blocks.3.hook_resid_post`, ...). Its name is its path in the
module tree, exactly as in TransformerLens. A hook is `fn(tensor, hook) -> tensor | None`;
returning a tensor replaces the activation (patching, ablation, steering), returning None leaves
it alone (caching, inspection).

Cost when unused: `HookPoint.__call__` is overridden to skip `nn.Module.__call__` (whose hook
machinery costs microseconds) and is one Python attribute test when no hook is attached. Modules
that have a cheaper fused path (attention's `scaled_dot_product_attention`) ask
`hook_point.active` to decide whether the explicit path must run so hooks can see the pattern.
"""

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

import torch
from torch import Tensor, nn

HookFn = Callable[[Tensor, "HookPoint"], Tensor | None]
NamesFilter = Callable[[str], bool] | str | Iterable[str] | None


class HookPoint(nn.Module):
    """Identity at a named activation; hooks attached here see (and may replace) the tensor."""

    def __init__(self):
        super().__init__()
        self.name: str = ""  # filled in by `HookedModel.setup_hooks` with the module path
        self.hooks: list[HookFn] = []

    @property
    def active(self) -> bool:
        return bool(self.hooks)

    def add_hook(self, fn: HookFn) -> None:
        self.hooks.append(fn)

    def remove_hooks(self) -> None:
        self.hooks.clear()

    def __call__(self, x: Tensor) -> Tensor:  # bypasses nn.Module.__call__: free when unused
        if not self.hooks:
            return x
        for fn in self.hooks:
            out = fn(x, self)
            if out is not None:
                x = out
        return x

    def forward(self, x: Tensor) -> Tensor:
        return self(x)


def _as_filter(names_filter: NamesFilter) -> Callable[[str], bool]:
    if names_filter is None:
        return lambda name: True
    if callable(names_filter):
        return names_filter
    if isinstance(names_filter, str):
        return lambda name: name == names_filter
    wanted = set(names_filter)
    return lambda name: name in wanted


# TransformerLens' short names: cache["pattern", 3] == cache["blocks.3.attn.hook_pattern"].
_SHORT = {
    "resid_pre": "hook_resid_pre",
    "resid_mid": "hook_resid_mid",
    "resid_post": "hook_resid_post",
    "attn_out": "hook_attn_out",
    "mlp_out": "hook_mlp_out",
    "q": "attn.hook_q",
    "k": "attn.hook_k",
    "v": "attn.hook_v",
    "z": "attn.hook_z",
    "rot_q": "attn.hook_rot_q",
    "rot_k": "attn.hook_rot_k",
    "attn_scores": "attn.hook_attn_scores",
    "pattern": "attn.hook_pattern",
    "attn": "attn.hook_pattern",
    "pre": "mlp.hook_pre",
    "pre_linear": "mlp.hook_pre_linear",
    "post": "mlp.hook_post",
}


def act_name(name: str, layer: int | None = None, sub: str | None = None) -> str:
    """Full hook name from a short one: `act_name("pattern", 3)` -> "blocks.3.attn.hook_pattern"."""
    if layer is None:
        return {"embed": "hook_embed", "pos_embed": "hook_pos_embed"}.get(name, name)
    if name in ("scale", "normalized"):
        return f"blocks.{layer}.{sub or 'ln1'}.hook_{name}"
    return f"blocks.{layer}.{_SHORT.get(name, name)}"


class ActivationCache(dict):
    """A dict of hook name -> activation that also accepts TL-style keys like `("pattern", 3)`."""

    def __getitem__(self, key):
        if isinstance(key, tuple):
            key = act_name(*key)
        elif key not in self and isinstance(key, str):
            key = act_name(key)
        return super().__getitem__(key)

    def stack(self, name: str, n_layers: int) -> Tensor:
        """Stack one short-named activation over layers: `[n_layers, ...]`."""
        return torch.stack([self[name, layer] for layer in range(n_layers)])


class HookedModel(nn.Module):
    """Base class for models with hook points: call `setup_hooks()` at the end of `__init__`."""

    def setup_hooks(self) -> None:
        self.hook_dict: dict[str, HookPoint] = {}
        for name, module in self.named_modules():
            if isinstance(module, HookPoint):
                module.name = name
                self.hook_dict[name] = module

    def reset_hooks(self) -> None:
        for hp in self.hook_dict.values():
            hp.remove_hooks()

    def add_hook(self, name: str | Callable[[str], bool], fn: HookFn) -> None:
        """Attach `fn` to the hook point `name`, or to every hook point passing a filter."""
        if isinstance(name, str):
            if name not in self.hook_dict:
                raise KeyError(f"no hook point named {name!r}; see model.hook_dict for the names")
            self.hook_dict[name].add_hook(fn)
        else:
            for hp_name, hp in self.hook_dict.items():
                if name(hp_name):
                    hp.add_hook(fn)

    @contextmanager
    def hooks(self, fwd_hooks: Iterable[tuple[str | Callable[[str], bool], HookFn]]) -> Iterator:
        """Attach hooks for the duration of a `with` block (always removed afterwards)."""
        try:
            for name, fn in fwd_hooks:
                self.add_hook(name, fn)
            yield self
        finally:
            self.reset_hooks()

    def run_with_hooks(self, *args, fwd_hooks=(), **kwargs):
        """Forward with temporary hooks: `fwd_hooks=[(name_or_filter, fn), ...]`."""
        with self.hooks(fwd_hooks):
            return self(*args, **kwargs)

    def run_with_cache(
        self, *args, names_filter: NamesFilter = None, detach: bool = True, **kwargs
    ) -> tuple[Tensor, ActivationCache]:
        """Forward that also returns the activations at every hook point passing `names_filter`.

        Activations are stored as they are (no copy): the forward never modifies a tensor in place
        after its hook point. `detach=False` keeps them in the autograd graph.
        Note: caching `hook_pattern` or `hook_attn_scores` switches attention to the explicit
        (non-SDPA) path, so asking only for what you need is also faster.
        """
        keep = _as_filter(names_filter)
        cache = ActivationCache()

        def save(x: Tensor, hook: HookPoint) -> None:
            cache[hook.name] = x.detach() if detach else x

        names = [n for n in self.hook_dict if keep(n)]
        with self.hooks([(n, save) for n in names]):
            out = self(*args, **kwargs)
        return out, cache
