"""The steering sweep on the real tiny.en: strength 0 is the unsteered model, a steered
transcript equals transcribing with the steering hook by hand, and bad input is refused."""

import pytest
import torch

from hooked_audio.ablation_study import non_speech_set, steering_sweep
from hooked_audio.interventions import steering_hook
from hooked_audio.models.loading import model_family

HOOK = "encoder.blocks.3.hook_resid_post"


@pytest.fixture(scope="module")
def clips():
    return non_speech_set(seconds=3.0)[:2]


def test_sweep_matches_hand_steering_and_the_plain_model_slow(tiny_en, clips):
    direction = torch.randn(tiny_en.cfg.d_model, generator=torch.Generator().manual_seed(0))
    sweep = steering_sweep(tiny_en, clips, HOOK, direction, [40.0])
    rows = sweep.rows.set_index(["strength", "clip"])
    family = model_family(tiny_en)
    plain = family.transcribe([clip.audio for clip in clips])
    assert [rows.loc[(0.0, c.name), "transcript"] for c in clips] == plain
    by_hand = family.transcriber([c.audio for c in clips])([(HOOK, steering_hook(direction, 40.0))])
    assert [rows.loc[(40.0, c.name), "transcript"] for c in clips] == by_hand
    mel = tiny_en.to_mel([c.audio for c in clips])
    prompt = torch.tensor([tiny_en.tokenizer.sot_sequence_including_notimestamps] * len(clips))
    with torch.no_grad():
        _, cache = tiny_en.run_with_cache(mel, prompt, names_filter=HOOK)
    assert sweep.activation_norm == pytest.approx(float(cache[HOOK].norm(dim=-1).mean()), rel=1e-4)
    summary = sweep.summary()
    assert list(summary.index) == [0.0, 40.0]
    fig = sweep.plot()
    assert list(fig.axes[0].lines[0].get_xdata()) == [0.0, 40.0]


def test_sweep_refuses_bad_input(tiny_en, clips):
    with pytest.raises(ValueError, match="Unknown hook names"):
        steering_sweep(tiny_en, clips, "encoder.blocks.9.hook_resid_post", torch.ones(384), [1.0])
    with pytest.raises(ValueError, match="clip set is empty"):
        steering_sweep(tiny_en, [], HOOK, torch.ones(384), [1.0])
    with pytest.raises(ValueError, match="all zeros"):
        steering_sweep(tiny_en, clips, HOOK, torch.zeros(384), [1.0])
