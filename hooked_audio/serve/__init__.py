"""`hooked-audio serve`: a local page for looking inside an audio model (a Dash app): choose a
bundled clip or upload one, see its log-mel with the transcript and word timings, play any
selection, look at attention, the lenses and activation norms on the clip's time axis, and run
corruptions and patching sweeps from the page. Needs the serve extra (Dash)."""
