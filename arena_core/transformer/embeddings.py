"""Token embedding, learned positional embedding and unembedding (days 29–32).

TransformerLens layouts: `W_E [d_vocab d_model]`, `W_pos [n_ctx d_model]`, `W_U [d_model d_vocab]`.
With tied embeddings (GPT-2, SmolLM2) the unembedding owns no matrix: `W_U` is a view `W_E.T`,
so the parameter is counted (and trained) once.
"""

import torch
from jaxtyping import Float, Int
from torch import Tensor, nn


class Embed(nn.Module):
    def __init__(self, d_vocab: int, d_model: int):
        super().__init__()
        self.W_E = nn.Parameter(torch.empty(d_vocab, d_model))

    def forward(self, tokens: Int[Tensor, "batch pos"]) -> Float[Tensor, "batch pos d_model"]:
        return self.W_E[tokens]


class PosEmbed(nn.Module):
    """Learned absolute positions (GPT-2). Positions are given explicitly so that left-padded
    rows and KV-cached steps get the right rows of `W_pos`."""

    def __init__(self, n_ctx: int, d_model: int):
        super().__init__()
        self.W_pos = nn.Parameter(torch.empty(n_ctx, d_model))

    def forward(self, positions: Int[Tensor, "batch pos"]) -> Float[Tensor, "batch pos d_model"]:
        return self.W_pos[positions]


class Unembed(nn.Module):
    """logits = x @ W_U (+ b_U). `tied_to` makes W_U the transpose of an `Embed`'s W_E."""

    def __init__(
        self, d_model: int, d_vocab: int, tied_to: Embed | None = None, bias: bool = False
    ):
        super().__init__()
        # A plain attribute list hides the tied Embed from the module tree (no duplicate names).
        self._tied = [tied_to] if tied_to is not None else []
        if tied_to is None:
            self.W_U = nn.Parameter(torch.empty(d_model, d_vocab))
        self.b_U = nn.Parameter(torch.zeros(d_vocab)) if bias else None

    def __getattr__(self, name: str):
        if name == "W_U" and self.__dict__.get("_tied"):
            return self._tied[0].W_E.T  # tied: a view, not a parameter of its own
        return super().__getattr__(name)

    def forward(self, x: Float[Tensor, "batch pos d_model"]) -> Float[Tensor, "batch pos d_vocab"]:
        if self._tied:  # x @ W_E.T without materialising the transpose
            return nn.functional.linear(x, self._tied[0].W_E, self.b_U)
        logits = x @ self.W_U
        return logits if self.b_U is None else logits + self.b_U
