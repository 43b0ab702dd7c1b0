"""Lenses for Whisper: each encoder layer read through `ln_post` by the decoder (transcript,
teacher-forced accuracy), and each decoder layer through `ln_final` and the unembedding."""

from hooked_audio.models.whisper.lens.decoder_lens import decoder_lens
from hooked_audio.models.whisper.lens.decoder_lens_result import DecoderLensResult
from hooked_audio.models.whisper.lens.encoder_lens import encoder_lens
from hooked_audio.models.whisper.lens.encoder_lens_result import EncoderLensResult

__all__ = ["DecoderLensResult", "EncoderLensResult", "decoder_lens", "encoder_lens"]
