"""report.html in a real headless browser (the system Chromium, driven by Playwright): it renders,
its plots load, nothing overflows the page, and the verdict is there. Skipped where no browser is
installed (Debian: `apt-get install chromium`); Playwright never downloads one here."""
from __future__ import annotations

import shutil

import pytest

from tests.unit.test_report_content import comparison
from tunewise.eval.report import write_report

playwright = pytest.importorskip("playwright.sync_api")
CHROMIUM = next((p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None)
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no Chromium installed (apt-get install chromium)")

PAGE_FACTS = """() => ({
  title: document.title,
  headings: [...document.querySelectorAll('h2')].map(h => h.textContent),
  overflow: document.documentElement.scrollWidth - window.innerWidth,
  images: [...document.images].map(i => ({alt: i.alt, natural: i.naturalWidth, shown: i.getBoundingClientRect().width,
                                          right: i.getBoundingClientRect().right})),
  verdict: [...document.querySelectorAll('p')].map(p => p.textContent).find(t => t.startsWith('Verdict:')) || '',
})"""


@pytest.mark.parametrize("width", [1280, 700])
def test_report_renders_in_chromium_without_overflow(tmp_path, width):
    per_class = {"zero-shot": {"per_class_f1": {"refund": 0.5, "freight": 0.4, "timetable": 0.3}},
                 "head": {"per_class_f1": {"refund": 0.9, "freight": 0.8, "timetable": 0.85},
                          "losses": [[1, 2.0], [10, 1.2], [20, 0.7]]}}
    results, _ = comparison(tmp_path, 30, **per_class)
    write_report(tmp_path, results)
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            page = browser.new_page(viewport={"width": width, "height": 900})
            errors = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.goto((tmp_path / "report.html").as_uri())
            page.wait_for_load_state("load")
            facts = page.evaluate(PAGE_FACTS)
        finally:
            browser.close()
    assert not errors
    assert facts["title"] == "Tunewise comparison"
    assert facts["headings"][:3] == ["Comparison", "Recommendation vs measurement", "Costs"]
    assert facts["overflow"] <= 0, "the page scrolls sideways"
    assert {i["alt"] for i in facts["images"]} == {"quality_vs_cost", "loss_curves", "per_class_f1"}
    for image in facts["images"]:
        assert image["natural"] > 300, image                 # decoded, not a broken image
        assert 0 < image["shown"] and image["right"] <= width, image
    assert facts["verdict"].startswith("Verdict: head won on macro F1") and "95% interval" in facts["verdict"]
    assert "Caveat: 30 eval examples" in facts["verdict"]
