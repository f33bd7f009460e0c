"""A randomly initialised twin of a model: same architecture and tokenizer, fresh weights (day 41).

The baseline of "Probing a randomly initialised network" (Zhang & Bowman 2018, "Language Modeling
Teaches You More than Translation Does"; Hewitt & Liang 2019): if a probe reads a property just as
well from an untrained copy of the model, the property comes from the input tokens themselves (a
random embedding is a lookup table of token identity), not from anything the model learned.

`random_twin(model, seed)` builds `type(model)(model.cfg)` under a seeded generator, so the
weights come from the project's own `CausalLM.init_weights` (N(0, cfg.init_range) matrices,
zero biases, unit norm gains), the same scheme as HF's `initializer_range`. The source model is
not touched.
"""

import torch

from arena_core.errors import UserError
from arena_core.transformer.model import CausalLM


class RandomTwinError(UserError, TypeError):
    """A model that has no config to rebuild a random copy from."""


def random_twin(model: torch.nn.Module, seed: int = 0) -> CausalLM:
    """A new model of the same class and config with seeded random weights, in eval mode, on the
    same device and dtype, sharing the source model's tokenizer if it has one."""
    if not isinstance(model, CausalLM) or not hasattr(model, "cfg"):
        raise RandomTwinError(f"expected one of our CausalLM models, got {type(model).__name__}")
    devices = {p.device for p in model.parameters()}
    dtypes = {p.dtype for p in model.parameters()}
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        twin = type(model)(model.cfg)  # the constructor calls init_weights()
    twin = twin.to(device=devices.pop(), dtype=dtypes.pop()).eval()
    tok = getattr(model, "tokenizer", None)
    if tok is not None:
        twin.tokenizer = tok
    return twin
