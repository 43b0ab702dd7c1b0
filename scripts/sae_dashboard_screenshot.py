"""Make docs/sae.md's screenshot of an SAE dashboard: `hooked-audio sae train` on the bundled
clips with its defaults (a TopK SAE of 512 features, k = 32, on tiny.en's
encoder.blocks.2.hook_resid_post), then `hooked-audio sae dashboard`, and photograph the top of
the page in headless Chromium. Needs the sae extra.

    python scripts/sae_dashboard_screenshot.py [--out docs/images/sae_dashboard.png]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from hooked_audio.cli import main as hooked_audio
from hooked_audio.headless_browser import screenshot_page


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/images/sae_dashboard.png"))
    parser.add_argument("--width", type=int, default=1300)
    parser.add_argument("--height", type=int, default=2300, help="pixels from the top")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        run = Path(folder) / "sae-run"
        hook = "encoder.blocks.2.hook_resid_post"
        hooked_audio(["sae", "train", "--hook", hook, "--clips", "bundled", "--out", str(run)])
        hooked_audio(["sae", "dashboard", str(run), "--clips", "bundled", "--examples", "3"])
        args.out.parent.mkdir(parents=True, exist_ok=True)
        screenshot_page(run / "dashboard.html", args.out, width=args.width, height=args.height)
    print(f"Wrote {args.out}")
    return args.out


if __name__ == "__main__":
    main()
