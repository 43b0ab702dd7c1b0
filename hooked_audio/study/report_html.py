"""The report page: a header, the figures over all pairs, one section per pair, with
plotly.js, the audio and the numbers inline, so the file opens without a network."""

from __future__ import annotations

import re
from dataclasses import dataclass
from html import escape

import plotly.graph_objects as go
from plotly.offline import get_plotlyjs

CSS = """
body { font-family: system-ui, sans-serif; margin: 0 auto; max-width: 1200px; padding: 1em 2em;
  color: #222; }
h1 { margin-bottom: 0.2em; } h2 { border-bottom: 1px solid #ddd; padding-bottom: 0.2em; }
dl.facts { display: grid; grid-template-columns: max-content auto; gap: 0.2em 1em; }
dl.facts dt { font-weight: 600; }
table.clips { border-collapse: collapse; margin: 0.5em 0 1em; }
table.clips th, table.clips td { text-align: left; padding: 0.3em 0.8em 0.3em 0;
  vertical-align: middle; }
.heard { color: #555; font-style: italic; }
.download { display: inline-block; margin: 0.5em 0; padding: 0.3em 0.8em;
  border: 1px solid #888; border-radius: 4px; text-decoration: none; color: #222; }
nav a { margin-right: 0.8em; }
"""
AGGREGATE_NOTE = (
    "Recovery is the patched run's metric rescaled so that 0 is the corrupt run's and 1 the "
    "clean run's, in either direction: denoising (clean activations into the corrupt run) "
    "near 1 means the patched frames suffice to restore the clean answer; noising (corrupt "
    "activations into the clean run) near 0 means they are needed for it. Means over pairs "
    "with 95% bootstrap intervals; hover for values, drag to zoom, double-click to reset."
)
#: plotly's mode bar without the plotly logo; PNG export at twice the size
PLOTLY_CONFIG = {"displaylogo": False, "toImageButtonOptions": {"scale": 2}}


@dataclass(frozen=True)
class Clip:
    """One clip of a pair as the page shows it: its text, what the model heard (None: not
    transcribed) and how it was decoded, and the audio as a `data:` URI."""

    name: str
    text: str
    heard: str | None
    audio_uri: str
    duration_s: float
    decoding: str | None = None


def anchor(pair_id: str) -> str:
    return "pair-" + re.sub(r"[^A-Za-z0-9_-]", "-", pair_id)


def figure_html(fig: go.Figure) -> str:
    """A figure's `<div>` and the call that draws it; plotly.js itself is in the page head."""
    return fig.to_html(full_html=False, include_plotlyjs=False, config=PLOTLY_CONFIG)


def facts_html(facts: dict[str, str]) -> str:
    items = "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in facts.items())
    return f'<dl class="facts">{items}</dl>'


def skipped_html(skipped: list[dict]) -> str:
    if not skipped:
        return ""
    items = "".join(
        f"<li><b>{escape(str(s.get('pair', '?')))}</b>: {escape(str(s.get('reason', '')))}</li>"
        for s in skipped
    )
    return f"<h3>Pairs left out</h3><ul>{items}</ul>"


def clips_html(clips: list[Clip]) -> str:
    rows = []
    for clip in clips:
        heard = ""
        if clip.heard is not None:
            how = f" ({escape(clip.decoding)})" if clip.decoding else ""
            heard = f'<br><span class="heard">the model hears{how}: {escape(clip.heard)}</span>'
        rows.append(
            f"<tr><th>{escape(clip.name)}</th><td>{escape(clip.text)}{heard}</td>"
            f'<td><audio controls preload="auto" src="{clip.audio_uri}" '
            f'data-duration="{clip.duration_s:.3f}"></audio></td></tr>'
        )
    return f'<table class="clips">{"".join(rows)}</table>'


def pair_section(pair_id: str, subtitle: str, clips: list[Clip], figure: go.Figure) -> str:
    return (
        f'<section id="{anchor(pair_id)}"><h2>{escape(pair_id)}</h2>'
        f"<p>{escape(subtitle)}</p>{clips_html(clips)}{figure_html(figure)}</section>"
    )


def page(
    title: str,
    facts: dict[str, str],
    skipped: list[dict],
    json_uri: str,
    aggregate: list[go.Figure],
    pair_sections: list[tuple[str, str]],
) -> str:
    """The whole document. `pair_sections`: `(pair id, section html)` in page order."""
    nav = "".join(f'<a href="#{anchor(pid)}">{escape(pid)}</a>' for pid, _ in pair_sections)
    figures = "".join(figure_html(fig) for fig in aggregate) or (
        "<p><b>No pair was studied</b>: see the pairs left out above.</p>"
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title><style>{CSS}</style>"
        f'<script type="text/javascript">{get_plotlyjs()}</script></head><body>'
        f"<header><h1>{escape(title)}</h1>{facts_html(facts)}{skipped_html(skipped)}"
        f'<a class="download" download="study.json" href="{json_uri}">'
        "Download the numbers (study.json: rows and summaries)</a></header>"
        f'<section id="all-pairs"><h2>All pairs</h2><p>{escape(AGGREGATE_NOTE)}</p>'
        f"{figures}</section>"
        f"<nav><b>Pairs:</b> {nav}</nav>"
        f"{''.join(html for _, html in pair_sections)}</body></html>\n"
    )
