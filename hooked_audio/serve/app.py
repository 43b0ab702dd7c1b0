"""The probing page: a Dash app (Flask underneath; Dash's components and callbacks, no
hand-written server or front end) over one model.

State lives on the server, keyed by clip: the `ClipProbe` of each clip looked at, its corrupt
twin once an experiment made one, and the sweeps running. The browser holds only keys and the
selection. Every input from the page goes through the library's own checks; an error is shown
in the page's status line, never as a stack trace.
"""

from __future__ import annotations

import uuid
from collections import OrderedDict
from typing import Any

from dash import Dash, Input, Output, State, dcc, html, no_update

from hooked_audio.activation_store import bundled_clips
from hooked_audio.models.whisper.inference import TRANSCRIBE_DECODING
from hooked_audio.serve import figures
from hooked_audio.serve.experiments import (
    SweepRunner,
    check_selection,
    corrupt_audio,
    transcribe_with_frames,
)
from hooked_audio.serve.probe import ClipProbe
from hooked_audio.serve.uploads import decode_word_times, read_upload
from hooked_audio.study.report_embed import audio_data_uri

VIEWS = {
    "encoder-attention": "Encoder self-attention",
    "cross-attention": "Decoder cross-attention",
    "encoder-lens": "Encoder lens",
    "decoder-lens": "Decoder logit lens",
    "norms": "Activation norms",
    "sae": "SAE features (with --sae)",
}
CSS = {"fontFamily": "system-ui, sans-serif", "maxWidth": "1200px", "margin": "0 auto"}


def _options(n: int, what: str) -> list[dict]:
    return [{"label": f"{what} {i}", "value": i} for i in range(n)]


def _choice(element_id: str, options: list[dict], value: Any, width: str) -> dcc.Dropdown:
    """A dropdown that always holds one of `options`."""
    return dcc.Dropdown(
        options,
        value=value,
        id=element_id,
        clearable=False,
        style={"width": width, "display": "inline-block"},
    )


def _seconds_input(element_id: str, placeholder: str) -> dcc.Input:
    """A time in seconds, typed (sent when the field loses focus or Enter is pressed)."""
    return dcc.Input(
        id=element_id,
        type="number",
        min=0,
        step=0.01,
        placeholder=placeholder,
        debounce=True,
        style={"width": "6em"},
    )


def _selection_of(selected: Any) -> tuple[float, float] | None:
    """The x range of a plotly box selection, or None."""
    if not selected or "range" not in selected or "x" not in selected["range"]:
        return None
    start, end = selected["range"]["x"]
    return (min(start, end), max(start, end))


def recorded_store_clips(model: Any) -> list:
    """The shipped recordings with reference word times that fit one window of `model`, as
    clips named `recorded-<name>`."""
    from hooked_audio.activation_store import StoreClip
    from hooked_audio.recordings import recorded_clips

    return [
        StoreClip(f"recorded-{clip.name}", clip.audio, clip.words)
        for clip in recorded_clips()
        if clip.words is not None and len(clip.audio) <= model.window_samples
    ]


#: clips whose probes the server keeps (the oldest are dropped; a bundled one is recomputed)
KEPT_PROBES = 8


class ProbeState:
    """The server's state: the latest probes by clip key (at most `KEPT_PROBES`, as a 30 s
    clip's attention patterns take a few hundred MB), corrupt clips by key, the sweeps."""

    def __init__(self, model: Any):
        self.model = model
        self.bundled = {clip.id: clip for clip in bundled_clips() + recorded_store_clips(model)}
        self.probes: OrderedDict[str, ClipProbe] = OrderedDict()
        self.corrupt: dict[str, Any] = {}
        self.runner = SweepRunner()
        self.sae: Any = None

    def probe(self, key: str) -> ClipProbe:
        if key not in self.probes:
            if not key.startswith("bundled:") or key[8:] not in self.bundled:
                raise ValueError(
                    f"Unknown clip {key!r} (the server keeps the last {KEPT_PROBES} clips): "
                    "choose a clip or upload it again."
                )
            clip = self.bundled[key[8:]]
            source = f"the word times shipped with {clip.id}"
            self._keep(key, ClipProbe(self.model, clip.audio, clip.words or None, source))
        self.probes.move_to_end(key)
        return self.probes[key]

    def add_upload(self, audio: Any) -> str:
        key = f"upload:{uuid.uuid4().hex[:8]}"
        self._keep(key, ClipProbe(self.model, audio))
        return key

    def add_word_times(self, key: str, words: Any, source: str) -> str:
        """A new clip key: the clip of `key` with the reference word times `words`."""
        key_with_words = f"upload:{uuid.uuid4().hex[:8]}"
        probe = ClipProbe(self.model, self.probe(key).audio, words, source)
        self._keep(key_with_words, probe)
        return key_with_words

    def _keep(self, key: str, probe: ClipProbe) -> None:
        self.probes[key] = probe
        while len(self.probes) > KEPT_PROBES:
            dropped, _ = self.probes.popitem(last=False)
            self.corrupt.pop(dropped, None)


def layout(state: ProbeState) -> html.Div:
    n_layers, n_heads = state.model.dims.n_audio_layer, state.model.dims.n_audio_head
    clips = [{"label": cid, "value": f"bundled:{cid}"} for cid in state.bundled]
    # the page opens on the first clip, so its first view shows a clip, not an empty plot
    first = clips[0]["value"] if clips else None
    return html.Div(
        style=CSS,
        children=[
            html.H2("hooked-audio: inside the model"),
            html.Div(
                [
                    dcc.Dropdown(
                        clips,
                        value=first,
                        id="clip",
                        placeholder="a bundled clip",
                        style={"width": "340px", "display": "inline-block"},
                    ),
                    dcc.Upload(
                        html.Button("Upload audio"),
                        id="upload",
                        style={"display": "inline-block", "marginLeft": "1em"},
                    ),
                    html.Button("Record", id="record", style={"marginLeft": "1em"}),
                    html.Span(id="record-status", style={"marginLeft": "0.5em"}),
                    dcc.Upload(
                        html.Button("Upload word times"),
                        id="upload-words",
                        style={"display": "inline-block", "marginLeft": "1em"},
                    ),
                ]
            ),
            dcc.Store(id="recording"),
            html.Div(id="status", role="status", style={"color": "#a00", "margin": "0.5em 0"}),
            dcc.Store(id="clip-key", data=first),
            dcc.Store(id="selection"),
            dcc.Store(id="job"),
            html.Div(id="transcript", style={"fontSize": "1.2em", "margin": "0.5em 0"}),
            html.Div(id="words", style={"color": "#555"}),
            dcc.Graph(id="spectrogram", config={"displaylogo": False}),
            html.Div(
                [
                    html.Span("Selection (drag across the spectrogram, or type): "),
                    _seconds_input("sel-start", "from s"),
                    _seconds_input("sel-end", "to s"),
                    html.Span(id="selection-text", children="none", style={"marginLeft": "1em"}),
                ]
            ),
            html.Audio(id="player", controls=True),
            # a sweep's heatmap sits under the spectrogram, on its time axis
            dcc.Graph(id="sweep", config={"displaylogo": False}, style={"display": "none"}),
            html.Audio(id="cell-player", controls=True),
            html.H3("Views"),
            html.Div(
                [
                    _choice(
                        "view",
                        [{"label": v, "value": k} for k, v in VIEWS.items()],
                        "encoder-attention",
                        "300px",
                    ),
                    _choice("layer", _options(n_layers, "layer"), 0, "140px"),
                    _choice("head", _options(n_heads, "head"), 0, "140px"),
                ]
            ),
            html.Div(id="view-panel"),
            html.H3("Experiments"),
            html.Div(
                [
                    dcc.RadioItems(
                        [
                            {"label": "noise over the selection", "value": "noise"},
                            {"label": "silence over the selection", "value": "silence"},
                            {
                                "label": "a minimal pair from an edit of the transcript",
                                "value": "pair",
                            },
                        ],
                        value="noise",
                        id="corruption",
                    ),
                    html.Label(
                        [
                            "SNR (dB) ",
                            dcc.Input(id="snr", type="number", value=0, style={"width": "5em"}),
                        ]
                    ),
                    html.Label(
                        [
                            " change ",
                            dcc.Input(
                                id="edit-word",
                                type="text",
                                placeholder="word",
                                style={"width": "10em"},
                            ),
                            " to ",
                            dcc.Input(
                                id="edit-replacement",
                                type="text",
                                placeholder="other word",
                                style={"width": "10em"},
                            ),
                        ]
                    ),
                    html.Label(
                        [
                            " cells of ",
                            dcc.Input(
                                id="window",
                                type="number",
                                value=0.2,
                                min=0.02,
                                step=0.02,
                                style={"width": "5em"},
                            ),
                            " s",
                        ]
                    ),
                    html.Button("Run patching sweep", id="run-sweep"),
                    html.Progress(
                        id="progress",
                        value="0",
                        max="1",
                        style={"width": "300px", "marginLeft": "1em"},
                    ),
                    dcc.Interval(id="poll", interval=500, disabled=True),
                ]
            ),
            html.Div(
                [
                    html.Button("Zero the selection and transcribe", id="zero"),
                    html.Button(
                        "Patch the selection from the corrupt clip and transcribe",
                        id="patch",
                        style={"marginLeft": "1em"},
                    ),
                    html.Div(id="edited-transcript", style={"margin": "0.5em 0"}),
                ]
            ),
        ],
    )


def create_app(model: Any, sae: Any = None) -> Dash:
    """The page over `model` (a `HookedWhisper`), with `sae` (an encoder SAE, optional) for
    the SAE features view; serve it with `app.run(...)` or `hooked-audio serve`."""
    state = ProbeState(model)
    state.sae = sae
    app = Dash(__name__, title="hooked-audio probe")
    app.layout = layout(state)
    app.state = state  # for tests and embedding

    @app.callback(
        Output("clip-key", "data"),
        Output("status", "children", allow_duplicate=True),
        Input("clip", "value"),
        Input("upload", "contents"),
        Input("recording", "data"),
        Input("upload-words", "contents"),
        State("upload", "filename"),
        State("upload-words", "filename"),
        State("clip-key", "data"),
        prevent_initial_call=True,
    )
    def choose(clip, contents, recording, words, filename, words_filename, key):
        from dash import ctx

        try:
            if ctx.triggered_id == "upload-words" and words:
                if key is None:
                    return no_update, "Choose or upload a clip first, then its word times."
                times = decode_word_times(words, words_filename)
                return state.add_word_times(key, times, words_filename or "the upload"), ""
            if ctx.triggered_id == "upload" and contents:
                audio, notes = read_upload(contents, filename)
                return state.add_upload(audio), " ".join(notes)
            if ctx.triggered_id == "recording" and recording:
                audio, notes = read_upload(recording, "the recording")
                return state.add_upload(audio), " ".join(notes)
            if clip:
                state.probe(clip)
                return clip, ""
        except ValueError as error:
            return no_update, str(error)
        return no_update, no_update

    @app.callback(
        Output("transcript", "children"),
        Output("words", "children"),
        Output("spectrogram", "figure"),
        Input("clip-key", "data"),
    )
    def show_clip(key):
        if key is None:
            return no_update, no_update, no_update
        probe = state.probe(key)
        words = ", ".join(f"{w.text} {w.start:.2f}-{w.end:.2f}s" for w in probe.words)
        words = f"Word times ({probe.words_origin}): {words}"
        transcript = f"{probe.text} (decoded by {TRANSCRIBE_DECODING})"
        return transcript, words, figures.spectrogram_figure(probe)

    @app.callback(
        Output("sel-start", "value"),
        Output("sel-end", "value"),
        Input("spectrogram", "selectedData"),
        prevent_initial_call=True,
    )
    def drag(selected):
        span = _selection_of(selected)
        if span is None:
            return no_update, no_update
        return round(span[0], 2), round(span[1], 2)

    @app.callback(
        Output("selection", "data"),
        Output("selection-text", "children"),
        Output("player", "src"),
        Input("sel-start", "value"),
        Input("sel-end", "value"),
        Input("clip-key", "data"),
        prevent_initial_call=True,
    )
    def select(start, end, key):
        if start is None or end is None or key is None:
            return None, "none", no_update
        probe = state.probe(key)
        try:
            start, end = check_selection((start, end), probe.seconds)
        except ValueError as error:
            return None, str(error), no_update
        snippet = audio_data_uri(probe.snippet(start, end), 16000)
        return (start, end), f"{start:.2f}-{end:.2f} s", snippet

    @app.callback(
        Output("view-panel", "children"),
        Input("clip-key", "data"),
        Input("view", "value"),
        Input("layer", "value"),
        Input("head", "value"),
        prevent_initial_call=True,
    )
    def show_view(key, view, layer, head):
        if key is None:
            return no_update
        probe = state.probe(key)
        if view == "encoder-attention":
            return dcc.Graph(figure=figures.encoder_attention_figure(probe, layer, head))
        if view == "cross-attention":
            return dcc.Graph(figure=figures.cross_attention_figure(probe, layer, head))
        if view == "decoder-lens":
            return dcc.Graph(figure=figures.decoder_lens_figure(probe))
        if view == "norms":
            return dcc.Graph(figure=figures.norms_figure(probe))
        if view == "sae":
            if state.sae is None:
                return html.P("No SAE is loaded: start the page with --sae FOLDER.")
            try:
                return dcc.Graph(figure=figures.sae_features_figure(probe, state.sae))
            except ValueError as error:
                return html.P(str(error))
        lens = probe.encoder_lens()
        rows = [html.Tr([html.Th("layer"), html.Th("accuracy"), html.Th("transcript")])]
        rows += [
            html.Tr([html.Td(r.label), html.Td(f"{r.accuracy:.2f}"), html.Td(r.text.strip())])
            for r in lens.rows
        ]
        return html.Table(rows, id="encoder-lens-table")

    @app.callback(
        Output("job", "data"),
        Output("poll", "disabled"),
        Output("status", "children", allow_duplicate=True),
        Input("run-sweep", "n_clicks"),
        State("clip-key", "data"),
        State("corruption", "value"),
        State("selection", "data"),
        State("snr", "value"),
        State("edit-word", "value"),
        State("edit-replacement", "value"),
        State("window", "value"),
        prevent_initial_call=True,
    )
    def run_sweep(_, key, kind, selection, snr, word, replacement, window):
        try:
            if key is None:
                raise ValueError("Choose or upload a clip first.")
            if window is None or not 0.02 <= float(window) <= 30:
                raise ValueError("Cells must be between 0.02 and 30 seconds long.")
            probe = state.probe(key)
            clean, corrupt = corrupt_audio(
                probe, kind, selection, float(snr or 0), (word or "", replacement or "")
            )
            if clean is not probe.audio:  # a synthesised pair: probe its clean side
                key = state.add_upload(clean)
                probe = state.probe(key)
                clean = probe.audio
            state.corrupt[key] = corrupt
            job = state.runner.start(probe, clean, corrupt, float(window))
        except ValueError as error:
            return no_update, True, str(error)
        return {"job": job.id, "key": key}, False, ""

    @app.callback(
        Output("progress", "value"),
        Output("sweep", "figure"),
        Output("sweep", "style"),
        Output("poll", "disabled", allow_duplicate=True),
        Output("status", "children", allow_duplicate=True),
        Input("poll", "n_intervals"),
        State("job", "data"),
        prevent_initial_call=True,
    )
    def poll(_, job_data):
        if not job_data:
            return no_update, no_update, no_update, True, no_update
        job = state.runner.jobs[job_data["job"]]
        if not job.done.is_set():
            return str(job.progress()), no_update, no_update, False, no_update
        if job.error:
            return "1", no_update, no_update, True, job.error
        probe = state.probe(job_data["key"])
        return "1", figures.sweep_figure(job.result, probe.seconds), {}, True, ""

    @app.callback(
        Output("cell-player", "src"),
        Output("cell-player", "autoPlay"),
        Input("sweep", "clickData"),
        State("job", "data"),
        prevent_initial_call=True,
    )
    def play_cell(click, job_data):
        if not click or not job_data:
            return no_update, no_update
        # a cell's bar carries [label, start_s, end_s, ...] (plots.time_cells_plotly)
        _, start, end = click["points"][0]["customdata"][:3]
        start, end = float(start), float(end)
        probe = state.probe(job_data["key"])
        return audio_data_uri(probe.snippet(start, end), 16000), True

    @app.callback(
        Output("edited-transcript", "children"),
        Input("zero", "n_clicks"),
        Input("patch", "n_clicks"),
        State("clip-key", "data"),
        State("selection", "data"),
        State("layer", "value"),
        prevent_initial_call=True,
    )
    def edit(_, __, key, selection, layer):
        from dash import ctx

        try:
            if key is None:
                raise ValueError("Choose or upload a clip first.")
            probe = state.probe(key)
            mode = "zero" if ctx.triggered_id == "zero" else "patch"
            text = transcribe_with_frames(
                probe, selection, int(layer), mode, state.corrupt.get(key)
            )
        except ValueError as error:
            return f"Error: {error}"
        return f"With the selection {mode}ed at layer {layer}: {text}"

    return app
