"""Counterfactual audio for activation patching: corruptions of a 16 kHz mono waveform.

Every function takes a 1-D float32 waveform at 16 kHz (``hooked_audio.load_audio`` makes
one), returns a *new* float32 :class:`hooked_audio.audio.Audio` at 16 kHz, which
``model.to_mel`` takes without ``sample_rate=`` (the input is never modified; an ``Audio``
at another rate is refused), is deterministic under
``seed=`` where random, and keeps the sample count, except :func:`speed`, whose purpose is
to change duration (``keep_length=True`` trims/pads it back). Spans are ``(start_s,
end_s)`` in seconds covering samples ``[round(start_s*16000), round(end_s*16000))``; one
Whisper encoder frame is 20 ms = 320 samples. Bad input raises
:class:`hooked_audio.audio.AudioInputError` naming the problem and the fix.

Families (one module each):

* :mod:`.basic`: :func:`silence`, :func:`gain`
* :mod:`.noise`: :func:`white_noise`, :func:`pink_noise` (additive, at a requested SNR)
* :mod:`.spans`: :func:`mask_span`, :func:`replace_span`, :func:`reverse_span`
* :mod:`.speed`: :func:`speed` (changes duration and pitch)
* :mod:`.pitch`: :func:`pitch_shift`, :func:`formant_shift` (duration and timing kept;
  needs ``praat-parselmouth``)

Example::

    from hooked_audio import load_audio
    from hooked_audio.corruptions import white_noise, pitch_shift

    clean = load_audio("speech.flac")
    corrupt = white_noise(clean, snr_db=0.0, seed=0, span=(1.76, 2.26))
"""

from hooked_audio.corruptions.align import AlignedPair, align_pair
from hooked_audio.corruptions.basic import gain, silence
from hooked_audio.corruptions.noise import pink_noise, white_noise
from hooked_audio.corruptions.pitch import formant_shift, pitch_shift
from hooked_audio.corruptions.spans import mask_span, replace_span, reverse_span
from hooked_audio.corruptions.speed import speed

__all__ = [
    "AlignedPair",
    "align_pair",
    "formant_shift",
    "gain",
    "mask_span",
    "pink_noise",
    "pitch_shift",
    "replace_span",
    "reverse_span",
    "silence",
    "speed",
    "white_noise",
]
