"""Headless Chromium opens the dashboard: no console errors, no network, Pareto points = Pareto
trials, the design explorer reacts, a screenshot is written."""

from __future__ import annotations

import os
import shutil

import pytest
from test_report_support import FRONT, make_study

from dse.report import write_dashboard

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]

pytestmark = pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="needs Debian chromium")


def open_dashboard(path: str, screenshot: str) -> dict:
    """Load ``path`` in headless Chromium; returns what the page showed."""
    from playwright.sync_api import sync_playwright

    errors, requests = [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))

            def route(r):
                if r.request.url.startswith("file://"):
                    r.continue_()
                else:
                    requests.append(r.request.url)
                    r.abort()

            page.route("**/*", route)
            page.goto("file://" + os.path.abspath(path))
            page.wait_for_function("() => document.querySelector('#pareto .main-svg')",
                                   timeout=60000)
            info = page.evaluate("""() => {
                const gd = document.getElementById('pareto');
                const par = gd.data.find(t => t.uid === 'pareto');
                const sel = document.getElementById('design-select');
                return {pareto: par ? par.x.length : -1,
                        options: sel ? sel.options.length : 0,
                        selected: sel ? sel.value : null,
                        plots: document.querySelectorAll('.js-plotly-plot').length};
            }""")
            sel = page.query_selector("#design-select")
            if sel is not None and info["options"] > 1:
                last = page.evaluate("() => { const s = document.getElementById("
                                     "'design-select'); return s.options[s.options.length-1]"
                                     ".value; }")
                page.select_option("#design-select", last)
                info["summary_trial"] = page.inner_text("#design-summary tr td")
                info["switched_to"] = last
            page.screenshot(path=screenshot, full_page=True)
        finally:
            browser.close()
    info["errors"] = errors
    info["requests"] = requests
    return info


def test_dashboard_in_headless_chromium(tmp_path):
    study = make_study(f"sqlite:///{tmp_path}/s.db", FRONT * 2)
    html = write_dashboard(study, str(tmp_path / "dash.html"))
    shot = str(tmp_path / "dash.png")
    info = open_dashboard(html, shot)
    assert info["errors"] == []
    assert info["requests"] == []  # works offline
    assert info["pareto"] == len(study.best_trials) == 10
    assert info["options"] == 10 and info["plots"] >= 4
    assert info["summary_trial"] == info["switched_to"]
    with open(shot, "rb") as fh:
        assert fh.read(8) == b"\x89PNG\r\n\x1a\n"
    assert os.path.getsize(shot) > 50_000


def test_served_dashboard_reloads_when_the_study_grows(tmp_path):
    """`dse dashboard --serve`: the open page reloads itself after a new trial completes."""
    import time

    from playwright.sync_api import sync_playwright

    from dse.report import build_dashboard
    from dse.report.server import DashboardServer, study_fingerprint

    url = f"sqlite:///{tmp_path}/live.db"
    study = make_study(url, FRONT[:4])
    server = DashboardServer(
        lambda v: build_dashboard(study, live_version=v, live_period_ms=300),
        lambda: study_fingerprint(study), port=0, poll_s=0.3).start()
    errors, outside = [], []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            page = browser.new_page()
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))

            def route(r):
                if r.request.url.startswith(server.url):
                    r.continue_()
                else:
                    outside.append(r.request.url)
                    r.abort()

            page.route("**/*", route)
            page.goto(server.url)
            count = ("() => document.getElementById('pareto').data"
                     ".find(t => t.uid === 'pareto').x.length")
            page.wait_for_function(count, timeout=60000)
            before = page.evaluate(count)
            study.add_trial(optuna_trial(study, slo=0.99, area=0.5))  # dominates the front
            deadline = time.monotonic() + 60
            after = before
            while time.monotonic() < deadline and after == before:
                time.sleep(0.3)
                try:
                    after = page.evaluate(count)
                except Exception:  # noqa: BLE001 - the page is reloading
                    continue
            browser.close()
    finally:
        server.close()
    assert (before, after) == (4, 1)
    assert errors == [] and outside == []


def optuna_trial(study, *, slo: float, area: float):
    """A copy of the study's first trial with new objective values."""
    import optuna

    t = study.trials[0]
    return optuna.trial.create_trial(values=[slo, area], params=t.params,
                                     distributions=t.distributions, user_attrs=t.user_attrs)
