"""The architect's workflow end to end (issue: "smallest NPU that meets my SLO"): one
results folder per study, --where picks, per-stream constraints and objectives, design
files in TOML or JSON, readable status, worded argument errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from dse.cli import main
from dse.common import InputError

ROOT = Path(__file__).resolve().parent.parent

SPEC = textwrap.dedent("""
    [study]
    name = "hub"
    sampler = "random"
    n_trials = 12
    seed = 5
    objectives = [
      { metric = "slo_attainment", direction = "maximize" },
      { metric = "area_mm2", direction = "minimize" },
    ]
    [study.constraints]
    max_area_mm2 = 40.0
    [study.constraints.streams.cam]
    min_slo_attainment = 0.5

    [scenario]
    name = "hub-test"
    [[scenario.streams]]
    name = "cam"
    model = "mobilenetv2"
    arrival = "poisson"
    rate_rps = 600
    slo_ms = 12
    [[scenario.streams]]
    name = "door"
    model = "b_alexnet"
    arrival = "poisson"
    rate_rps = 300
    slo_ms = 4

    [fidelity]
    requests = 500

    [space.npu]
    pe_count = [16, 32, 64, 128]
    pe_width = [8, 16]
    batching = ["r", "fluid"]

    [space.policy]
    name = ["fluid", "static"]
    [space.policy.fluid]
    max_batch = { low = 1, high = 8 }
    refill_level = { low = 0.0, high = 1.0 }
    [space.policy.static]
    max_batch = { low = 1, high = 8 }
    max_queue_delay_ms = { low = 0.1, high = 20.0, log = true }
""")


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    """A study with a searched policy and a per-stream constraint, run with --storage
    pointing away from the spec's folder."""
    d = tmp_path_factory.mktemp("hub")
    spec = d / "specs" / "hub.toml"
    spec.parent.mkdir()
    spec.write_text(SPEC)
    elsewhere = d / "elsewhere" / "qs.db"
    elsewhere.parent.mkdir()
    cwd = os.getcwd()
    os.chdir(d)
    try:  # a relative --storage is relative to the current directory
        assert main(["run", str(spec), "--quiet", "--storage", "elsewhere/qs.db"]) == 0
    finally:
        os.chdir(cwd)
    return {"dir": d, "spec": str(spec), "db": elsewhere, "results": d / "elsewhere" / "hub",
            "url": f"sqlite:///{elsewhere}"}


# ----------------------------------------------------------------- 1. results folders
def test_results_folder_rule(tmp_path):
    from dse.spec import load_spec, results_folder

    spec_path = tmp_path / "s.toml"
    spec_path.write_text(SPEC)
    spec = load_spec(spec_path)
    assert results_folder(spec) == tmp_path / "results" / "hub"  # the default study.db
    assert results_folder(spec, "sqlite:////data/qs.db") == Path("/data/hub")
    assert results_folder(spec, "journal:////data/hub/s.journal") == Path("/data/hub")
    assert results_folder(spec, f"sqlite:///{tmp_path}/results/hub/other.db") == \
        tmp_path / "results" / "hub"
    assert results_folder(spec, "postgresql://u:pw@host/db") == tmp_path / "results" / "hub"


def test_run_with_storage_elsewhere_writes_its_report_there(hub):
    assert (hub["results"] / "dashboard.html").is_file()
    assert (hub["results"] / "knee_design.toml").is_file()
    # the spec's own results folder is untouched (another study's report lives there)
    assert not (Path(hub["spec"]).parent / "results").exists()


def test_status_without_storage_says_where_it_looked(hub, capsys, monkeypatch):
    monkeypatch.chdir(hub["dir"])
    assert main(["status", hub["spec"]]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "no study 'hub' at specs/results/hub/study.db (the spec's storage)" in err
    assert "--storage" in err
    assert main(["status", hub["spec"], "--storage", "elsewhere/qs.db"]) == 0
    assert main(["dashboard", hub["spec"], "--storage", "elsewhere/qs.db"]) == 0
    out, err = capsys.readouterr()
    assert out.strip().endswith("elsewhere/hub/dashboard.html")
    assert "dse: writing the dashboard" in err  # never silent


# ----------------------------------------------------------------- 2. picks, constraints
def test_per_stream_constraint_decides_feasibility(hub):
    from dse.report import load_study, read_study

    data = read_study(load_study("hub", hub["url"]))
    cam = [t.user_attrs["metrics"]["streams"]["cam"]["slo_attainment"] for t in data.trials]
    area = [t.user_attrs["area_mm2"]["total"] for t in data.trials]
    expected = [c >= 0.5 and a <= 40.0 for c, a in zip(cam, area, strict=True)]
    assert data.feasible.tolist() == expected
    assert 0 < sum(expected) < len(expected)
    t = data.trials[0]
    assert list(t.constraints.values()) == pytest.approx([area[0] - 40.0, 0.5 - cam[0]])


def test_export_min_area_where_answers_the_question(hub, capsys, tmp_path):
    from dse.report import load_design, load_study, read_study

    out = tmp_path / "small.json"
    argv = ["export", hub["spec"], "--storage", hub["url"], "--pick", "min-area",
            "--where", "slo_attainment>=0.9", "--where", "streams.*.slo_attainment >= 0.9",
            "--out", str(out)]
    assert main(argv) == 0
    line = capsys.readouterr().out
    assert "--where 'slo_attainment>=0.9'" in line and "streams.*.slo_attainment" in line
    chosen = load_design(str(out))
    data = read_study(load_study("hub", hub["url"]))
    ok = [t for t, f in zip(data.trials, data.feasible, strict=True) if f
          and t.user_attrs["metrics"]["overall"]["slo_attainment"] >= 0.9
          and min(s["slo_attainment"] for s in t.user_attrs["metrics"]["streams"].values())
          >= 0.9]
    assert ok, "the test study should hold such a design"
    smallest = min(ok, key=lambda t: (t.user_attrs["area_mm2"]["total"], t.number))
    assert chosen.area_mm2["total"] == smallest.user_attrs["area_mm2"]["total"]


def test_where_that_nothing_meets_names_the_best(hub, capsys):
    assert main(["export", hub["spec"], "--storage", hub["url"], "--pick", "min-area",
                 "--where", "slo_attainment>1.5"]) == 2
    err = capsys.readouterr().err
    assert "no feasible design with slo_attainment>1.5; the best feasible slo_attainment is" \
        in err and err.count("\n") == 1


@pytest.mark.parametrize("text, message", [
    ("slo_attainment=0.9", "expected METRIC OP VALUE"),
    ("slo_atainment>=0.9", "did you mean 'slo_attainment'"),
    ("streams.vioce.slo_attainment>=0.9", "unknown stream 'vioce'"),
    ("streams.cam.area_mm2<3", "unknown metric per stream 'area_mm2'"),
    ("area_mm2<=big", "expected a number"),
])
def test_where_mistakes(text, message):
    from dse.metrics import parse_condition

    with pytest.raises(InputError, match=message):
        parse_condition(text, streams=["cam", "voice"])


def test_spec_per_stream_objective_and_constraint_errors(tmp_path):
    from dse.spec import parse_spec

    spec = parse_spec(SPEC.replace('metric = "slo_attainment"',
                                   'metric = "streams.door.slo_attainment"'))
    assert spec.objectives[0] == ("streams.door.slo_attainment", "maximize")
    assert [str(c) for c in spec.constraints] == ["area_mm2<=40", "streams.cam.slo_attainment>=0.5"]
    for bad, field in [
        ("[study.constraints.streams.cma]", "study.constraints.streams.cma"),
        ("[study.constraints.streams.cam]\nmin_slo_atainment = 0.2",
         "study.constraints.streams.cam.min_slo_atainment"),
    ]:
        text = SPEC.replace("[study.constraints.streams.cam]\nmin_slo_attainment = 0.5", bad)
        with pytest.raises(InputError) as e:
            parse_spec(text)
        assert e.value.field == field


def test_status_is_readable_with_a_searched_policy(hub, capsys):
    assert main(["status", hub["spec"], "--storage", hub["url"]]) == 0
    out = capsys.readouterr().out
    assert "constraints: area_mm2<=40, streams.cam.slo_attainment>=0.5" in out
    assert "slack(streams.cam.min_slo_attainment)" in out
    assert max(len(line) for line in out.splitlines()) < 200
    assert main(["status", hub["spec"], "--storage", hub["url"], "--json"]) == 0
    st = json.loads(capsys.readouterr().out)
    for row in st["pareto"]:
        assert row["slack(max_area_mm2)"] >= 0 and row["slack(streams.cam.min_slo_attainment)"] >= 0
    for row in st["closest_infeasible"]:
        assert min(row["slack(max_area_mm2)"], row["slack(streams.cam.min_slo_attainment)"]) < 0
    assert main(["status", hub["spec"], "--storage", hub["url"], "--where",
                 "slo_attainment>=0.3", "--json"]) == 0
    sub = json.loads(capsys.readouterr().out)
    assert all(r["slo_attainment"] >= 0.3 for r in sub["pareto"])


def test_one_definition_of_pareto_designs(hub):
    """dse status, dse run's summary and the dashboard count the same designs."""
    from dse.report import build_dashboard, load_study, read_study
    from dse.search import front_summary, open_study, pareto_table
    from dse.spec import load_spec

    spec = load_spec(hub["spec"])
    study = open_study(spec, hub["url"], create=False)
    n = len(pareto_table(spec, study))
    assert len(front_summary(study, spec.metric_names, spec.directions)[0]) == n
    assert int(read_study(load_study("hub", hub["url"])).pareto.sum()) == n
    page = build_dashboard(study)
    assert f"<b>{n}</b><span>Pareto designs</span>" in page


# ----------------------------------------------------------------- 3. design files
def test_json_design_works_where_a_design_is_expected(hub, tmp_path, capsys):
    out = tmp_path / "best.json"
    assert main(["export", hub["spec"], "--storage", hub["url"], "--pick", "max-slo",
                 "--out", str(out)]) == 0
    design = json.loads(out.read_text())
    capsys.readouterr()
    assert main(["cost", "--npu", str(out), "--model", "alexnet"]) == 0
    assert "area" in capsys.readouterr().out
    # the design's own policy and parameters, unless --policy overrides them
    args = ["simulate", "--npu", str(out), "--model", "mobilenetv2", "--rate", "50",
            "--slo-ms", "20", "--requests", "300"]
    assert main(args) == 0
    first = capsys.readouterr().out.splitlines()[0]
    pol = design["policy"]
    assert first.startswith(f"policy {pol['name']} ")
    assert f"max_batch={pol['max_batch']}" in first
    other = "fcfs"
    assert main([*args, "--policy", other]) == 0
    assert capsys.readouterr().out.startswith(f"policy {other}")


def test_spec_and_design_mixed_up_get_one_line(hub, capsys):
    knee = str(hub["results"] / "knee_design.toml")
    for argv, words in [
        (["evaluate", hub["spec"]], "this is a study spec, not a design file"),
        (["cost", "--npu", hub["spec"], "--model", "alexnet"], "this is a study spec"),
        (["status", knee], "this is a design file, not a study spec"),
        (["run", knee], "this is a design file, not a study spec"),
    ]:
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert words in err and err.count("\n") == 1, argv


# ----------------------------------------------------------------- 6. small things
@pytest.mark.parametrize("argv, message", [
    (["run", "x.toml", "--n-trials", "-5"], "--n-trials must be a positive integer, got -5"),
    (["run", "x.toml", "--n-trials", "ten"], "--n-trials must be a positive integer, got 'ten'"),
    (["run", "x.toml", "--n-trial", "10"], "unrecognized arguments: --n-trial 10"),
    (["simulate", "--npu", "x.toml", "--requests", "abc"],
     "--requests must be an integer, got 'abc'"),
    (["export", "x.toml", "--area-budget", "-1"],
     "--area-budget must be a positive area in mm2, got -1"),
])
def test_argument_errors_in_words(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert "invalid" not in err and "_" not in err.split("must be")[0].replace("--n-trial", "")


def test_smart_home_scenarios_have_distinct_names():
    from dse.spec import load_spec
    from workloads import load_scenario

    example = load_scenario(ROOT / "workloads/data/scenarios/smart_home.toml")
    study = load_spec(ROOT / "studies/smart_home.toml").scenario
    assert example.name != study.name
    assert study.rates_rps().tolist() != example.rates_rps().tolist()


def test_second_ctrl_c_exits_cleanly(tmp_path):
    """Two SIGINTs: the running trial is aborted, no traceback, exit 130, no report."""
    import signal
    import time

    spec = tmp_path / "s.toml"
    # trials long enough (8 x 300,000 requests: ~2.4 s each on 2 cores) that the second
    # signal, 0.8 s after the first trial started, still finds it running; with shorter
    # ones (3 replications: ~0.9 s since the run-ahead passes arrivals) the trial
    # sometimes ended in between and the second Ctrl-C hit the report
    spec.write_text(SPEC.replace("n_trials = 12", "n_trials = 400")
                    .replace("requests = 500", "requests = 300000\nreplications = 8"))
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, "-m", "dse", "run", str(spec)], cwd=tmp_path,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    db = tmp_path / "results" / "hub" / "study.db"
    deadline = time.monotonic() + 240

    def running() -> bool:  # a trial has started (the stop handlers are installed)
        import sqlite3

        if not db.exists():
            return False
        try:
            with sqlite3.connect(db) as con:
                return con.execute("select count(*) from trials").fetchone()[0] > 0
        except sqlite3.Error:
            return False

    while not running() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.2)
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    time.sleep(0.3)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=240)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "Traceback" not in out
    assert "aborting the running trial" in err and "no report written" in err
    assert not (tmp_path / "results" / "hub" / "dashboard.html").exists()


def test_constraint_values_show_in_optuna_dashboard(hub, tmp_path):
    """optuna-dashboard (the `dashboard` extra) shows each trial's constraint values: a
    real server on loopback serves them through its HTTP API."""
    import socket
    import time
    import urllib.request

    pytest.importorskip("optuna_dashboard")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cli = "import sys; from optuna_dashboard._cli import main; sys.exit(main())"
    proc = subprocess.Popen([sys.executable, "-c", cli, hub["url"], "--host",
                             "127.0.0.1", "--port", str(port)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{base}/api/studies", timeout=5) as r:
                    studies = json.load(r)["study_summaries"]
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.3)
        sid = next(s["study_id"] for s in studies if s["study_name"] == "hub")
        with urllib.request.urlopen(f"{base}/api/studies/{sid}?after=0", timeout=30) as r:
            trials = json.load(r)["trials"]
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    from dse.report import load_study

    stored = {t.number: t for t in load_study("hub", hub["url"]).trials}
    complete = [t for t in trials if t["state"] == "Complete"]
    assert complete
    for t in complete:
        assert t["constraints"] == pytest.approx(list(stored[t["number"]].constraints.values()))
        assert len(t["constraints"]) == 2


# ----------------------------------------------------------------- 5. readable figures
def test_dashboard_figures_with_a_searched_policy(hub):
    from test_report_dashboard import _figs

    from dse.report import build_dashboard, load_study, read_study

    study = load_study("hub", hub["url"])
    figs = _figs(build_dashboard(study))
    par = figs["parallel"]
    names = [t["name"] for t in par["data"]]
    assert names == ["all trials", "policy fluid", "policy static"]
    dims = [{d["label"]: d for d in t["dimensions"]} for t in par["data"]]
    assert not any(k.startswith(("fluid.", "static.")) for k in dims[0])  # conditional
    assert "ticktext" not in dims[1]["fluid.refill_level"]  # a float is a numeric axis
    log = dims[2]["static.max_queue_delay_ms (log)"]
    assert all(float(t) > 0 for t in log["ticktext"]) and max(log["values"]) < 2  # log10
    assert "area_mm2 (mm2)" in dims[0]
    assert [b["label"].split(" (")[0] for b in par["layout"]["updatemenus"][0]["buttons"]] \
        == names
    # the Pareto plot opens zoomed to the front, a button shows every trial
    pareto = figs["pareto"]["layout"]
    data = read_study(study)
    area = data.values[data.pareto, 1]
    x0, x1 = pareto["xaxis"]["range"]
    assert x0 < area.min() and area.max() < x1
    assert x1 - x0 < (data.values[:, 1].max() - data.values[:, 1].min()) * 1.2
    labels = [b["label"] for m in pareto["updatemenus"] for b in m["buttons"]]
    assert {"zoom: front", "all trials"} <= set(labels)
    assert pareto["xaxis"]["title"]["text"] == "chip area (mm2)"
    assert pareto["yaxis"]["title"]["text"] == "share of requests within their stream's SLO"


def test_dashboard_views_in_headless_chromium(hub, tmp_path):
    """The parallel-coordinates and Pareto views of a study with a searched policy render
    in a browser: numeric axis ticks, the policy drop-down switches views, the zoom
    buttons move the area axis."""
    from test_report_browser import ARGS, CHROMIUM

    if not os.path.exists(CHROMIUM):
        pytest.skip("needs Debian chromium")
    from playwright.sync_api import sync_playwright

    from dse.report import load_study, write_dashboard

    html = write_dashboard(load_study("hub", hub["url"]), str(tmp_path / "d.html"))
    errors = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.goto("file://" + html)
            page.wait_for_function("() => document.querySelector('#parallel .parcoords')",
                                   timeout=60000)
            axes = page.evaluate("""() => Array.from(document.querySelectorAll(
                '#parallel .parcoords .y-axis')).map(a => Array.from(a.querySelectorAll(
                '.tick text')).map(t => t.textContent))""")
            visible = page.evaluate("() => document.getElementById('parallel').data"
                                    ".map(t => t.visible)")
            page.evaluate("""() => Plotly.restyle('parallel',
                {visible: [false, true, false]})""")
            page.wait_for_timeout(500)
            fluid = page.evaluate("""() => Array.from(document.querySelectorAll(
                '#parallel .parcoords .axis-title')).map(t => t.textContent)""")
            zoomed = page.evaluate("() => document.getElementById('pareto')"
                                   ".layout.xaxis.range.slice()")
            page.click("#pareto .updatemenu-button >> text=all trials")
            page.wait_for_timeout(500)
            full = page.evaluate("() => document.getElementById('pareto')"
                                 ".layout.xaxis.range.slice()")
            page.screenshot(path=str(tmp_path / "views.png"), full_page=True)
        finally:
            browser.close()
    assert errors == []
    assert visible == [True, False, False]
    numeric = [ticks for ticks in axes if ticks and all(_number(t) for t in ticks)]
    assert len(numeric) >= 3  # objectives and numeric parameters, not tick smears
    assert max(len(ticks) for ticks in axes) <= 12
    assert any("fluid.refill_level" in t for t in fluid)
    assert full[1] - full[0] > zoomed[1] - zoomed[0]


def _number(text: str) -> bool:
    try:
        float(text.replace("−", "-").rstrip("kμm"))
        return True
    except ValueError:
        return False


# ----------------------------------------------------------------- 4. never silent
def test_cold_numba_cache_is_detected(tmp_path):
    """compiled_or_cached reads Numba's cache index: False before the first compile in
    an empty cache, True in the next process."""
    mod = tmp_path / "kern.py"
    mod.write_text("from numba import njit\n@njit(cache=True)\ndef f(x):\n    return x + 1\n")
    code = (f"import sys; sys.path.insert(0, {str(tmp_path)!r}); import kern; "
            "from dse.common import compiled_or_cached as c; "
            "print(c(kern.f), end=' '); kern.f(1); print(c(kern.f))")
    env = dict(os.environ, PYTHONPATH=str(ROOT), NUMBA_CACHE_DIR=str(tmp_path / "cache"))
    runs = [subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                           text=True, timeout=300).stdout.split() for _ in range(2)]
    assert runs == [["False", "True"], ["True", "True"]]


def test_first_run_says_it_compiles(tmp_path):
    """An empty Numba cache: `dse cost` says "compiling kernels" before the ~10 s compile;
    the next run, with the kernel cached, says nothing."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), NUMBA_CACHE_DIR=str(tmp_path / "cache"))
    argv = [sys.executable, "-m", "dse", "cost", "--npu",
            str(ROOT / "cost_models/designs/edge_small.toml"), "--model", "alexnet"]
    first = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=600)
    second = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=600)
    assert first.returncode == second.returncode == 0
    assert "dse: compiling kernels (cost model; first run only, ~10 s) ..." in first.stderr
    assert "compiling" not in second.stderr and first.stdout == second.stdout


def test_policy_kernel_readiness():
    from dse.sim import kernel_ready, warm

    warm("fcfs")
    assert kernel_ready("fcfs")
