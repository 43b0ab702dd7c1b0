"""Linear probes on an activation store's rows: label builders (speech vs non-speech, the word
at a frame, the position in its word, the speaker), `train_probes` (a scikit-learn logistic
regression per layer and site, scored on held-out clips with clip-bootstrap intervals), and
`ProbeResults` (a table, a figure per layer, each probe's direction in the model's coordinates
for steering), and `mean_difference_direction` (a class's mean minus another's, without a
probe). Training needs the `probes` extra (scikit-learn). See docs/probes.md."""

from hooked_audio.probes.clip_bootstrap import Score, clip_bootstrap
from hooked_audio.probes.direction import probe_direction
from hooked_audio.probes.labels import ProbeLabels
from hooked_audio.probes.mean_difference import mean_difference_direction
from hooked_audio.probes.results import ProbeResults
from hooked_audio.probes.speaker import speaker_labels
from hooked_audio.probes.speech import NON_SPEECH, SPEECH, speech_labels
from hooked_audio.probes.train import train_probes
from hooked_audio.probes.words import BEGIN, END, MIDDLE, position_in_word_labels, word_labels

__all__ = [
    "BEGIN",
    "END",
    "MIDDLE",
    "NON_SPEECH",
    "SPEECH",
    "ProbeLabels",
    "ProbeResults",
    "Score",
    "clip_bootstrap",
    "mean_difference_direction",
    "position_in_word_labels",
    "probe_direction",
    "speaker_labels",
    "speech_labels",
    "train_probes",
    "word_labels",
]
