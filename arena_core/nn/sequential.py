"""Containers: Sequential (apply modules in order) and Identity.

Sequential registers its children under the names "0", "1", ... exactly like `torch.nn.Sequential`,
so parameter names (and state-dict keys) read `layers.3.weight`. Days 11-14 and later.
"""

from collections.abc import Iterator

from torch import Tensor, nn


class Sequential(nn.Module):
    def __init__(self, *modules: nn.Module):
        super().__init__()
        for index, module in enumerate(modules):
            self.add_module(str(index), module)

    def __getitem__(self, index: int) -> nn.Module:
        # negative indices count from the end; anything outside [-len, len) is an error (wrapping
        # it modulo len would quietly return some other layer)
        if not -len(self) <= index < len(self):
            raise IndexError(f"index {index} is out of range for {len(self)} modules")
        return self._modules[str(index % len(self))]

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[nn.Module]:
        return iter(self._modules.values())

    def forward(self, x: Tensor) -> Tensor:
        for module in self._modules.values():
            x = module(x)
        return x


class Identity(nn.Module):
    def forward(self, x: Tensor) -> Tensor:
        return x
