"""Whether a matplotlib figure's text fits on it: a title or label drawn past the figure's
edge is cut off in the PNG, so a test that looks at a figure also checks its text fits."""

from __future__ import annotations

from matplotlib.figure import Figure


def _name(artist) -> str:
    if hasattr(artist, "get_title"):
        label = artist.get_title() or artist.get_ylabel() or artist.get_xlabel()
        return f"axes {label!r}"
    if hasattr(artist, "get_text"):
        return repr(artist.get_text())
    return type(artist).__name__


def cut_off_text(figure: Figure, tolerance_px: float = 1.0) -> list[str]:
    """What reaches past `figure`'s edges once drawn (as saving draws it): each axes with its
    titles, labels and the tick labels it draws, the figure's own titles and legends, as
    `name (left, bottom, right, top in pixels; figure width x height)`."""
    renderer = figure.canvas.get_renderer()
    figure.draw(renderer)  # runs the layout engine
    width, height = figure.bbox.width, figure.bbox.height
    artists = [
        *figure.axes,
        *figure.texts,
        *figure.legends,
        *(getattr(figure, name, None) for name in ("_suptitle", "_supxlabel", "_supylabel")),
    ]
    cut = []
    for artist in dict.fromkeys(artists):  # the suptitle is also among figure.texts
        if artist is None or not artist.get_visible():
            continue
        if hasattr(artist, "get_text") and not artist.get_text().strip():
            continue
        box = artist.get_tightbbox(renderer)
        if box is None:
            continue
        if (
            box.x0 < -tolerance_px
            or box.y0 < -tolerance_px
            or box.x1 > width + tolerance_px
            or box.y1 > height + tolerance_px
        ):
            cut.append(
                f"{_name(artist)} ({box.x0:.0f}, {box.y0:.0f}, {box.x1:.0f}, {box.y1:.0f}; "
                f"figure {width:.0f} x {height:.0f})"
            )
    return cut
