"""`HookedAudioLM.generate`: greedy or sampled decoding with every hook active.

Follows HF `GenerationMixin.generate` (greedy and multinomial sampling), so that greedy tokens
equal HF's token for token:
- position ids come from the attention mask, `cumsum(mask) - 1` (0 on padding), and each new
  token continues its row. With left padding a row's first real token is at position 0 as if
  unpadded. (RoPE scores depend only on position differences, so this matters only to
  float rounding; it is done to match HF bit for bit.)
- the next token is read from float32 logits; sampling applies temperature, then top-k, then
  top-p, then `torch.multinomial`, in HF's order;
- a row that has produced an end token continues with the pad token until every row has.
The audio is embedded once; only the prompt's placeholders receive audio embeddings (a
generated placeholder token is embedded as an ordinary token, as in HF's cached decoding).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from jaxtyping import Float, Int
from torch import Tensor
from tqdm.auto import tqdm

from hooked_audio.components import LayerKVCache
from hooked_audio.models.audio_lm.inputs import check_input_ids, check_placeholders

PROGRESS_FROM = 64  # new tokens from which `progress=None` shows a bar


def generation_positions(attention_mask: Int[Tensor, "batch pos"]) -> Int[Tensor, "batch pos"]:
    """HF's position ids for generation: `cumsum(mask) - 1`, 0 on padding."""
    return (attention_mask.long().cumsum(-1) - 1).masked_fill(attention_mask == 0, 0)


def filter_logits(
    logits: Float[Tensor, "batch d_vocab"],
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
) -> Float[Tensor, "batch d_vocab"]:
    """Temperature, then keep the `top_k` largest logits, then the smallest set of tokens whose
    probability reaches `top_p` (the most likely token always kept); the rest set to -inf."""
    if temperature != 1.0:
        logits = logits / temperature
    if top_k is not None and top_k > 0:
        kth = torch.topk(logits, min(top_k, logits.shape[-1])).values[..., -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p is not None and top_p < 1.0:
        ascending, order = torch.sort(logits, descending=False)
        drop = ascending.softmax(-1).cumsum(-1) <= 1 - top_p
        drop[..., -1] = False
        logits = logits.masked_fill(drop.scatter(-1, order, drop), float("-inf"))
    return logits


def check_max_new_tokens(max_new_tokens: Any) -> int:
    """A non-negative whole number of tokens (numpy integers too), else a clear error."""
    if isinstance(max_new_tokens, bool) or not isinstance(max_new_tokens, (int, np.integer)):
        raise TypeError(
            f"max_new_tokens must be a whole number of tokens, got "
            f"{max_new_tokens!r} ({type(max_new_tokens).__name__})."
        )
    if max_new_tokens < 0:
        raise ValueError(
            f"max_new_tokens must be 0 or more, got {max_new_tokens}; 0 returns the "
            "prompt unchanged."
        )
    return int(max_new_tokens)


class AudioLMGenerationMixin:
    """Needs `HookedAudioLM`'s `embed_audio`, `embed`, `hook_embed`, `hook_audio_embed`,
    `audio_positions`, `run_from`, `blocks`, `config`, `device` and `tokenizer`."""

    @torch.no_grad()
    def generate(
        self,
        input_ids: Int[Tensor, "batch pos"],
        input_features: Float[Tensor, "n_audio n_mels frames"] | None = None,
        attention_mask: Int[Tensor, "batch pos"] | None = None,
        feature_attention_mask: Int[Tensor, "n_audio frames"] | None = None,
        max_new_tokens: int = 20,
        do_sample: bool = False,
        temperature: float = 1.0,
        top_k: int | None = None,
        top_p: float | None = None,
        eos_token_id: int | Sequence[int] | None = None,
        stop_at_eos: bool = True,
        pad_token_id: int | None = None,
        use_kv_cache: bool = True,
        audio_embeds: Float[Tensor, "n_embeddings d_model"] | None = None,
        progress: bool | None = None,
        return_type: str = "tokens",
    ) -> Int[Tensor, "batch pos_plus_new"] | list[str]:
        """Continue each prompt by up to `max_new_tokens` tokens, with the hooks in force
        (`with model.hooks(fwd_hooks=...): model.generate(**inputs)`).

        Takes `model(...)`'s inputs (`model.prepare_inputs(...)` builds them); a batch must be
        padded on the left. Greedy unless `do_sample`. Stops a row at `eos_token_id` (default:
        the attached tokenizer's EOS, if any; `stop_at_eos=False` never stops), padding finished
        rows with `pad_token_id` (default: the model's pad token, else the first EOS) until all
        rows end. `use_kv_cache=False` recomputes the whole sequence at every step (same
        tokens; hooks then see every position at every step). `progress`: a tqdm bar (default:
        for 64 new tokens or more). Returns the prompt followed by the new tokens, as HF does
        (`max_new_tokens=0`: the prompt alone),
        or with `return_type="str"` the decoded new text of each row (special tokens dropped).
        """
        if return_type not in ("tokens", "str"):
            raise ValueError(f"return_type must be 'tokens' or 'str', got {return_type!r}.")
        max_new_tokens = check_max_new_tokens(max_new_tokens)
        if temperature <= 0:
            raise ValueError(
                f"temperature must be positive, got {temperature}; for the most likely "
                "token use do_sample=False."
            )
        prompt = check_input_ids(input_ids).to(self.device)
        batch = prompt.shape[0]
        mask = (
            torch.ones_like(prompt)
            if attention_mask is None
            else attention_mask.to(device=self.device, dtype=torch.long)
        )
        if mask.shape != prompt.shape:
            raise ValueError(
                f"attention_mask has shape {tuple(mask.shape)}; input_ids have "
                f"{tuple(prompt.shape)}."
            )
        if not mask[:, -1].all():
            raise ValueError(
                "A prompt ends in padding (right-padded batch): generation appends "
                "after the last position. Pad on the left (prepare_inputs does; "
                "tokenizer padding_side='left')."
            )
        if input_features is not None:
            if audio_embeds is not None:
                raise ValueError("Give input_features or audio_embeds, not both.")
            audio_embeds = self.embed_audio(
                input_features.to(self.device),
                None if feature_attention_mask is None else feature_attention_mask.to(self.device),
            )
        check_placeholders(
            self.config, prompt, None if audio_embeds is None else audio_embeds.shape[0]
        )
        audio_at = self.audio_positions(prompt) if audio_embeds is not None else None
        stops = self._eos_ids(eos_token_id) if stop_at_eos else []
        if stops and pad_token_id is None:
            pad_token_id = (
                self.config.pad_token_id if self.config.pad_token_id is not None else stops[0]
            )
        stops_t = torch.tensor(stops, device=self.device, dtype=torch.long)

        tokens, positions = prompt, generation_positions(mask)
        caches = [LayerKVCache() for _ in self.blocks] if use_kv_cache else None
        unfinished = torch.ones(batch, dtype=torch.bool, device=self.device)
        show = progress if progress is not None else max_new_tokens >= PROGRESS_FROM
        for step in tqdm(range(max_new_tokens), disable=not show, desc="generate"):
            start = tokens.shape[1] - 1 if step and use_kv_cache else 0
            resid = self._embed_tokens(
                tokens[:, start:], audio_embeds if start == 0 else None, audio_at
            )
            logits = self.run_from(0, resid, mask, positions[:, start:], caches)
            scores = logits[:, -1].float()
            if do_sample:
                probs = filter_logits(scores, temperature, top_k, top_p).softmax(-1)
                next_tokens = torch.multinomial(probs, num_samples=1).squeeze(1)
            else:
                next_tokens = scores.argmax(-1)
            if stops:
                next_tokens = torch.where(unfinished, next_tokens, pad_token_id)
            tokens = torch.cat([tokens, next_tokens[:, None]], dim=-1)
            mask = torch.cat([mask, mask.new_ones(batch, 1)], dim=-1)
            positions = torch.cat([positions, positions[:, -1:] + 1], dim=-1)
            if stops:
                unfinished &= ~torch.isin(next_tokens, stops_t)
                if not unfinished.any():
                    break
        if return_type == "str":
            return self.tokenizer.batch_decode(
                tokens[:, prompt.shape[1] :], skip_special_tokens=True
            )
        return tokens

    def _embed_tokens(
        self, ids: Int[Tensor, "batch pos"], audio_embeds: Tensor | None, audio_at: Tensor | None
    ) -> Float[Tensor, "batch pos d_model"]:
        """`merge_audio` for a sequence that starts with the prompt (`audio_embeds` given) or
        for new tokens only: audio embeddings go where the prompt had placeholders (`audio_at`);
        a placeholder token generated later is embedded as an ordinary token."""
        where = torch.zeros_like(ids, dtype=torch.bool)
        if audio_embeds is not None:
            where[:, : audio_at.shape[1]] = audio_at
        return self.merge_audio(ids, audio_embeds, audio_at=where)

    def _eos_ids(self, eos_token_id: int | Sequence[int] | None) -> list[int]:
        if eos_token_id is None:
            processor = getattr(self, "processor", None)
            eos_token_id = None if processor is None else processor.tokenizer.eos_token_id
        if eos_token_id is None:
            return []
        return [int(t) for t in torch.as_tensor(eos_token_id).flatten().tolist()]
