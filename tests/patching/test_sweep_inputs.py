"""The sweep engines refuse arguments that would size or index work wrongly, and say why.

Each case here was observed to give a silent wrong or misleading result before."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch

from hooked_audio import HookedWhisper, mel_to_frames
from hooked_audio.models.whisper import WhisperEncoderStream, audio_to_cross_heads
from hooked_audio.patching import (
    Sender,
    SweepResult,
    direct_path,
    head_sweep,
    layer_sweep,
    resid_pre_attribution,
    time_cells,
)
from hooked_audio.streams import AudioStream, StreamView
from tests.helpers.type_checks import unchecked_types
from tests.helpers.whisper_models import random_dims, random_reference

DIMS = random_dims(n_audio_ctx=6, n_text_ctx=12)


def logit_diff(logits):
    return (logits[:, -1, 7] - logits[:, -1, 8]).mean()


@pytest.fixture(scope="module")
def setup():
    model = HookedWhisper.from_openai_state_dict(
        DIMS, random_reference(DIMS, seed=3, std=0.15).state_dict()
    )
    gen = torch.Generator().manual_seed(4)
    clean = torch.randn(1, 80, 12, generator=gen)
    corrupt = clean + 2 * torch.randn(1, 80, 12, generator=gen)
    tokens = torch.tensor([[50257, 50362, 11, 12, 13]])
    return model, mel_to_frames(clean), mel_to_frames(corrupt), tokens


def sweep(setup, **kwargs):
    model, clean, corrupt, tokens = setup
    return layer_sweep(
        model.encoder_stream(tokens), clean, corrupt, logit_diff, progress=False, **kwargs
    )


@pytest.mark.parametrize(
    "batch_size, error, match",
    [
        (0, ValueError, "positive"),
        (-2, ValueError, "positive"),
        (1.5, TypeError, "integer"),
        (True, TypeError, "bool"),
        ("4", TypeError, "integer"),
    ],
)
def test_batch_size_is_a_positive_int(setup, batch_size, error, match):
    with unchecked_types(), pytest.raises(error, match=match):
        sweep(setup, batch_size=batch_size)


def test_batch_sizes_agree_and_results_are_complete(setup):
    model, clean, corrupt, tokens = setup
    two = torch.cat([clean, corrupt]), torch.cat([corrupt, clean])
    view = model.encoder_stream(tokens)
    one_by_one = layer_sweep(view, *two, logit_diff, batch_size=1, progress=False)
    # a chunk of 4 cells stacks four copies of the two-row batch in one forward
    batched = layer_sweep(view, *two, logit_diff, batch_size=4, progress=False)
    torch.testing.assert_close(batched.values, one_by_one.values, atol=1e-5, rtol=0)
    assert torch.isfinite(batched.values).all()


def test_a_metric_returning_nan_is_refused_with_its_cell(setup):
    calls = []

    def sometimes_nan(logits):
        calls.append(1)
        return logit_diff(logits) * (float("nan") if len(calls) == 5 else 1.0)

    model, clean, corrupt, tokens = setup
    with pytest.raises(ValueError, match=r"NaN at layer 0, cell 0\.08-0\.10s"):
        layer_sweep(model.encoder_stream(tokens), clean, corrupt, sometimes_nan, progress=False)


def test_normalised_refuses_a_nan_or_zero_gap(setup):
    result = sweep(setup, layers=[0], cells=[0])
    assert math.isfinite(float(result.normalised()[0, 0]))
    nan_ref = SweepResult(
        result.values,
        result.layers,
        result.cells,
        result.cell_labels,
        result.act,
        result.direction,
        float("nan"),
        result.corrupt_value,
    )
    with pytest.raises(ValueError, match="recovery is undefined"):
        nan_ref.normalised()
    flat = SweepResult(
        result.values,
        result.layers,
        result.cells,
        result.cell_labels,
        result.act,
        result.direction,
        1.0,
        1.0 + 1e-9,
    )
    with pytest.raises(ValueError, match="does not move"):
        flat.normalised()


def test_negative_positions_mean_what_python_indexing_means(setup):
    result = sweep(setup, layers=[1], cells=[-1, [-2, -1]])
    assert result.cells == [[5], [4, 5]]
    assert result.cell_seconds == [pytest.approx((0.10, 0.12)), pytest.approx((0.08, 0.12))]
    assert result.cell_labels == ["0.10-0.12s", "0.08-0.12s"]
    plain = sweep(setup, layers=[1], cells=[5, [4, 5]])
    torch.testing.assert_close(result.values, plain.values)


def test_int_like_cells_are_accepted_and_others_refused(setup):
    plain = sweep(setup, layers=[0], cells=[1, [2, 3]])
    for cells in (
        [np.int64(1), np.array([2, 3])],
        [torch.tensor(1), torch.tensor([2, 3])],
        [np.int32(1), [np.int64(2), torch.tensor(3)]],
    ):
        torch.testing.assert_close(sweep(setup, layers=[0], cells=cells).values, plain.values)
    for bad, match in (
        ([1.0], "integer"),
        ([True], "bool"),
        ([[1, 2.5]], "integer"),
        ([torch.tensor([True, False])], "boolean mask"),
        ([[]], "no position"),
        ([9], "outside"),
        ([], "empty"),
        (3, "sequence"),
    ):
        with unchecked_types(), pytest.raises((TypeError, ValueError), match=match):
            sweep(setup, layers=[0], cells=bad)


@pytest.mark.parametrize(
    "layers, match",
    [([5], "Layers must lie"), ([-1], "Layers must lie"), ([0.5], "integer"), ([], "empty")],
)
def test_layers_are_checked(setup, layers, match):
    with unchecked_types(), pytest.raises((TypeError, ValueError), match=match):
        sweep(setup, layers=layers)


def test_labels_must_match_the_cells(setup):
    with pytest.raises(ValueError, match="2 cells but 1 labels"):
        sweep(setup, cells=[0, 1], labels=["only one"])
    assert sweep(setup, layers=[0], cells=[0, 1], labels=["a", "b"]).cell_labels == ["a", "b"]


def test_time_cells_refuse_what_selects_nothing():
    with pytest.raises(ValueError, match="No window fits"):
        time_cells.windows(1500, window_s=0.2, start_s=31.0)
    with pytest.raises(ValueError, match="No window fits"):
        time_cells.windows(1500, window_s=0.2, start_s=2.0, end_s=1.0)
    with pytest.raises(ValueError, match="start_s must be >= 0"):
        time_cells.windows(1500, start_s=-1.0)
    with pytest.raises(ValueError, match="starts after the input ends"):
        time_cells.spans(1500, [(31.0, 32.0)])
    with pytest.raises(ValueError, match="positive"):
        time_cells.speech_frames(-1.0, 1500)
    with pytest.raises(ValueError, match="empty"):
        time_cells.spans(1500, [])
    assert time_cells.speech_frames(0.05, 1500) == [0, 1, 2]


def test_senders_and_heads_are_checked(setup):
    model, clean, corrupt, tokens = setup
    view = model.decoder_stream(clean)
    corrupt_tokens = torch.tensor([[50257, 50362, 11, 99, 13]])
    with pytest.raises(ValueError, match="head 9 is outside the 4 heads"):
        direct_path(view, tokens, corrupt_tokens, logit_diff, Sender(0, "attn", 9), 1)
    with pytest.raises(ValueError, match="component must be one of"):
        direct_path(view, tokens, corrupt_tokens, logit_diff, Sender(0, "ffn"), 1)
    with unchecked_types(), pytest.raises(TypeError, match="integer"):
        Sender(0, "attn", 1.0)
    _, cache = view.run_with_cache(corrupt_tokens)
    with pytest.raises(ValueError, match="component must be one of"):
        head_sweep(view, tokens, cache, logit_diff, component="mlp")
    with pytest.raises(ValueError, match="Layers must lie"):
        head_sweep(view, tokens, cache, logit_diff, component="attn", layers=[7])
    with pytest.raises(ValueError, match="Head \\(0, 4\\) is outside"):
        audio_to_cross_heads(model, clean, corrupt, tokens, logit_diff, [(0, 4)])


def test_path_patching_returns_a_sweep_result(setup):
    model, clean, corrupt, tokens = setup
    view = model.decoder_stream(clean)
    corrupt_tokens = torch.tensor([[50257, 50362, 11, 99, 13]])
    one = direct_path(view, tokens, corrupt_tokens, logit_diff, Sender(0, "attn", 1), 1)
    assert isinstance(one, SweepResult) and one.values.shape == (1, 1)
    assert one.cell_labels == ["H1"] and math.isfinite(one.clean_value)
    heads = audio_to_cross_heads(model, clean, corrupt, tokens, logit_diff, [(0, 1), (1, 2)])
    assert heads.cell_labels == ["L0H1+L1H2"] and heads.metadata["heads"] == [(0, 1), (1, 2)]
    with torch.no_grad():
        assert heads.clean_value == pytest.approx(float(logit_diff(model(clean, tokens))), abs=1e-5)
    with pytest.raises(ValueError, match="one-cell"):
        sweep(setup, layers=[0]).item()


def test_clips_of_different_duration_warn(tiny_en, jfk_audio):
    tokens = tiny_en.to_tokens(" And so")
    view = tiny_en.encoder_stream(tokens)
    long = tiny_en.to_frames(jfk_audio[: 16000 * 3], sample_rate=16000)
    short = tiny_en.to_frames(jfk_audio[: 16000 * 2], sample_rate=16000)
    assert view.input_seconds(long) == pytest.approx(3.0, abs=0.05)
    with pytest.warns(UserWarning, match="align_pair"):
        layer_sweep(view, long, short, logit_diff, layers=[3], cells=[[0]], progress=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        layer_sweep(view, long, long * 0.9, logit_diff, layers=[3], cells=[[0]], progress=False)


def test_views_satisfy_the_protocol_and_incomplete_ones_fail_when_made(setup):
    model, clean, _, tokens = setup
    assert isinstance(model.encoder_stream(tokens), AudioStream)
    assert isinstance(model.decoder_stream(clean), AudioStream)

    class NoResume(StreamView):
        causal = False

        def cell_seconds(self, groups):
            return None

        def cell_labels(self, groups):
            return [str(g) for g in groups]

    with pytest.raises(TypeError, match="lacks ln_final, resume_from"):
        NoResume(model, "encoder.")
    assert issubclass(WhisperEncoderStream, StreamView)


def test_attribution_checks_like_the_exact_sweep(setup):
    model, clean, corrupt, tokens = setup
    view = model.encoder_stream(tokens)
    with pytest.raises(ValueError, match="Layers must lie"):
        resid_pre_attribution(view, clean, corrupt, logit_diff, layers=[9])
    with unchecked_types(), pytest.raises(ValueError, match="differ in shape"):
        resid_pre_attribution(view, clean, corrupt[..., :3], logit_diff)


def test_views_check_names_tokens_and_cache_size(setup, monkeypatch):
    from hooked_audio import cache_memory

    model, clean, _, tokens = setup
    view = model.decoder_stream(clean)
    with pytest.raises(KeyError, match="Did you mean 'blocks.0.hook_resid_pre'"):
        view.run_with_cache(tokens, names_filter=["blocks.0.hook_resid_pr"])
    with unchecked_types(), pytest.raises(TypeError, match="to_tokens"):
        view("And so")
    torch.testing.assert_close(view(tokens[0].tolist()), view(tokens))
    encoder = model.encoder_stream(tokens[0].tolist())
    torch.testing.assert_close(encoder(clean), model.encoder_stream(tokens)(clean))
    # the encoder view's patterns are [batch, head, pos, pos]: refuse when they cannot fit
    monkeypatch.setattr(cache_memory, "available_memory", lambda device: 4096)
    with pytest.raises(MemoryError, match="names_filter"):
        encoder.run_with_cache(clean)
    _, small = encoder.run_with_cache(clean, names_filter="blocks.0.hook_resid_pre")
    assert list(small.keys()) == ["blocks.0.hook_resid_pre"]
