"""`write_dashboard`: an SAE's features as one self-contained `dashboard.html` (every snippet,
figure and number inline, so it opens offline and can be mailed as one file), and the numbers
shown as `features.json` beside it.

The page holds a header (the hook, the model, the SAE's size, the rows read, the dead fraction,
how the features shown were chosen), a histogram of feature density, then one section per
feature: its density and mean activation when active, what it writes to the logits where that
can be read directly, and its top examples, each with the audio around its frame to play, the
log-mel there with the feature's activation drawn on top, and the word spoken there.
"""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Mapping, Sequence
from html import escape
from pathlib import Path
from typing import Any

import numpy as np
import torch

from hooked_audio.activation_store.clips import StoreClip
from hooked_audio.activation_store.store import ActivationStore
from hooked_audio.checks import check_count
from hooked_audio.sae.dashboard.examples import (
    ARTEFACT_POSITIONS,
    RANKINGS,
    FeatureExample,
    FeatureExamples,
    check_features,
    feature_examples,
    store_hook,
)
from hooked_audio.sae.dashboard.figures import (
    CONTEXT_S,
    ClipMels,
    density_figure,
    example_figure,
    snippet_span,
)
from hooked_audio.study.report_embed import audio_data_uri, json_data_uri, plain_json
from hooked_audio.study.report_html import CSS, facts_html

DASHBOARD_FILE = "dashboard.html"
FEATURES_FILE = "features.json"
#: tokens listed each way in a feature's direct logit effect
N_LOGIT_TOKENS = 8
#: resolution of the PNG figures
DPI = 120

DASHBOARD_CSS = """
.examples { display: grid; grid-template-columns: repeat(auto-fill, minmax(540px, 1fr));
  gap: 0.8em; }
figure.example { margin: 0; border: 1px solid #ddd; border-radius: 6px; padding: 0.5em; }
figure.example img { width: 100%; height: auto; display: block; margin-top: 0.3em; }
figure.example audio { width: 100%; height: 2.2em; }
figure.example figcaption { font-size: 0.95em; }
.density img { max-width: 100%; height: auto; }
table.logits { border-collapse: collapse; margin: 0.3em 0 0.8em; }
table.logits caption { text-align: left; color: #555; }
table.logits th, table.logits td { text-align: left; padding: 0.1em 1em 0.1em 0; }
.note { color: #555; font-size: 0.95em; max-width: 60em; }
nav.features a { margin-right: 0.6em; }
"""
DIRECT_NOTE = (
    "Direct logit effect: the tokens whose logits this feature's decoder direction "
    "(W_dec[f] @ W_U) raises and lowers most, as if it reached the unembedding unchanged. The "
    "decoder's final layer norm (ln_final) is ignored, and later layers may transform the "
    "direction, so this is a first reading, not the feature's total effect on the output."
)
ENCODER_NOTE = (
    "This feature lives in the encoder: it reaches the logits only through the decoder's "
    "cross-attention (the keys and values every decoder layer reads from the encoder's "
    "output), so there is no direct read-out through the unembedding. Measure its effect by "
    "ablating or steering it with the SAE spliced in (hooked_audio.sae.add_sae)."
)


def png_data_uri(fig) -> str:
    """A matplotlib figure as a `data:image/png;base64,...` URI (the figure is closed)."""
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI)
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def clips_by_id(
    clips: Sequence[StoreClip] | Mapping[str, StoreClip], store: ActivationStore
) -> dict[str, StoreClip]:
    """`clips` by id, checked to hold the audio of every clip of the store."""
    items = list(clips.values()) if isinstance(clips, Mapping) else list(clips)
    wrong = [type(c).__name__ for c in items if not isinstance(c, StoreClip)]
    if wrong:
        raise TypeError(
            f"clips must be StoreClips (or a dict id -> StoreClip), got {sorted(set(wrong))}; "
            "pass the clips the store was written from, e.g. clips_from_pairs(pairs)."
        )
    by_id = {clip.id: clip for clip in items}
    missing = [c for c in store.clips if c not in by_id]
    if missing:
        raise ValueError(
            f"The dashboard plays and draws the audio of the store's clips, but {len(missing)} "
            f"of them were not given in `clips`: {missing[:5]}{' ...' if len(missing) > 5 else ''}"
            ". Pass the StoreClips the store was written from (the same ids)."
        )
    info = store.clip_info.set_index("id")["seconds"]
    other = [c for c in store.clips if abs(by_id[c].seconds - float(info[c])) > 0.011]
    if other:
        raise ValueError(
            f"The audio given for {other[:5]} is not the audio the store was written from "
            f"(its length differs: {[round(by_id[c].seconds, 3) for c in other[:5]]} s given, "
            f"{[round(float(info[c]), 3) for c in other[:5]]} s stored)."
        )
    return by_id


def _token(tokenizer: Any, token: int) -> str:
    text = tokenizer.decode([token])
    if not text and hasattr(tokenizer, "decode_with_timestamps"):
        text = tokenizer.decode_with_timestamps([token])  # a timestamp token: <|1.20|>
    return text


@torch.no_grad()
def logit_effects(
    sae: Any, model: Any, features: Sequence[int], n: int = N_LOGIT_TOKENS
) -> dict[int, dict[str, list[dict]]]:
    """For each feature, the `n` tokens `W_dec[f] @ model.W_U` raises most (`boosted`) and
    lowers most (`suppressed`), each `{"token", "id", "value"}`. Each feature's row is its own
    vector-matrix product, so its values do not depend on which other features are asked for
    (a matrix product of several rows may round differently from one row's)."""
    W_U = model.W_U.detach()
    out = {}
    for f in features:
        direction = sae.W_dec.detach()[int(f)].to(W_U.device, W_U.dtype)
        row = (direction @ W_U).float().cpu()
        ups, downs = torch.topk(row, n), torch.topk(-row, n)
        out[int(f)] = {
            "boosted": [
                {"token": _token(model.tokenizer, int(i)), "id": int(i), "value": float(v)}
                for v, i in zip(ups.values, ups.indices)
            ],
            "suppressed": [
                {"token": _token(model.tokenizer, int(i)), "id": int(i), "value": float(-v)}
                for v, i in zip(downs.values, downs.indices)
            ],
        }
    return out


def logit_reading(sae: Any, model: Any, hook: str) -> tuple[bool, str]:
    """Whether a direct logit effect applies at `hook`, and the note that says why (not)."""
    if hook.startswith("decoder."):
        if model is None:
            return False, (
                "Pass model= to show the tokens this feature's decoder direction raises and "
                "lowers directly (W_dec[f] @ W_U)."
            )
        d_model = int(model.W_U.shape[0])
        if int(sae.cfg.d_in) != d_model:
            return False, (
                f"This decoder hook's rows have {sae.cfg.d_in} features, not the residual "
                f"stream's {d_model}: there is no direct read-out through the unembedding."
            )
        return True, DIRECT_NOTE
    if hook.startswith("encoder."):
        return False, ENCODER_NOTE
    return False, f"No direct logit read-out is shown for {hook!r}."


def _tokens_html(tokens: list[dict]) -> str:
    return ", ".join(
        f"<code>{escape(repr(t['token']))}</code>&nbsp;{t['value']:+.3g}" for t in tokens
    )


def _logits_html(effect: dict[str, list[dict]] | None) -> str:
    if effect is None:
        return ""
    return (
        '<table class="logits"><caption>direct logit effect (see the note above)</caption>'
        f"<tr><th>raises</th><td>{_tokens_html(effect['boosted'])}</td></tr>"
        f"<tr><th>lowers</th><td>{_tokens_html(effect['suppressed'])}</td></tr></table>"
    )


def _example_html(
    example: FeatureExample, clip: StoreClip, audio_uri: str, png_uri: str, span
) -> str:
    if example.word:
        word = f"&ldquo;{escape(example.word)}&rdquo;"
    else:
        word = "<i>between words</i>" if clip.words else "<i>(no word times)</i>"
    start, end = span
    alt = f"log-mel of {example.clip} {start:.2f}-{end:.2f} s with feature {example.feature}"
    return (
        f'<figure class="example" data-rank="{example.rank}">'
        f"<figcaption><b>#{example.rank + 1}</b> activation {example.value:.3g}, "
        f"{word} at {example.time_s:.2f} s in <code>{escape(example.clip)}</code> "
        f"(snippet {start:.2f}-{end:.2f} s)</figcaption>"
        f'<audio controls preload="auto" src="{audio_uri}" data-duration="{end - start:.3f}">'
        f'</audio><img src="{png_uri}" alt="{escape(alt)}"></figure>'
    )


def _feature_facts(ex: FeatureExamples, i: int) -> dict[str, str]:
    if ex.active_rows[i] == 0:
        return {"density": f"0 (never > 0 on the {ex.rows:,} rows read: a dead feature)"}
    facts = {
        "density": f"{ex.density[i]:.3%} ({ex.active_rows[i]:,} of {ex.rows:,} rows)",
        "mean activation when active": f"{ex.mean_active[i]:.3g}",
        "largest activation": f"{ex.values[i, 0]:.3g}",
    }
    if ex.position_artefact(int(ex.features[i])):
        facts["position artefact"] = (
            f"every top example sits in a window's first {ARTEFACT_POSITIONS * 20} ms: it marks "
            "where the window starts (leading silence included), not a sound"
        )
    return facts


def _dead_fact(ex: FeatureExamples) -> str:
    said = f"{ex.dead_fraction:.1%} ({len(ex.dead)} of {ex.d_sae} features never > 0)"
    if ex.dead_fraction > 0.5:
        said += (
            ": most of this SAE's features never fire on these clips (a short run or little "
            "data for its width; docs/sae.md)"
        )
    return said


def _choice(features, n_features: int, by: str) -> str:
    if features is not None:
        return f"{len(features)} chosen by the caller"
    ranking = "densest" if by == "density" else "with the largest activations"
    return f"the {n_features} live features {ranking} (dead ones skipped)"


def write_dashboard(
    sae: Any,
    store: ActivationStore | str | Path,
    clips: Sequence[StoreClip] | Mapping[str, StoreClip],
    out_dir: str | Path,
    features: Sequence[int] | None = None,
    n_features: int = 16,
    k: int = 6,
    model: Any = None,
    hook: str | None = None,
    by: str = "max",
    context_s: float = CONTEXT_S,
    chunk_rows: int = 8192,
) -> Path:
    """Write `out_dir/dashboard.html` and `out_dir/features.json` (module docstring) and return
    the page's path.

    `store`: the activation store the SAE reads (its `hook`, default the SAE's own). `clips`:
    the StoreClips the store was written from (a list or a dict id -> clip), for the audio.
    `features`: the features to show, or None for `n_features` live ones ranked `by`
    ("max": largest activation first, or "density"). `k` examples per feature, each with
    `context_s` seconds of audio either side of its frame. `model`: a `HookedWhisper`, for
    the log-mel's size and, at a decoder hook, the direct logit effect of each feature."""
    store = store if isinstance(store, ActivationStore) else ActivationStore(store)
    check_count(k, "k")
    check_count(n_features, "n_features")
    if by not in RANKINGS:
        raise ValueError(f"by must be one of {RANKINGS}, got {by!r}.")
    if not context_s > 0:
        raise ValueError(f"context_s must be positive seconds, got {context_s!r}.")
    chosen = None if features is None else check_features(features, int(sae.cfg.d_sae))
    hook = store_hook(sae, store, hook)
    by_id = clips_by_id(clips, store)

    ex = feature_examples(sae, store, hook, None, k, chunk_rows)
    shown = [int(f) for f in chosen] if chosen is not None else ex.top_features(n_features, by)
    direct, note = logit_reading(sae, model, hook)
    effects = logit_effects(sae, model, shown) if direct else {}
    n_mels = int(getattr(getattr(model, "dims", None), "n_mels", 80))
    mels = ClipMels(n_mels, store.manifest.get("window_seconds", 30.0))
    model_name = ex.model_name
    if model_name == "not recorded" and store.manifest.get("source"):
        model_name = f"{store.manifest['source']} (the store's source; the SAE records none)"

    sections, records = [], []
    summary = ex.summary()
    for f in shown:
        i = ex.index_of(f)
        cards, examples = [], []
        for example in ex.examples(f):
            clip = by_id[example.clip]
            span = snippet_span(example.time_s, clip.seconds, context_s)
            rate = clip.audio.sample_rate
            audio = np.asarray(clip.audio)[round(span[0] * rate) : round(span[1] * rate)]
            fig = example_figure(sae, store, example, clip, hook, context_s, mels)
            audio_uri, png_uri = audio_data_uri(audio, rate), png_data_uri(fig)
            cards.append(_example_html(example, clip, audio_uri, png_uri, span))
            examples.append({**vars(example), "snippet_s": list(span)})
        effect = effects.get(f)
        sections.append(
            f'<section id="feature-{f}" class="feature"><h2>Feature {f}</h2>'
            f"{facts_html(_feature_facts(ex, i))}{_logits_html(effect)}"
            f'<div class="examples">{"".join(cards)}</div></section>'
        )
        numbers = summary.iloc[i].to_dict()
        records.append({**numbers, "feature": f, "examples": examples, "logit_effect": effect})

    facts = {
        "hook": hook,
        "model": model_name,
        "d_in": str(ex.d_in),
        "d_sae": str(ex.d_sae),
        "rows read": f"{ex.rows:,} (20 ms positions of {len(ex.clips)} clips)",
        "dead": _dead_fact(ex),
        "features shown": _choice(chosen, n_features, by),
        "examples": f"the top {k} activating rows of each, {context_s:g} s of audio either side",
    }
    data = {
        "hook": hook,
        "model_name": ex.model_name,
        "d_in": ex.d_in,
        "d_sae": ex.d_sae,
        "rows": ex.rows,
        "clips": ex.clips,
        "dead_fraction": ex.dead_fraction,
        "density": ex.density.tolist(),
        "features": records,
    }
    data = plain_json(data)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    text = json.dumps(data, allow_nan=False, indent=1)
    (out_dir / FEATURES_FILE).write_text(text, encoding="utf-8")
    density_png = png_data_uri(density_figure(ex.density, ex.rows))
    nav = "".join(f'<a href="#feature-{f}">{f}</a>' for f in shown)
    title = f"SAE features at {hook} ({model_name})"
    html = (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title><style>{CSS}{DASHBOARD_CSS}</style></head><body>"
        f"<header><h1>{escape(title)}</h1>{facts_html(facts)}"
        f'<a class="download" download="{FEATURES_FILE}" href="{json_data_uri(data)}">'
        f"Download the numbers ({FEATURES_FILE})</a>"
        f'<p class="note logit-note"><b>Logit effect.</b> {escape(note)}</p></header>'
        f'<section id="density" class="density"><h2>Feature density</h2>'
        f'<img src="{density_png}" alt="histogram of log10 feature density"></section>'
        f'<nav class="features"><b>Features:</b> {nav}</nav>'
        f"{''.join(sections)}</body></html>\n"
    )
    path = out_dir / DASHBOARD_FILE
    path.write_text(html, encoding="utf-8")
    return path
