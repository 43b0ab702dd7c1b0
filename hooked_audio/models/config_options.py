"""Checkpoint options whitelisted, not blacklisted: every family's converter states which options
of a checkpoint's config it implements and which it knowingly ignores, and any other option
whose value differs from the config class's defaults is refused by name. A new option in a
future checkpoint (a RoPE scaling type, a norm variant, ...) is then an error, never a model
that loads and computes something other than the checkpoint.

    OPTIONS = ConfigOptions(
        family="HookedAudioEncoder",
        handled={"hidden_size", ...},          # read by the converter (which checks the value)
        ignored={"hidden_dropout": TRAINING},  # does not change the forward pass, and why
    )
    OPTIONS.check(flat_options(hf_config), flat_options(type(hf_config)()))

Nested options (sub-configs, dicts such as `rope_parameters`) are named by dotted paths:
`text_config.rope_parameters.rope_type`. An entry names an option or a whole subtree.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

#: why training-time options may be ignored
TRAINING = "a training-time setting (dropout, initialisation, SpecAugment); inference ignores it"
#: HF's SpecAugment options (training-time masking of the input features), in every audio config
SPEC_AUGMENT = (
    "apply_spec_augment",
    "mask_time_prob",
    "mask_time_length",
    "mask_time_min_masks",
    "mask_feature_prob",
    "mask_feature_length",
    "mask_feature_min_masks",
)
#: why decoding-time options may be ignored
GENERATION = "a generation setting (special token ids, lengths); the forward pass does not read it"

#: options every HF `PretrainedConfig` has that never change a forward pass
HF_GENERIC: dict[str, str] = {
    name: "HF bookkeeping (names, output flags, dtype of the saved weights)"
    for name in (
        "_name_or_path",
        "architectures",
        "transformers_version",
        "dtype",
        "torch_dtype",
        "id2label",
        "label2id",
        "problem_type",
        "output_attentions",
        "output_hidden_states",
        "return_dict",
        "use_cache",
        "chunk_size_feed_forward",
        "is_encoder_decoder",
        "model_type",
        "_attn_implementation_autoset",
        "tie_encoder_decoder",
        "tokenizer_class",
    )
} | {
    name: GENERATION
    for name in ("bos_token_id", "eos_token_id", "pad_token_id", "decoder_start_token_id")
}

_MISSING = object()


def flat_options(config: Any, prefix: str = "") -> dict[str, Any]:
    """A config (a HF `PretrainedConfig`, or a mapping) as {dotted option name: value}; nested
    configs and dicts are flattened, lists are values."""
    items = config.to_dict() if hasattr(config, "to_dict") else dict(config)
    flat: dict[str, Any] = {}
    for key, value in items.items():
        name = f"{prefix}{key}"
        if hasattr(value, "to_dict") or isinstance(value, Mapping):
            flat.update(flat_options(value, prefix=f"{name}."))
        else:
            flat[name] = value
    return flat


def _covered(name: str, entries: Mapping[str, Any] | frozenset[str]) -> bool:
    """Whether `name` or one of its parents (`a.b` for `a.b.c`) is listed."""
    parts = name.split(".")
    return any(".".join(parts[:i]) in entries for i in range(1, len(parts) + 1))


@dataclass(frozen=True)
class ConfigOptions:
    """What one family's converter does with the options of a checkpoint's config.

    `handled`: options the converter reads (and whose values it checks), by their full dotted
    names; `ignored`: option -> why it does not change what the model computes, matched at any
    depth (`attention_dropout` also covers `text_config.attention_dropout`)."""

    family: str
    handled: frozenset[str] = field(default_factory=frozenset)
    ignored: Mapping[str, str] = field(default_factory=dict)

    def _known(self, name: str) -> bool:
        if _covered(name, self.handled):
            return True
        parts = name.split(".")
        return any(_covered(".".join(parts[i:]), self.ignored) for i in range(len(parts)))

    def unknown_changes(
        self, options: Mapping[str, Any], defaults: Mapping[str, Any]
    ) -> dict[str, tuple[Any, Any]]:
        """{option: (value, default)} for each option that differs from its default and is
        neither handled nor ignored. An option the defaults lack counts as changed."""
        changed = {}
        for name, value in options.items():
            default = defaults.get(name, _MISSING)
            if default is not _MISSING and value == default:
                continue
            if not self._known(name):
                changed[name] = (value, None if default is _MISSING else default)
        return changed

    def check(self, options: Mapping[str, Any], defaults: Mapping[str, Any], source: str) -> None:
        """Raise a `ValueError` naming every option of `source` that differs from its default
        and that this family neither implements nor knows to be irrelevant."""
        changed = self.unknown_changes(options, defaults)
        if not changed:
            return
        listed = "; ".join(
            f"{name}={value!r} (default {default!r})" for name, (value, default) in changed.items()
        )
        raise ValueError(
            f"{source}: {self.family} does not implement these checkpoint options, which differ "
            f"from their defaults: {listed}. Loading would run a different model than the "
            "checkpoint's, so it is refused. Use a checkpoint without them; if an option does "
            f"not change the forward pass, add it with the reason to {self.family}'s ignored "
            "options."
        )


def check_hf_config(config: Any, options: ConfigOptions, source: str | None = None) -> None:
    """`options.check` on a HF config against its own class's defaults."""
    source = source or f"{type(config).__name__} {getattr(config, '_name_or_path', '') or ''}"
    options.check(flat_options(config), flat_options(type(config)()), source.strip())
