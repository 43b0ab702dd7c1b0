"""Linear CKA: both estimators equal a brute force with explicit n x n Gram and centering
matrices; the invariances (orthogonal maps, isotropic scaling, CKA(x, x) = 1); why debiased is
the default (independent matrices); layer x layer matrices within and between models, frames
aligned in time; bad input refused with the fix."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib import pyplot as plt  # noqa: E402

from hooked_audio import HookedAudioEncoder  # noqa: E402
from hooked_audio.analysis import (  # noqa: E402
    LayerActivations,
    aligned_activations,
    cka_matrix,
    layer_activations,
    linear_cka,
)
from tests.helpers.audio_encoder_models import random_hf  # noqa: E402
from tests.helpers.figure_text import cut_off_text  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def related(n: int = 40, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """x [n, 6] and y [n, 9] = a noisy linear map of x, shifted away from 0."""
    x = torch.randn(n, 6, generator=gen(seed), dtype=torch.float64) + 3.0
    y = x @ torch.randn(6, 9, generator=gen(seed + 1), dtype=torch.float64)
    return x, y + 0.8 * torch.randn(n, 9, generator=gen(seed + 2), dtype=torch.float64) - 1.0


def brute_force_cka(x: torch.Tensor, y: torch.Tensor, debiased: bool) -> float:
    """CKA from the n x n Gram matrices of the raw (uncentred) x and y."""
    n = x.shape[0]
    ones = torch.ones(n, dtype=torch.float64)

    def hsic(k, l):
        if not debiased:
            h = torch.eye(n, dtype=torch.float64) - torch.outer(ones, ones) / n
            return torch.trace(k @ h @ l @ h) / (n - 1) ** 2
        k = k - torch.diag(torch.diag(k))
        l = l - torch.diag(torch.diag(l))
        return (
            torch.trace(k @ l)
            + (ones @ k @ ones) * (ones @ l @ ones) / ((n - 1) * (n - 2))
            - 2 / (n - 2) * (ones @ k @ l @ ones)
        ) / (n * (n - 3))

    k, l = x @ x.T, y @ y.T
    return float(hsic(k, l) / torch.sqrt(hsic(k, k) * hsic(l, l)))


@pytest.mark.parametrize("debiased", [True, False])
def test_equals_brute_force_with_gram_and_centering_matrices(debiased):
    for seed in range(3):
        x, y = related(seed=seed)
        assert linear_cka(x, y, debiased) == pytest.approx(brute_force_cka(x, y, debiased), 1e-10)
        assert linear_cka(x, y, debiased) == pytest.approx(linear_cka(y, x, debiased), 1e-12)


@pytest.mark.parametrize("debiased", [True, False])
def test_invariances(debiased):
    x, y = related()
    q, _ = torch.linalg.qr(torch.randn(9, 9, generator=gen(7), dtype=torch.float64))
    value = linear_cka(x, y, debiased)
    assert 0.3 < value < 1  # related, not identical
    assert linear_cka(x, y @ q, debiased) == pytest.approx(value, 1e-10)
    assert linear_cka(x * 7.5, y / 300, debiased) == pytest.approx(value, 1e-10)
    assert linear_cka(x, x, debiased) == pytest.approx(1.0, 1e-12)
    q6, _ = torch.linalg.qr(torch.randn(6, 6, generator=gen(8), dtype=torch.float64))
    assert linear_cka(x, x @ q6, debiased) == pytest.approx(1.0, 1e-10)
    # float32 input is computed in float64 too
    assert linear_cka(x.float(), y.float(), debiased) == pytest.approx(value, 1e-5)


def test_independent_frames_look_similar_to_the_biased_estimator_only():
    """The module docstring's claim: plug-in CKA of independent [n, d] Gaussians is about
    d / (n + d); the debiased estimate is near 0."""
    n, d = 500, 384
    x = torch.randn(n, d, generator=gen(1))
    y = torch.randn(n, d, generator=gen(2))
    assert linear_cka(x, y, debiased=False) == pytest.approx(d / (n + d), abs=0.02)
    assert abs(linear_cka(x, y, debiased=True)) < 0.01


def test_bad_input_is_refused_with_the_fix():
    x, y = related()
    with pytest.raises(ValueError, match="x has 40 samples and y 39"):
        linear_cka(x, y[:39])
    with pytest.raises(ValueError, match="NaN or infinite"):
        linear_cka(x, y.masked_fill(y > 2, float("nan")))
    with pytest.raises(ValueError, match=r"\[n_samples, d\] matrix"):
        linear_cka(x[None], y)
    with pytest.raises(ValueError, match="at least 4"):
        linear_cka(x[:3], y[:3])
    with pytest.raises(ValueError, match="no variance"):
        linear_cka(torch.ones(10, 3), y[:10])


def acts(name, n_layers, frames_per_clip, step=0.02, seed=0, d=8):
    clips = [
        torch.randn(n_layers, n, d, generator=gen(seed + c)).cumsum(0)  # layers build up
        for c, n in enumerate(frames_per_clip)
    ]
    return LayerActivations(name, list(range(n_layers)), clips, step)


def test_matrix_within_a_model_is_cka_of_each_pair_of_layers():
    a = acts("a", 3, [30, 25])
    result = cka_matrix(a, progress=False)
    assert list(result.values.index) == ["0", "1", "2"] == list(result.values.columns)
    for i in range(3):
        for j in range(3):
            expected = linear_cka(a.layer_matrix(i), a.layer_matrix(j))
            assert result.values.iloc[i, j] == pytest.approx(expected, 1e-10)
    np.testing.assert_allclose(np.diag(result.values), 1.0)
    assert result.n_frames == 55


def test_two_models_are_compared_on_frames_aligned_in_time():
    fine = acts("fine", 2, [41, 30], step=0.02, seed=1)  # 20 ms frames
    coarse = acts("coarse", 3, [20, 16], step=0.04, seed=5)  # 40 ms frames
    result = cka_matrix(fine, coarse, debiased=False, progress=False)
    # by hand: the fine frames averaged in pairs (41 -> 20, 30 -> 15), coarse clip 1 cut to 15
    pooled = [c[:, : 2 * (c.shape[1] // 2)].unflatten(1, (-1, 2)).mean(2) for c in fine.clips]
    for i in range(2):
        for j in range(3):
            x = torch.cat([pooled[0][i], pooled[1][i]])
            y = torch.cat([coarse.clips[0][j], coarse.clips[1][j, :15]])
            expected = linear_cka(x, y, debiased=False)
            assert result.values.iloc[i, j] == pytest.approx(expected, 1e-10)
    assert result.n_frames == 35 and result.seconds_per_frame == pytest.approx(0.04)
    assert result.values.index.name == "fine layer" and result.values.columns.name == "coarse layer"


def test_mismatched_clips_and_rates_are_refused():
    a = acts("a", 2, [30, 25])
    with pytest.raises(ValueError, match="a has 2 clips and b 1"):
        aligned_activations(a, acts("b", 2, [30]))
    with pytest.raises(ValueError, match="Clip 1 has 25 frames in a and 20 in b"):
        aligned_activations(a, acts("b", 2, [30, 20]))
    with pytest.raises(ValueError, match="neither is a whole multiple"):
        aligned_activations(a, acts("b", 2, [20, 16], step=0.03))
    with pytest.raises(ValueError, match="NaN or infinite"):
        LayerActivations("bad", [0], [torch.full((1, 5, 3), float("nan"))], 0.02)
    with pytest.raises(ValueError, match="2 layers"):
        LayerActivations("bad", [0, 1], [torch.zeros(3, 5, 3)], 0.02)


def test_plot_labels_rows_and_columns_from_the_table():
    result = cka_matrix(acts("a", 2, [30]), acts("b", 3, [31], seed=3), progress=False)
    drawn = result.plot()
    np.testing.assert_allclose(drawn.image.get_array(), result.values.to_numpy())
    assert [t.get_text() for t in drawn.ax.get_xticklabels()] == ["0", "1", "2"]
    assert [t.get_text() for t in drawn.ax.get_yticklabels()] == ["0", "1"]
    assert drawn.ax.get_xlabel() == "b layer" and drawn.ax.get_ylabel() == "a layer"
    # the annotation of cell (row 1, column 2) sits at x = 2, y = 1 and shows its value
    text = drawn.annotations[1 * 3 + 2]
    assert text.get_position() == (2, 1)
    assert text.get_text() == f"{result.values.iloc[1, 2]:.2f}"
    assert cut_off_text(drawn.ax.figure) == []


def tiny_en_clip_activations(tiny_en, clip, layers=None):
    view = tiny_en.encoder_stream(tiny_en.to_tokens(" And so"))
    frames = [tiny_en.to_frames(clip)]
    return (
        view,
        frames,
        layer_activations(view, frames, "tiny.en", layers=layers, durations=[3.0], progress=False),
    )


def test_real_tiny_en_layers_against_each_other(tiny_en, jfk_audio):
    clip = jfk_audio[: 3 * 16000]  # 3 s: 150 frames of 20 ms
    view, frames, whisper_acts = tiny_en_clip_activations(tiny_en, clip)
    assert whisper_acts.frame_counts == [150]  # the padding of the window is left out
    _, cache = view.run_with_cache(frames[0], names_filter="blocks.3.hook_resid_post")
    torch.testing.assert_close(whisper_acts.clips[0][3], cache["blocks.3.hook_resid_post"][0, :150])
    within = cka_matrix(whisper_acts, progress=False)
    assert list(within.values.index) == ["0", "1", "2", "3"]
    np.testing.assert_allclose(np.diag(within.values), 1.0)
    np.testing.assert_allclose(within.values.to_numpy(), within.values.to_numpy().T, atol=1e-12)
    expected = linear_cka(whisper_acts.clips[0][0], cache["blocks.3.hook_resid_post"][0, :150])
    assert within.values.loc["0", "3"] == pytest.approx(expected, 1e-6)


def test_real_tiny_en_against_a_wav2vec2_on_the_same_clip(tiny_en, jfk_audio):
    clip = jfk_audio[: 3 * 16000]
    _, _, whisper_acts = tiny_en_clip_activations(tiny_en, clip, layers=[1, 2])
    encoder = HookedAudioEncoder.from_hf(random_hf("wav2vec2", ctc=True))
    wave = torch.as_tensor(np.asarray(clip), dtype=torch.float32)[None]
    w2v_acts = layer_activations(
        encoder.encoder_stream(), [encoder.to_frames(wave)], "wav2vec2", progress=False
    )
    assert w2v_acts.frame_counts == [(3 * 16000 - 400) // 320 + 1]  # 149
    between = cka_matrix(whisper_acts, w2v_acts, progress=False)
    assert between.n_frames == 149 and between.values.shape == (2, 2)
    assert list(between.values.index) == ["1", "2"]
    expected = linear_cka(whisper_acts.clips[0][1, :149], w2v_acts.clips[0][1])
    assert between.values.loc["2", "1"] == pytest.approx(expected, 1e-10)
