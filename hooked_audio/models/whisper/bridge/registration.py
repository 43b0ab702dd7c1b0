"""Make TransformerLens's own loader find the Whisper adapter.

hooked_audio declares the adapter under TransformerLens's external-adapter entry point
(`transformer_lens.architectures`, in setup.cfg). In TransformerLens 4.3.0 that alone is not
enough: `boot_transformers` looks the architecture up in the static `SUPPORTED_ARCHITECTURES`
table before it discovers entry points, and classifies models by fixed sets. `register()` closes
both gaps from here (each is listed, with the upstream change that would make it unnecessary,
in docs/transformer_lens_bridge.md).
It runs when `hooked_audio` is imported and is idempotent.
"""

from __future__ import annotations

ARCHITECTURE = "WhisperForConditionalGeneration"


def register() -> None:
    """Register the Whisper adapter with TransformerLens 4.3.0 (idempotent)."""
    from transformer_lens.factories import architecture_adapter_factory as factory
    from transformer_lens.utilities import architectures

    from hooked_audio.models.whisper.bridge.plugin import WhisperPluginAdapter

    # A Whisper adapter shipped by TransformerLens itself would win: leave it in place.
    native = factory.SUPPORTED_ARCHITECTURES.get(ARCHITECTURE)
    if native is not None and native is not WhisperPluginAdapter:
        return
    if not _declared_as_entry_point():
        # Installed packages are found through the entry point; a source checkout is not.
        factory.ArchitectureAdapterFactory.register_adapter(ARCHITECTURE, WhisperPluginAdapter)
    # Gap 1: `determine_architecture_from_hf_config` reads only this static table.
    factory.SUPPORTED_ARCHITECTURES[ARCHITECTURE] = WhisperPluginAdapter
    # Gap 2: encoder-decoder models are recognised (and built with a seq2seq auto class, and
    # given decoder inputs) only when listed here.
    architectures.SEQ2SEQ_ARCHITECTURES.add(ARCHITECTURE)


def _declared_as_entry_point() -> bool:
    """Whether installed metadata declares this adapter under TransformerLens's entry point
    (registering it again would make TransformerLens warn that it overrides a native one)."""
    from importlib.metadata import entry_points

    return any(
        ep.name == ARCHITECTURE and ep.value.startswith("hooked_audio.")
        for ep in entry_points(group="transformer_lens.architectures")
    )
