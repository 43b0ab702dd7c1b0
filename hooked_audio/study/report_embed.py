"""What a self-contained report embeds as `data:` URIs: audio clips (FLAC) and the numbers
(JSON)."""

from __future__ import annotations

import base64
import io
import json
import math
from dataclasses import asdict

import numpy as np
import pandas as pd
import soundfile as sf

from hooked_audio.study.result import StudyResult


def audio_data_uri(audio: np.ndarray, sample_rate: int) -> str:
    """A mono waveform in [-1, 1] as a 16-bit FLAC `data:audio/flac;base64,...` URI."""
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim != 1 or audio.size == 0:
        raise ValueError(f"Embedding needs a non-empty 1-D waveform, got shape {audio.shape}.")
    buffer = io.BytesIO()
    sf.write(buffer, np.clip(audio, -1.0, 1.0), sample_rate, format="FLAC", subtype="PCM_16")
    return "data:audio/flac;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def plain_json(value):
    """JSON-ready: numpy scalars as Python numbers, NaN and infinities as null."""
    if isinstance(value, dict):
        return {str(k): plain_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain_json(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def records(frame: pd.DataFrame) -> list[dict]:
    return [plain_json(record) for record in frame.to_dict(orient="records")]


def study_json(
    result: StudyResult, word_summary: pd.DataFrame, onset_curves: pd.DataFrame, model_name: str
) -> dict:
    """The numbers behind the report: the spec, pairs left out, every row, the summaries
    (`result.word_summary()`, `result.onset_curves(...)`), the time-axis checks and an audio LM's
    grounding coefficients."""
    return {
        "model": model_name,
        "spec": plain_json(asdict(result.spec)),
        "skipped": plain_json(result.skipped),
        "rows": records(result.rows),
        "word_summary": records(word_summary),
        "onset_curves": records(onset_curves),
        "time_axis": plain_json(result.time_axis),
        "grounding": plain_json(result.grounding),
        "grounding_summary": records(result.grounding_summary()),
    }


def json_data_uri(data: dict) -> str:
    """`data` as a `data:application/json;base64,...` URI (strict JSON: no NaN)."""
    text = json.dumps(data, allow_nan=False, default=str)
    return "data:application/json;base64," + base64.b64encode(text.encode("utf-8")).decode("ascii")
