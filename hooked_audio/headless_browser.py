"""Headless Chromium for looking at a report the way a reader does: the system's `chromium`
and `chromedriver` (Debian: `apt-get install chromium chromium-driver`) driven by Selenium.

Selenium with the system browser, rather than a browser that a tool downloads, because it
works offline and on machines where browser downloads are blocked.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from PIL import Image


class NoBrowserError(RuntimeError):
    """No Chromium, ChromeDriver or Selenium on this machine."""


def headless_chromium(width: int = 1300, height: int = 1000, flags: tuple[str, ...] = ()):
    """A Selenium `webdriver.Chrome` on the system Chromium, headless, with the browser's
    console log recorded (`driver.get_log("browser")`); `flags` are further Chromium switches
    (e.g. a fake microphone for page tests). Raises `NoBrowserError` naming what is missing and
    how to install it."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if not chromium or not driver:
        raise NoBrowserError(
            "no chromium / chromedriver binary on PATH: install them (Debian: apt-get install "
            "chromium chromium-driver)"
        )
    try:
        from selenium import webdriver
    except ImportError as error:
        raise NoBrowserError("Selenium is not installed: pip install selenium") from error
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    size = f"--window-size={width},{height}"
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", size, *flags):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=webdriver.ChromeService(driver), options=options)


def wait_for(browser, script: str, timeout_s: float = 30.0):
    """Run `script` in the page until it returns something truthy (or `timeout_s` passes);
    returns its last value."""
    deadline = time.monotonic() + timeout_s
    while not (value := browser.execute_script(script)) and time.monotonic() < deadline:
        time.sleep(0.2)
    return value


#: true once the page's plotly figures (if any) have drawn and its images (if any) have loaded
PAGE_DRAWN = """const plots = [...document.querySelectorAll('.js-plotly-plot')];
const images = [...document.images];
return (plots.length + images.length) > 0
  && plots.every(p => p.querySelectorAll('svg').length > 0)
  && images.every(i => i.complete && i.naturalWidth > 0);"""


def screenshot_page(
    html: str | Path, png: str | Path, width: int = 1300, height: int | None = None
) -> Path:
    """Open `html` in headless Chromium, wait for its plotly figures to draw and its images to
    load, and save a
    `width`-pixel-wide screenshot of its top `height` pixels (None: the whole page)."""
    browser = headless_chromium(width)
    try:
        browser.get(Path(html).resolve().as_uri())
        if not wait_for(browser, PAGE_DRAWN):
            raise RuntimeError(f"{html}: the page's figures did not draw within 30 s.")
        full = browser.execute_script("return document.body.scrollHeight")
        browser.set_window_size(width, full + 200)  # the window's own bars take some height
        time.sleep(0.5)  # let plotly re-lay out at the new size
        browser.save_screenshot(str(png))
    finally:
        browser.quit()
    if height is not None:
        with Image.open(png) as image:
            top = image.crop((0, 0, image.width, min(height, image.height)))
        top.save(png)
    return Path(png)
