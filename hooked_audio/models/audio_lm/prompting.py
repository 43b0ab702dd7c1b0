"""Text side of `HookedAudioLM`: the HF processor (chat template, audio placeholders, log-mel)
and TransformerLens's `to_tokens` / `to_string` / `to_str_tokens` / `to_single_token`.

`model.set_processor(processor_or_checkpoint_dir)` attaches the model's own HF processor
(`Qwen2AudioProcessor`, `VoxtralProcessor`) after checking that it fits the model: mel bins,
window length, audio placeholder id and vocabulary size. `model.prepare_inputs(...)` then
turns text or a chat conversation plus audio into the keyword inputs of `model(...)` and
`model.generate(...)`, with the audio loaded by `hooked_audio.audio.load_audio` (paths,
numpy or torch waveforms at any rate, resampled and downmixed like `HookedWhisper.to_mel`).
Each architecture's own processor checks live beside it (`qwen2_audio_prompting.py`,
`voxtral_prompting.py`: Voxtral's processor tokenizes through mistral-common).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any, Union

import torch
from jaxtyping import Int
from torch import Tensor

from hooked_audio.audio import Audio, AudioInputError, load_audio_batch
from hooked_audio.models.audio_lm.audio_tower import pooled_lengths
from hooked_audio.models.audio_lm.inputs import check_vocabulary_fits
from hooked_audio.models.audio_lm.voxtral_prompting import encode_text, window_kwargs, with_clips

TokensLike = Union[Tensor, Sequence[int], Sequence[Sequence[int]]]
MODEL_INPUTS = ("input_ids", "attention_mask", "input_features", "feature_attention_mask")


def check_processor(cfg: Any, processor: Any) -> None:
    """Raise a `ValueError` that names the mismatch when `processor` is not one for a model of
    config `cfg` (a `HookedAudioLMConfig`): its class, then the architecture's own checks
    (`AudioLMArchitecture.check_processor`), then the vocabulary size."""
    import transformers

    arch = cfg.arch
    if not isinstance(processor, getattr(transformers, arch.processor_class)):
        raise ValueError(
            f"A {type(processor).__name__} cannot prepare inputs for this {arch.model_type} "
            f"model: it needs a {arch.processor_class}, loaded from the same checkpoint as the "
            "weights (transformers.AutoProcessor.from_pretrained(<checkpoint>), or "
            "model.set_processor(<checkpoint dir>))."
        )
    arch.check_processor(cfg, processor)
    check_vocabulary_fits(cfg, processor)


def _chats(conversation: Sequence[Any]) -> list[Sequence[dict]]:
    """One chat or a list of chats -> a list of chats."""
    if not conversation:
        raise ValueError(
            "conversation is empty; give a list of messages "
            "({'role': ..., 'content': ...}) or a list of such lists."
        )
    return [conversation] if isinstance(conversation[0], dict) else list(conversation)


def _audio_items(conversation: Sequence[dict]) -> list[dict]:
    items = []
    for message in conversation:
        content = message.get("content")
        if isinstance(content, (list, tuple)):
            items += [c for c in content if isinstance(c, dict) and c.get("type") == "audio"]
    return items


def _audio_of(item: dict) -> Any:
    """The clip of an `{"type": "audio", ...}` content item: a waveform or a local path."""
    for key in ("audio", "path", "audio_url", "url"):
        if item.get(key) is not None:
            value = item[key]
            if isinstance(value, str) and "://" in value:
                raise AudioInputError(
                    f"prepare_inputs does not download audio ({value!r}); pass a local path or a "
                    "waveform, in the conversation item's 'audio' or with audio=."
                )
            return value
    raise AudioInputError(
        f"The audio item {item!r} holds no audio; give it an 'audio' (waveform "
        "or path) or 'path' entry, or pass the clips with audio=."
    )


class AudioLMPromptingMixin:
    """Needs `self.config` (`HookedAudioLMConfig`), `self.cfg`, `self.device`, `self.processor`."""

    processor: Any = None

    # ----------------------------------------------------------------- processor
    def set_processor(self, processor: Any) -> None:
        """Attach the HF processor (or load it with `AutoProcessor` from a checkpoint directory
        or a hub name in the local HF cache); `None` detaches. Refused if it does not fit."""
        if isinstance(processor, (str, os.PathLike)):
            from transformers import AutoProcessor

            processor = AutoProcessor.from_pretrained(processor)
        if processor is not None:
            check_processor(self.config, processor)
        self.processor = processor

    def _processor(self, processor: Any = None) -> Any:
        if processor is not None:
            check_processor(self.config, processor)
            return processor
        if self.processor is None:
            raise ValueError(
                "No processor is attached to this model. Attach the checkpoint's own: "
                "model.set_processor(<checkpoint dir>) or "
                "model.set_processor(transformers.AutoProcessor.from_pretrained(<checkpoint>)), "
                "or pass processor=."
            )
        return self.processor

    @property
    def tokenizer(self) -> Any:
        """The attached processor's tokenizer."""
        return self._processor().tokenizer

    # ----------------------------------------------------------------- inputs
    def prepare_inputs(
        self,
        text: str | Sequence[str] | None = None,
        audio: Any = None,
        conversation: Sequence[Any] | None = None,
        sampling_rate: int | None = None,
        processor: Any = None,
        add_generation_prompt: bool = True,
        padding_side: str = "left",
    ) -> dict[str, Tensor]:
        """The keyword inputs of `model(...)` and `model.generate(...)`, built by the processor.

        `text`: a prompt (or a list: a batch) holding the processor's audio placeholder
        (`<|audio_bos|><|AUDIO|><|audio_eos|>` for Qwen2-Audio) once per clip, or
        `conversation`: a chat (or a list of chats) rendered with the processor's chat
        template, audio items `{"type": "audio", "audio": waveform_or_path}`. `audio`: the
        clips in placeholder order (a path, a numpy/torch waveform, or a list of those); taken
        from the conversation's audio items when not given. `sampling_rate`: the rate of
        waveforms (default: the processor's, 16 kHz); files carry their own. Clips are resampled
        to the processor's rate and channels averaged. A batch is padded on the left (as
        generation needs). Returns tensors on the model's device.

        Voxtral takes `conversation` only (its processor places audio through the chat
        template alone) and returns `input_ids`, `attention_mask`, `input_features`: a clip
        longer than one window becomes several rows of `input_features`, in order.
        """
        proc = self._processor(processor)
        if padding_side not in ("left", "right"):
            raise ValueError(f"padding_side must be 'left' or 'right', got {padding_side!r}.")
        if self.config.arch.chat_template_inputs:
            inputs = self._chat_template_inputs(
                proc, text, audio, conversation, sampling_rate, add_generation_prompt, padding_side
            )
            return self._on_device(inputs)
        if conversation is not None:
            if text is not None:
                raise ValueError("Give text or conversation, not both.")
            chats = _chats(conversation)
            text = [
                proc.apply_chat_template(
                    chat, add_generation_prompt=add_generation_prompt, tokenize=False
                )
                for chat in chats
            ]
            if audio is None:
                audio = [_audio_of(item) for chat in chats for item in _audio_items(chat)] or None
        if text is None:
            raise ValueError(
                "prepare_inputs needs text= (with the audio placeholder "
                f"{proc.audio_token!r} where each clip goes) or conversation=."
            )
        texts = [text] if isinstance(text, str) else list(text)
        clips = self._load_clips(proc, audio, sampling_rate)
        self._check_placeholders(proc, texts, len(clips))
        kwargs = dict(text=texts, return_tensors="pt", padding=True, padding_side=padding_side)
        if clips:
            kwargs.update(audio=clips, sampling_rate=proc.feature_extractor.sampling_rate)
        built = proc(**kwargs)
        inputs = {k: built[k] for k in MODEL_INPUTS if k in built}
        if clips:
            self._check_expansion(inputs)
        return self._on_device(inputs)

    def _chat_template_inputs(
        self,
        proc: Any,
        text: Any,
        audio: Any,
        conversation: Any,
        sampling_rate: int | None,
        add_generation_prompt: bool,
        padding_side: str,
    ) -> dict[str, Tensor]:
        """`processor.apply_chat_template(..., tokenize=True, return_dict=True)` on the chats
        (Voxtral's way), their audio items holding the loaded clips (lossless float WAV), cut
        into the model's windows."""
        arch = self.config.arch
        if text is not None or conversation is None:
            raise ValueError(
                f"{arch.display_name} prompts are built by its chat template: pass "
                "conversation=[{'role': 'user', 'content': [{'type': 'audio', 'audio': clip}, "
                "{'type': 'text', 'text': question}]}] (or a list of such chats). "
                f"{arch.processor_class} takes no audio placeholder in plain text; for text "
                "without audio use to_tokens."
            )
        chats = _chats(conversation)
        items = [item for chat in chats for item in _audio_items(chat)]
        if audio is None:
            audio = [_audio_of(item) for item in items] or None
        clips = self._load_clips(proc, audio, sampling_rate)
        if len(clips) != len(items):
            raise ValueError(
                f"The conversation has {len(items)} audio items but {len(clips)} clips were "
                "given; give one clip per {'type': 'audio'} item, in order (the chat template "
                "puts each clip where its item is)."
            )
        tokenizer = proc.tokenizer
        side, tokenizer.padding_side = tokenizer.padding_side, padding_side
        try:
            built = proc.apply_chat_template(
                with_clips(chats, clips, proc.feature_extractor.sampling_rate),
                add_generation_prompt=add_generation_prompt,
                tokenize=True,
                return_dict=True,
                return_tensors="pt",
                processor_kwargs=window_kwargs(self.config, proc),
            )
        finally:
            tokenizer.padding_side = side
        inputs = {k: built[k] for k in MODEL_INPUTS if k in built}
        if clips:
            self._check_expansion(inputs)
        return inputs

    def _on_device(self, inputs: dict[str, Tensor]) -> dict[str, Tensor]:
        dtype = next(self.parameters()).dtype
        return {
            k: v.to(self.device, dtype=dtype if v.is_floating_point() else v.dtype)
            for k, v in inputs.items()
        }

    def _load_clips(self, proc: Any, audio: Any, sampling_rate: int | None) -> list:
        """The clips at the processor's rate; a clip longer than one window is refused unless
        the architecture's processor splits it into windows (Voxtral's does; Qwen2-Audio hears
        one window per clip)."""
        if audio is None:
            return []
        features = proc.feature_extractor
        items = list(audio) if isinstance(audio, (list, tuple)) else [audio]
        # Paths and `Audio` carry their rate; a bare array is at the processor's rate, as in HF.
        rates = [
            sampling_rate
            if sampling_rate is not None or isinstance(item, (str, os.PathLike, Audio))
            else features.sampling_rate
            for item in items
        ]
        try:
            clips = load_audio_batch(items, rates, target_rate=features.sampling_rate)
        except AudioInputError as error:  # the loader's argument is called sample_rate
            message = str(error).replace("sample_rate", "sampling_rate")
            raise AudioInputError(
                message.replace("Audio(wave, sampling_rate=", "Audio(wave, sample_rate=")
            ) from error
        arch = self.config.arch
        for i, clip in enumerate(clips):
            if not arch.splits_long_audio and len(clip) > features.n_samples:
                seconds = features.n_samples / features.sampling_rate
                raise AudioInputError(
                    f"Clip {i} lasts {len(clip) / features.sampling_rate:.2f} s; "
                    f"{arch.display_name} hears at most one {seconds:g} s window per clip "
                    f"({self.config.n_mel_frames} mel frames) and its processor would "
                    "silently cut the rest. Trim the clip "
                    f"(clip[:{features.n_samples}] at {features.sampling_rate} Hz) or split it "
                    f"into clips of at most {seconds:g} s, each with its own audio placeholder."
                )
        return clips

    def _check_placeholders(self, proc: Any, texts: list[str], n_clips: int) -> None:
        token = proc.audio_token
        counts = [t.count(token) for t in texts]
        if n_clips and not any(counts):
            bos, eos = getattr(proc, "audio_bos_token", ""), getattr(proc, "audio_eos_token", "")
            raise ValueError(
                f"Audio was given but the text has no audio placeholder {token!r}, so the audio "
                f"has nowhere to go. Put {bos + token + eos!r} in the text where each clip goes, "
                "or pass conversation= with an audio item (the chat template inserts it)."
            )
        if sum(counts) != n_clips:
            raise ValueError(
                f"The text holds {sum(counts)} audio placeholders {token!r} (per prompt: {counts}) "
                f"but {n_clips} clips were given; give one clip per placeholder, in order."
            )

    def _check_expansion(self, inputs: dict[str, Tensor]) -> None:
        """The processor expanded each placeholder to as many as the clip has embeddings:
        pooled valid frames per clip (Qwen2-Audio), a whole window's worth per row of
        `input_features` (Voxtral)."""
        if "feature_attention_mask" in inputs:
            mel_lengths = inputs["feature_attention_mask"].sum(-1).long()
            expected = int(pooled_lengths(mel_lengths, self.config.audio_pool).sum())
        else:
            expected = inputs["input_features"].shape[0] * self.config.audio_tokens_per_window
        found = int(self.audio_positions(inputs["input_ids"]).sum())
        if found != expected:
            raise ValueError(
                f"The processor expanded the audio into {found} placeholders; the model makes "
                f"{expected} audio embeddings from these clips. The processor does not match "
                "this model."
            )

    # ----------------------------------------------------------------- TransformerLens text API
    def to_tokens(
        self,
        input: str | Sequence[str],
        prepend_bos: bool | None = None,
        padding_side: str = "right",
        move_to_device: bool = True,
    ) -> Int[Tensor, "batch pos"]:
        """Text (or a list of texts) -> token ids `[batch, pos]` through the processor's tokenizer,
        special tokens such as `<|im_start|>` (Qwen2-Audio) or `[INST]` (Voxtral) written in the
        text recognised. No BOS unless `prepend_bos=True` (Qwen2 has none; Voxtral's chat
        template starts with `<s>`; `cfg.default_prepend_bos` is False). A batch is
        padded with the tokenizer's pad token on `padding_side`. Audio placeholders are not
        expanded: use `prepare_inputs` for prompts with audio."""
        tokenizer = self.tokenizer
        texts = [input] if isinstance(input, str) else list(input)
        if not texts:
            raise ValueError("to_tokens got an empty list of texts.")
        rows = [encode_text(tokenizer, t) for t in texts]
        if prepend_bos if prepend_bos is not None else self.cfg.default_prepend_bos:
            if tokenizer.bos_token_id is None:
                raise ValueError("This tokenizer has no BOS token; use prepend_bos=False.")
            rows = [[tokenizer.bos_token_id] + r for r in rows]
        width = max(len(r) for r in rows)
        if len(rows) > 1 and any(len(r) != width for r in rows):
            pad = tokenizer.pad_token_id
            if pad is None:
                raise ValueError(
                    "Texts of different lengths need a pad token; the tokenizer has none."
                )
            if padding_side not in ("left", "right"):
                raise ValueError(f"padding_side must be 'left' or 'right', got {padding_side!r}.")
            rows = [
                ([pad] * (width - len(r)) + r)
                if padding_side == "left"
                else (r + [pad] * (width - len(r)))
                for r in rows
            ]
        tokens = torch.tensor(rows, dtype=torch.long)
        return tokens.to(self.device) if move_to_device else tokens

    def to_string(self, tokens: TokensLike) -> str | list[str]:
        """Tokens -> text, special tokens kept. `[batch, pos]` gives one string per row."""
        tokens = torch.as_tensor(tokens)
        if tokens.ndim == 2:
            return [self.to_string(row) for row in tokens]
        return self.tokenizer.decode(tokens.tolist(), clean_up_tokenization_spaces=False)

    def to_str_tokens(self, input: str | TokensLike, prepend_bos: bool | None = None) -> list[str]:
        """One string per token (for plot labels); text is tokenised first with `to_tokens`."""
        if isinstance(input, str):
            input = self.to_tokens(input, prepend_bos=prepend_bos)[0]
        tokens = torch.as_tensor(input)
        if tokens.ndim == 2:
            if tokens.shape[0] != 1:
                raise ValueError("to_str_tokens takes one sequence; index the batch first.")
            tokens = tokens[0]
        decode = self.tokenizer.decode
        return [decode([t], clean_up_tokenization_spaces=False) for t in tokens.tolist()]

    def to_single_token(self, string: str) -> int:
        """The id of a string that is exactly one token (special tokens such as `<|AUDIO|>` too)."""
        ids = self.to_tokens(string, prepend_bos=False, move_to_device=False)[0].tolist()
        if len(ids) != 1:
            raise ValueError(f"{string!r} is {len(ids)} tokens, not one: {ids}.")
        return ids[0]
