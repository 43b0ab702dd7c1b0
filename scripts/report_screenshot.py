"""Make the README's screenshot of a study report: run `hooked-audio demo`'s study (bundled
content pairs on the packaged tiny.en) and photograph the top of its report.html in headless
Chromium.

    python scripts/report_screenshot.py [--out docs/images/report.png] [--height 1900]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from hooked_audio.demo import demo_study
from hooked_audio.headless_browser import screenshot_page
from hooked_audio.models.whisper import HookedWhisper


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/images/report.png"))
    parser.add_argument("--width", type=int, default=1300)
    parser.add_argument("--height", type=int, default=1900, help="pixels from the top")
    args = parser.parse_args(argv)
    model = HookedWhisper.from_pretrained("tiny.en")
    with tempfile.TemporaryDirectory() as folder:
        _, report = demo_study(model, Path(folder))
        args.out.parent.mkdir(parents=True, exist_ok=True)
        screenshot_page(report, args.out, width=args.width, height=args.height)
    print(f"Wrote {args.out}")
    return args.out


if __name__ == "__main__":
    main()
