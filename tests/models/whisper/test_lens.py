"""The encoder lens, the decoder logit lens and `hooked-audio lens`, on the real tiny.en and
the bundled JFK clip."""

from __future__ import annotations

import json
from importlib.resources import files

import matplotlib
import numpy as np
import pytest
import soundfile as sf
import torch
from whisper.decoding import DecodingOptions

from hooked_audio.cli import main
from hooked_audio.models.whisper import HookedWhisper
from hooked_audio.models.whisper.lens.decoder_lens import decoder_lens
from hooked_audio.models.whisper.lens.encoder_lens import encoder_lens, lensed_features

JFK = (
    "And so my fellow Americans ask not what your country can do for you, "
    "ask what you can do for your country."
)
CLIP = files("hooked_audio") / "data" / "jfk.flac"


@pytest.fixture(scope="module")
def lens(tiny_en, jfk_mel):
    return encoder_lens(tiny_en, jfk_mel, max_tokens=8)


def test_last_encoder_layer_reproduces_the_model(tiny_en, jfk_mel, lens):
    with torch.no_grad():
        encoded = tiny_en.encoder(jfk_mel)
    lensed = lensed_features(tiny_en, jfk_mel, ["encoder.blocks.3.hook_resid_post"])[0]
    assert torch.equal(lensed, encoded)
    options = DecodingOptions(language="en", without_timestamps=True, fp16=False)
    own = tiny_en.decode(jfk_mel, options)[0]
    last = lens.rows[-1]
    assert last.hook_name == "encoder.blocks.3.hook_resid_post"
    assert last.tokens == own.tokens
    assert last.text == own.text == lens.text == JFK
    assert lens.target_tokens == [*own.tokens, tiny_en.tokenizer.eot]
    assert last.accuracy == 1.0 and last.n_correct == last.n_targets == len(own.tokens) + 1
    assert last.mean_log_prob == pytest.approx(own.avg_logprob, abs=1e-3)


def test_shallow_encoder_layers_decode_worse(lens):
    table = lens.to_dataframe()
    print("\n" + table.drop(columns=["tokens", "hook_name"]).to_string())
    assert table["layer"].tolist() == [-1, 0, 1, 2, 3]
    layer0, last = lens.rows[1], lens.rows[-1]
    assert layer0.layer == 0
    assert layer0.accuracy < last.accuracy
    assert layer0.mean_log_prob < last.mean_log_prob
    assert lens.correct.shape == lens.target_log_probs.shape == (5, len(lens.target_tokens))
    assert all(len(row.tokens) <= 8 for row in lens.rows[:-1])
    matplotlib.use("Agg")
    axes = lens.plot()
    assert "nats" in axes[1].get_ylabel() and "encoder layer" in axes[0].get_xlabel()


def test_decoder_lens_matches_a_direct_readout(tiny_en, jfk_mel, lens):
    tokens = torch.tensor([[*tiny_en.start_tokens(), *lens.target_tokens]])
    result = decoder_lens(tiny_en, jfk_mel, tokens=tokens)
    names = [f"decoder.blocks.{l}.hook_resid_post" for l in range(4)]
    with torch.no_grad():
        logits, cache = tiny_en.run_with_cache(
            jfk_mel, tokens, names_filter=["decoder.blocks.0.hook_resid_pre", *names]
        )
        direct = torch.stack(
            [
                tiny_en.decoder.ln_final(cache[name])[0, 1:-1] @ tiny_en.W_U
                for name in ["decoder.blocks.0.hook_resid_pre", *names]
            ]
        )
    targets = tokens[0, 2:]
    assert result.positions == list(range(1, tokens.shape[1] - 1))
    assert torch.equal(result.target_ids, targets)
    assert torch.equal(result.top_ids[-1], logits[0, 1:-1].argmax(dim=-1))
    assert torch.equal(result.top_ids, direct.argmax(dim=-1))
    probs = direct.softmax(dim=-1)[:, torch.arange(len(targets)), targets]
    torch.testing.assert_close(result.target_probs, probs, atol=1e-5, rtol=1e-4)
    print("\n" + result.summary().to_string())
    assert result.accuracy()[-1] > result.accuracy()[1]
    assert len(result.to_dataframe()) == 5 * len(targets)
    matplotlib.use("Agg")
    ax = result.plot()
    assert [t.get_text() for t in ax.get_xticklabels()][:2] == [" And", " so"]


def test_lens_command_prints_json(tiny_en, monkeypatch, capsys):
    monkeypatch.setattr(HookedWhisper, "from_pretrained", classmethod(lambda cls, *a, **k: tiny_en))
    assert main(["lens", str(CLIP), "--json", "--max-tokens", "4"]) == 0
    report = json.loads(capsys.readouterr().out)
    (window,) = report["windows"]
    assert window["transcript"] == JFK
    rows = window["encoder_lens"]
    assert [row["layer"] for row in rows] == [-1, 0, 1, 2, 3]
    assert rows[-1]["accuracy"] == 1.0 and rows[-1]["text"] == JFK
    assert [row["layer"] for row in window["decoder_lens"]] == [-1, 0, 1, 2, 3]


@pytest.mark.parametrize(
    ("make_args", "message"),
    [
        (lambda tmp: ["lens", str(tmp / "missing.flac")], "does not exist"),
        (lambda tmp: ["lens", str(tmp / "long.wav")], "--chunk"),
        (lambda tmp: ["lens", str(CLIP), "--max-tokens", "0"], "--max-tokens"),
    ],
)
def test_lens_command_checks_inputs_before_loading(
    tmp_path, monkeypatch, capsys, make_args, message
):
    def refuse(*args, **kwargs):
        raise AssertionError("the model was loaded")

    monkeypatch.setattr(HookedWhisper, "from_pretrained", refuse)
    sf.write(tmp_path / "long.wav", np.zeros(31 * 16000, dtype=np.float32), 16000)
    with pytest.raises(SystemExit) as stop:
        main(make_args(tmp_path))
    # a user error: one line naming it, exit status 2 (docs/cli.md)
    assert stop.value.code == 2 and message in capsys.readouterr().err
