"""Cross-attention head patching against brute force on openai-whisper; time cells."""

from __future__ import annotations

import pytest
import torch

from hooked_audio import HookedWhisper, mel_to_frames
from hooked_audio.models.whisper import cross_attention_head_sweep, word_cells
from hooked_audio.patching import resid_pre_sweep, time_cells
from tests.helpers.whisper_models import random_dims, random_reference

DIMS = random_dims(n_audio_ctx=6, n_text_ctx=12)


def logit_diff(logits):
    return (logits[:, -1, 7] - logits[:, -1, 8]).mean()


@pytest.fixture(scope="module")
def setup():
    ref = random_reference(DIMS, seed=21, std=0.15)
    model = HookedWhisper.from_openai_state_dict(DIMS, ref.state_dict())
    gen = torch.Generator().manual_seed(5)
    clean = torch.randn(1, 80, 12, generator=gen)
    corrupt = clean + 2 * torch.randn(1, 80, 12, generator=gen)
    tokens = torch.tensor([[50257, 50362, 11, 12, 13]])
    return ref, model, clean, corrupt, tokens


def _brute_force_cross_heads(ref, clean, corrupt, tokens, n_heads, d_head, row=slice(None)):
    """Replace one head's slice of the input to openai-whisper's cross_attn.out projection."""
    clean_in = {}
    blocks = ref.decoder.blocks
    handles = [
        b.cross_attn.out.register_forward_pre_hook(
            lambda m, a, l=l: clean_in.__setitem__(l, a[0].detach())
        )
        for l, b in enumerate(blocks)
    ]
    with torch.no_grad():
        ref(clean, tokens)
    for h in handles:
        h.remove()
    out = torch.zeros(len(blocks), n_heads)
    for layer, block in enumerate(blocks):
        for head in range(n_heads):
            cols = slice(head * d_head, (head + 1) * d_head)

            def patch(m, a, layer=layer, cols=cols):
                x = a[0].clone()
                x[:, row, cols] = clean_in[layer][:, row, cols]
                return (x,)

            handle = block.cross_attn.out.register_forward_pre_hook(patch)
            with torch.no_grad():
                out[layer, head] = logit_diff(ref(corrupt, tokens))
            handle.remove()
    return out


def test_cross_attention_head_z_patching_equals_brute_force(setup):
    ref, model, clean, corrupt, tokens = setup
    result = cross_attention_head_sweep(model, clean, corrupt, tokens, logit_diff, progress=False)
    expected = _brute_force_cross_heads(
        ref, clean, corrupt, tokens, DIMS.n_text_head, DIMS.n_text_state // DIMS.n_text_head
    )
    torch.testing.assert_close(result.values, expected, atol=1e-4, rtol=0)
    assert result.cell_labels == ["H0", "H1", "H2", "H3"]
    with torch.no_grad():
        assert result.clean_value == pytest.approx(
            float(logit_diff(model(clean, tokens))), abs=1e-5
        )


def test_cross_attention_noising_and_by_position(setup):
    ref, model, clean, corrupt, tokens = setup
    n_heads, d_head = DIMS.n_text_head, DIMS.n_text_state // DIMS.n_text_head
    noised = cross_attention_head_sweep(
        model, clean, corrupt, tokens, logit_diff, direction="noise", progress=False
    )
    # Noising = the clean run with the corrupt head patched in: brute force with roles swapped.
    expected = _brute_force_cross_heads(ref, corrupt, clean, tokens, n_heads, d_head)
    torch.testing.assert_close(noised.values, expected, atol=1e-4, rtol=0)
    by_pos = cross_attention_head_sweep(
        model, clean, corrupt, tokens, logit_diff, by_pos=True, progress=False
    )
    n_tok = tokens.shape[1]
    assert by_pos.values.shape == (DIMS.n_text_layer, n_heads * n_tok)
    last = by_pos.values.view(DIMS.n_text_layer, n_heads, n_tok)[:, :, -1]
    expected_last = _brute_force_cross_heads(ref, clean, corrupt, tokens, n_heads, d_head, row=-1)
    torch.testing.assert_close(last, expected_last, atol=1e-4, rtol=0)


def test_windows_spans_and_speech_frames():
    cells = time_cells.windows(1500, window_s=0.2, stride_s=0.1, end_s=1.0)
    assert cells.cells[0] == list(range(10)) and cells.cells[1] == list(range(5, 15))
    assert cells.seconds[0] == pytest.approx((0.0, 0.2))
    assert len(cells.cells) == 10
    spans = time_cells.spans(1500, [(1.76, 2.26)], labels=["Americans"])
    assert spans.cells[0] == list(range(88, 113)) and spans.labels == ["Americans"]
    assert time_cells.speech_frames(5.0, 1500) == list(range(250))
    with pytest.raises(ValueError, match="empty"):
        time_cells.spans(1500, [(2.0, 1.0)])
    for bad in (dict(window_s=float("nan")), dict(stride_s=float("inf")), dict(end_s=float("nan"))):
        with pytest.raises(ValueError, match="must be finite numbers of seconds"):
            time_cells.windows(1500, **bad)


def test_word_cells_on_tiny_en(tiny_en, jfk_mel):
    text = tiny_en.tokenizer.encode(" And so my fellow Americans, ask not")
    cells = word_cells(tiny_en, jfk_mel, text, duration_s=11.0)
    assert cells.labels[:5] == ["And", "so", "my", "fellow", "Americans"]
    start, end = cells.seconds[4]
    assert 1.3 < start < 2.0 and 2.0 < end < 2.8  # "Americans" is spoken around 1.8-2.3 s
    tokens = tiny_en.to_tokens(" And so my fellow")
    answer = tiny_en.to_single_token(" Americans")
    silent = tiny_en.to_mel(torch.zeros(16000).numpy(), sample_rate=16000)
    corrupt = jfk_mel.clone()
    corrupt[..., 2 * cells.cells[4][0] : 2 * (cells.cells[4][-1] + 1)] = silent[
        ..., : 2 * len(cells.cells[4])
    ]
    metric = lambda logits: logits[:, -1].log_softmax(-1)[:, answer].mean()
    result = resid_pre_sweep(
        tiny_en.encoder_stream(tokens),
        mel_to_frames(jfk_mel),
        mel_to_frames(corrupt),
        metric,
        layers=[0],
        cells=cells.cells[3:6],
        labels=cells.labels[3:6],
        progress=False,
    )
    # Restoring the frames of "Americans" at layer 0 recovers the answer; its neighbours do not.
    recovery = result.normalised()[0]
    assert recovery[1] > 0.8 and recovery[0] < 0.3 and recovery[2] < 0.3


def test_head_sweep_refuses_a_cache_from_another_model(setup):
    from hooked_audio.patching import head_sweep

    _, model, clean, _, tokens = setup
    other = HookedWhisper(DIMS, seed=1)
    with torch.no_grad():
        _, foreign = other.decoder_stream(clean).run_with_cache(tokens)
    with pytest.raises(ValueError, match="different model"):
        head_sweep(model.decoder_stream(clean), tokens, foreign, logit_diff)
