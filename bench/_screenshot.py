"""`python -m bench._screenshot RUN_DIR [OUT.png]`: the README's picture of a report, taken in the
system Chromium (headless, through Playwright; no browser download). Not a benchmark: the leading
underscore keeps it out of `python -m bench`."""
from __future__ import annotations

import shutil
import sys
from pathlib import Path

WIDTH, HEIGHT = 1000, 1250


def screenshot(report: Path, out: Path) -> Path:
    from playwright.sync_api import sync_playwright

    browser_path = next((p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None)
    if browser_path is None:
        raise SystemExit("no Chromium found: apt-get install chromium")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=browser_path, headless=True)
        try:
            page = browser.new_page(viewport={"width": WIDTH, "height": HEIGHT})
            page.goto(report.resolve().as_uri())
            page.wait_for_load_state("load")
            page.screenshot(path=str(out), clip={"x": 0, "y": 0, "width": WIDTH, "height": HEIGHT})
        finally:
            browser.close()
    return out


if __name__ == "__main__":
    run_dir = Path(sys.argv[1])
    target = Path(sys.argv[2]) if len(sys.argv) > 2 else Path(__file__).with_name("report.png")
    print(screenshot(run_dir / "report.html", target))
