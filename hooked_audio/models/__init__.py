"""Model families, one folder each: the model, its config, loading and its stream views.

- `whisper/`: `HookedWhisper` (encoder-decoder; encoder and decoder streams).
- `audio_lm/`: `HookedAudioLM` (audio tower + projector + decoder-only LM; tower and LM streams).
- `audio_encoder/`: `HookedAudioEncoder` (wav2vec2 / HuBERT; one stream).

A family talks to the engines in `hooked_audio.patching` only through the stream protocol
(`hooked_audio.streams.AudioStream`); see docs/adding_a_model.md.
"""
