"""The frozen configuration shared by every transformer in arena_core (days 29–33 and later).

One dataclass describes both families: GPT-2 (LayerNorm, learned positions, GELU MLP, biases)
and Llama-style models such as SmolLM2 (RMSNorm, rotary positions, SwiGLU MLP, grouped-query
attention, no biases). The model classes (`GPT2`, `Llama`) decide which parts they assemble;
the config only carries sizes and constants. Field names follow TransformerLens'
`HookedTransformerConfig` so that learners can move between the two.

A few fields describe variants found in released checkpoints (another activation, biases on the
Llama projections as in Qwen2, scaled RoPE as in Llama 3.1). Their defaults are plain GPT-2 and
plain Llama. A checkpoint that needs something none of them describes is refused with
`UnsupportedConfigError` rather than loaded into a model that would compute something else.
"""

from dataclasses import dataclass, field, replace

from arena_core.errors import UserError


class UnsupportedConfigError(UserError, ValueError):
    """A checkpoint's configuration asks for something our models do not implement.

    Raised by the HuggingFace converters (`arena_core.transformer.weights`) and by the layers
    themselves, so that such a checkpoint fails loudly instead of loading into a model that
    quietly computes different logits. The message names the option and its value."""


#: RoPE variants `rotary.rotary_frequencies` implements (HF's `rope_type` names).
ROPE_TYPES = ("default", "linear", "llama3")

#: attention directions (TransformerLens' `attention_dir` values).
ATTENTION_DIRS = ("causal", "bidirectional")


@dataclass(frozen=True)
class TransformerConfig:
    d_model: int = 768  # width of the residual stream
    n_layers: int = 12  # number of transformer blocks
    n_heads: int = 12  # query heads per attention layer
    d_head: int = 64  # width of one head's query/key/value vectors
    d_mlp: int = 3072  # hidden width of the MLP
    d_vocab: int = 50257  # vocabulary size
    n_ctx: int = 1024  # longest context (size of the learned position table for GPT-2)
    n_kv_heads: int | None = None  # key/value heads (grouped-query attention); None = n_heads
    eps: float = 1e-5  # LayerNorm / RMSNorm epsilon
    rotary_base: float = 10000.0  # RoPE theta (Llama family only)
    tie_embeddings: bool = True  # W_U is W_E transposed (GPT-2, SmolLM2)
    unembed_bias: bool = False  # add a b_U parameter to the unembedding (GPT-2 has none)
    init_range: float = 0.02  # std of the normal used for random initialisation
    attn_only: bool = False  # blocks without MLP (Elhage et al. 2021's attention-only models)
    # MLP activation, by HF's name ("gelu", "relu", ...; see `mlp.ACTIVATIONS`);
    # None = the family's own: "gelu_new" for GPT-2, "silu" for Llama.
    act_fn: str | None = None
    use_attn_scale: bool = True  # divide attention scores by sqrt(d_head) (HF scale_attn_weights)
    scale_attn_by_inverse_layer_idx: bool = False  # also divide layer i's scores by i + 1
    # Llama family only (GPT-2 always has every bias):
    attn_qkv_bias: bool = False  # biases on Q, K, V (Qwen2; HF Llama's attention_bias)
    attn_out_bias: bool = False  # bias on the output projection (HF Llama's attention_bias)
    mlp_bias: bool = False  # biases on the gate, up and down projections (HF Llama's mlp_bias)
    # RoPE frequency scaling (Llama family only), one of ROPE_TYPES: "linear" divides every
    # frequency by rope_factor (position interpolation); "llama3" (Llama 3.1) divides only the
    # low frequencies, with a smooth ramp between rope_original_n_ctx / rope_low_freq_factor and
    # rope_original_n_ctx / rope_high_freq_factor in wavelength.
    rope_type: str = "default"
    rope_factor: float = 1.0
    rope_low_freq_factor: float = 1.0
    rope_high_freq_factor: float = 4.0
    rope_original_n_ctx: int = 8192
    # "causal" (a language model: query i sees keys j <= i) or "bidirectional" (every query sees
    # every real key; padding goes on the RIGHT and positions are absolute, as in TL's encoder-only
    # setting). TransformerLens' name. Day 59's bracket classifier is bidirectional.
    attention_dir: str = "causal"
    # width of the unembedding output; None = d_vocab. A classifier reads d_vocab_out classes
    # (TL's name); it needs untied embeddings.
    d_vocab_out: int | None = None
    name: str = field(default="custom", compare=False)  # label only

    def __post_init__(self):
        if self.attention_dir not in ATTENTION_DIRS:
            raise UnsupportedConfigError(
                f"attention_dir={self.attention_dir!r} is not one of {ATTENTION_DIRS}"
            )
        if self.d_vocab_out is not None and self.d_vocab_out != self.d_vocab:
            if self.tie_embeddings:
                raise ValueError("d_vocab_out != d_vocab needs tie_embeddings=False")
        if self.n_heads % self.kv_heads != 0:
            raise ValueError(
                f"n_heads={self.n_heads} must be a multiple of n_kv_heads={self.kv_heads}"
            )
        if self.rope_type not in ROPE_TYPES:
            raise UnsupportedConfigError(
                f"rope_type={self.rope_type!r} is not implemented; known: {ROPE_TYPES}"
            )
        if self.rope_type == "llama3" and self.rope_high_freq_factor <= self.rope_low_freq_factor:
            raise ValueError("llama3 RoPE needs rope_high_freq_factor > rope_low_freq_factor")

    @property
    def n_out(self) -> int:
        """Width of the logits: d_vocab_out when set, else d_vocab."""
        return self.d_vocab if self.d_vocab_out is None else self.d_vocab_out

    @property
    def kv_heads(self) -> int:
        """Number of key/value heads (equals n_heads unless grouped-query attention is used)."""
        return self.n_heads if self.n_kv_heads is None else self.n_kv_heads

    def with_(self, **changes) -> "TransformerConfig":
        """A copy with some fields changed (the config itself is frozen)."""
        return replace(self, **changes)


#: The four GPT-2 sizes (Radford et al. 2019), as released by OpenAI.
GPT2_CONFIGS: dict[str, TransformerConfig] = {
    "gpt2": TransformerConfig(name="gpt2"),
    "gpt2-medium": TransformerConfig(
        d_model=1024, n_layers=24, n_heads=16, d_mlp=4096, name="gpt2-medium"
    ),
    "gpt2-large": TransformerConfig(
        d_model=1280, n_layers=36, n_heads=20, d_mlp=5120, name="gpt2-large"
    ),
    "gpt2-xl": TransformerConfig(d_model=1600, n_layers=48, n_heads=25, d_mlp=6400, name="gpt2-xl"),
}

#: SmolLM2-135M (Allal et al. 2025), a Llama-architecture model.
SMOLLM2_135M = TransformerConfig(
    d_model=576,
    n_layers=30,
    n_heads=9,
    n_kv_heads=3,
    d_head=64,
    d_mlp=1536,
    d_vocab=49152,
    n_ctx=8192,
    eps=1e-5,
    rotary_base=100000.0,
    tie_embeddings=True,
    init_range=0.041666666666666664,
    name="smollm2-135m",
)
