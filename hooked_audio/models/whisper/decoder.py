"""Whisper's text decoder: token + learned position embeddings, blocks with cross-attention,
`ln_final`, logits through the tied token embedding."""

from __future__ import annotations

import torch
from jaxtyping import Float, Int
from torch import Tensor, nn
from transformer_lens.config import TransformerLensConfig

from hooked_audio.components import LayerNorm
from hooked_audio.components.stacked_weights import StackedCrossWeightsMixin
from hooked_audio.hook_point import AudioHookPoint
from hooked_audio.models.whisper.blocks import WhisperDecoderBlock
from hooked_audio.models.whisper.token_input import as_tokens, check_token_tensor


class WhisperDecoder(StackedCrossWeightsMixin, nn.Module):
    """Tokens `[batch, pos]` + audio features -> logits `[batch, pos, d_vocab]` (float32).

    `kv_cache` is openai-whisper's cache dict (see `HookedWhisper.install_kv_cache_hooks`):
    with it, `tokens` are the new tokens only and positions continue from the cache.
    """

    def __init__(self, cfg: TransformerLensConfig):
        super().__init__()
        self.cfg = cfg
        self.W_E = nn.Parameter(torch.empty(cfg.d_vocab, cfg.d_model))
        self.W_pos = nn.Parameter(torch.empty(cfg.n_ctx, cfg.d_model))
        self.blocks = nn.ModuleList(
            [
                WhisperDecoderBlock(cfg.d_model, cfg.n_heads, cfg.use_attn_result)
                for _ in range(cfg.n_layers)
            ]
        )
        self.ln_final = LayerNorm(cfg.d_model)
        self.hook_embed = AudioHookPoint()  # [batch, pos, d_model]
        self.hook_pos_embed = AudioHookPoint()  # [batch, pos, d_model]
        # Set by `untie_unembed_` (weight processing changes the two differently).
        self.register_parameter("untied_W_U", None)
        self.register_parameter("untied_b_U", None)

    @property
    def W_U(self) -> Float[Tensor, "d_model d_vocab"]:
        """Whisper ties the unembedding to the token embedding (until `untie_unembed_`)."""
        return self.W_E.T if self.untied_W_U is None else self.untied_W_U

    @property
    def b_U(self) -> Float[Tensor, " d_vocab"]:
        if self.untied_b_U is not None:
            return self.untied_b_U
        return torch.zeros(self.cfg.d_vocab, dtype=self.W_E.dtype, device=self.W_E.device)

    def untie_unembed_(self) -> None:
        """Give the unembedding its own weights (a copy of the embedding's) and a bias, so
        that folding `ln_final` into it, or centring the embedding, changes one and not the
        other. Logits are unchanged."""
        if self.untied_W_U is None:
            self.untied_W_U = nn.Parameter(self.W_E.detach().T.clone())
            self.untied_b_U = nn.Parameter(self.W_E.new_zeros(self.cfg.d_vocab))

    def check_tokens(self, tokens: Tensor, offset: int) -> None:
        check_token_tensor(tokens)
        if offset + tokens.shape[1] > self.cfg.n_ctx:
            raise ValueError(
                f"{offset + tokens.shape[1]} decoder positions exceed the model's text context "
                f"of {self.cfg.n_ctx} tokens."
            )
        if tokens.numel() and (tokens.min() < 0 or tokens.max() >= self.cfg.d_vocab):
            raise ValueError(
                f"Token ids must lie in [0, {self.cfg.d_vocab}), got range "
                f"[{int(tokens.min())}, {int(tokens.max())}]."
            )

    def forward(
        self,
        tokens: Int[Tensor, "batch pos"],
        audio_features: Float[Tensor, "batch audio_pos d_model"],
        kv_cache: dict | None = None,
    ) -> Float[Tensor, "batch pos d_vocab"]:
        # Block 0's cached self-attention keys hold every earlier position (openai-whisper
        # reads the first cache entry, which is the same tensor); new tokens continue there.
        first_key = self.blocks[0].attn.key
        offset = kv_cache[first_key].shape[1] if kv_cache and first_key in kv_cache else 0
        tokens = as_tokens(tokens, self.W_E.device)
        self.check_tokens(tokens, offset)
        dtype = audio_features.dtype
        embed = self.hook_embed(self.W_E[tokens].to(dtype))
        pos = self.W_pos[offset : offset + tokens.shape[1]].to(dtype)
        x = embed + self.hook_pos_embed(pos.expand(tokens.shape[0], -1, -1))
        return self.run_from(0, x, audio_features, kv_cache)

    def run_from(
        self,
        layer: int,
        resid_pre: Float[Tensor, "batch pos d_model"],
        audio_features: Float[Tensor, "batch audio_pos d_model"],
        kv_cache: dict | None = None,
    ) -> Float[Tensor, "batch pos d_vocab"]:
        """Blocks `layer..` then `ln_final` and the unembedding, from
        `blocks.{layer}.hook_resid_pre`."""
        x = resid_pre
        for block in self.blocks[layer:]:
            x = block(x, audio_features, kv_cache=kv_cache)
        x = self.ln_final(x)
        logits = x @ self.W_U.to(x.dtype)
        if self.untied_b_U is not None:
            logits = logits + self.untied_b_U.to(x.dtype)
        return logits.float()
