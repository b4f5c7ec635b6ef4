"""Dashboard HTML (self-contained, Pareto trace, graceful small studies) and its server."""

from __future__ import annotations

import json
import os
import re
import socket
import time
import urllib.error
import urllib.request

import pytest
from test_report_support import FRONT, make_study

from dse.report import build_dashboard
from dse.report.server import DashboardServer, study_fingerprint


def _figs(page: str) -> dict:
    m = re.search(r"const FIGS = (\{.*?\});\nconst DETAIL", page, re.S)
    return json.loads(m.group(1).replace("<\\/", "</"))


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    return make_study(f"sqlite:///{tmp_path_factory.mktemp('dash')}/s.db", FRONT * 2)


def test_dashboard_is_self_contained_and_complete(study):
    page = build_dashboard(study)
    assert page.startswith("<!DOCTYPE html>")
    assert not re.search(r"<script[^>]+src=", page)  # plotly.js embedded, nothing fetched
    assert not re.search(r"<link[^>]+href=", page)  # (the browser test blocks the network)
    figs = _figs(page)
    traces = {t.get("uid"): t for t in figs["pareto"]["data"] if t.get("uid")}
    # 14 trials: each Pareto point appears twice (FRONT twice) -> 10 Pareto trials
    assert len(traces["pareto"]["x"]) == 10 == sum(1 for t in study.best_trials)
    assert len(traces["dominated"]["x"]) == 4
    assert all("<b>trial" in h and "npu" in h for h in traces["pareto"]["hovertext"])
    assert figs["hv"] and figs["parallel"] and figs["importance"]
    assert "design-select" in page and "(knee)" in page


def test_small_study_degrades_gracefully(tmp_path):
    page = build_dashboard(make_study(f"sqlite:///{tmp_path}/a.db", FRONT[:3]))
    assert "need at least 8 complete trials (this study has 3)" in page
    empty = build_dashboard(make_study(f"sqlite:///{tmp_path}/b.db", []))
    assert "no complete trials yet" in empty


def test_three_objectives_colour_by_third(tmp_path):
    pts = [(a, b, float(i)) for i, (a, b) in enumerate(FRONT)]
    page = build_dashboard(make_study(
        f"sqlite:///{tmp_path}/c.db", pts,
        metric_names=("slo_attainment", "area_mm2", "energy_uj_per_request"),
        directions=("maximize", "minimize", "minimize")))
    par = next(t for t in _figs(page)["pareto"]["data"] if t.get("uid") == "pareto")
    assert par["marker"]["colorbar"]["title"]["text"] == "NPU + DRAM energy per request (uJ)"


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as exc:
        return exc.code, b""


def _raw_get(host, port, path: str) -> bytes:
    with socket.create_connection((host, port), timeout=10) as s:
        s.sendall(f"GET {path} HTTP/1.0\r\nHost: x\r\n\r\n".encode())
        return s.recv(200)


def test_server_serves_only_its_page_and_refreshes(tmp_path):
    url = f"sqlite:///{tmp_path}/live.db"
    study = make_study(url, FRONT[:4])
    server = DashboardServer(lambda v: build_dashboard(study, live_version=v),
                             lambda: study_fingerprint(study), port=0, poll_s=0.2).start()
    try:
        assert server.host == "127.0.0.1"
        code, body = _get(server.url)
        assert code == 200 and b"version.json" in body
        v1 = json.loads(_get(server.url + "version.json")[1])["version"]
        for path in ("/../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd", "/live.db",
                     "/index.html/../../s.db", "//etc/passwd", "/static/plotly.js"):
            assert _raw_get(server.host, server.port, path).startswith(b"HTTP/1.0 404"), path
        make_study(url, FRONT, name="other")  # another study: same fingerprint
        assert json.loads(_get(server.url + "version.json")[1])["version"] == v1
        # a new trial appears: the page is rebuilt within a few polls
        import optuna

        optuna.load_study(study_name="synthetic", storage=url).add_trial(study.trials[0])
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and server.version == v1:
            time.sleep(0.1)
        v2 = json.loads(_get(server.url + "version.json")[1])["version"]
        assert v2 != v1 and v2.startswith("5-")
    finally:
        server.close()


def test_write_run_report_without_feasible_design(tmp_path):
    """`dse run` on a study whose trials all violate constraints: dashboard, no design."""
    from types import SimpleNamespace

    from dse.report import write_run_report

    study = make_study(f"sqlite:///{tmp_path}/n.db", FRONT[:3],
                       constraints=[(1.0,), (2.0,), (0.5,)])
    spec = SimpleNamespace(name="synthetic", storage_url=f"sqlite:///{tmp_path}/n.db",
                           results_dir=tmp_path / "out", scenario=None, fidelity=None, seed=11)
    dash, design = write_run_report(spec, study, tmp_path / "out")
    assert design is None and os.path.getsize(dash) > 1_000_000
    assert "no feasible Pareto design yet" in open(dash, encoding="utf-8").read()
