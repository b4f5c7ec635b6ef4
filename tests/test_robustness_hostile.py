"""Hostile input and resource limits: every reproducer of the hostile-input issue.

Each case runs a command in-process through ``dse.cli.main`` and checks a one-line error
naming the file, the field and the allowed range (exit 2), or a correct result.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from cost_models import NpuDesign, fc, latency_table
from dse.cli import main
from dse.common import InputError

ROOT = Path(__file__).resolve().parents[1]
NPU = ROOT / "cost_models" / "designs" / "edge_small.toml"


def one_line_error(capsys, rc, *fragments):
    out, err = capsys.readouterr()
    assert rc == 2, err
    # the cold-cache note ("dse: compiling kernels ...", first run only) may come first
    lines = [ln for ln in err.splitlines()
             if ln.strip() and not ln.startswith("dse: compiling kernels ")]
    assert len(lines) == 1 and lines[0].startswith("dse: error: "), err
    assert "Traceback" not in err + out
    for f in fragments:
        assert f in lines[0], (f, lines[0])
    return lines[0]


def gemm_csv(tmp_path, m, n, k, name="g.csv"):
    p = tmp_path / name
    p.write_text(f"Layer name, M, N, K,\ng, {m}, {n}, {k},\n")
    return str(p)


def npu_with(tmp_path, **fields):
    text = NPU.read_text()
    for key, val in fields.items():
        lines = [ln for ln in text.splitlines() if not ln.startswith(f"{key} ")]
        text = "\n".join(lines) + f"\n{key} = {val}\n"
    p = tmp_path / "npu.toml"
    p.write_text(text)
    return str(p)


# ----------------------------------------------------------------- integer overflow
def test_huge_gemm_is_refused_not_negative(tmp_path, capsys):
    """10^8 x 10^8 x 10^8 reported negative cycles, bytes and energy with exit 0."""
    csv = gemm_csv(tmp_path, 10**8, 10**8, 10**8)
    rc = main(["cost", "--npu", str(NPU), "--topology", csv, "--gemm"])
    one_line_error(capsys, rc, "g.csv", "line 2", "allowed")


def test_gemm_beyond_int64_budget_names_layer(tmp_path, capsys):
    csv = gemm_csv(tmp_path, 10**6, 10**6, 10**6)
    rc = main(["cost", "--npu", str(NPU), "--topology", csv, "--gemm"])
    one_line_error(capsys, rc, "g.csv", "layer 'g'", "int64", "allowed")


def test_largest_accepted_gemm_is_positive(tmp_path, capsys):
    """Just inside the bounds the table is exact: positive cycles that grow with size."""
    csv = gemm_csv(tmp_path, 10**5, 10**5, 10**4)
    assert main(["cost", "--npu", str(NPU), "--topology", csv, "--gemm", "--json"]) == 0
    import json

    out = json.loads(capsys.readouterr().out)
    assert out["total_cycles"] > 10**14 / 1024  # at least MACs / (MACs per cycle)


@pytest.mark.parametrize("value", [2**63 - 1, 2**64, 2**32 + 1])
def test_topology_dimension_out_of_range(tmp_path, capsys, value):
    csv = gemm_csv(tmp_path, value, 4, 4)
    rc = main(["cost", "--npu", str(NPU), "--topology", csv, "--gemm"])
    one_line_error(capsys, rc, "g.csv", "line 2: M", "allowed: 1..4294967296")


def test_onnx_dimension_out_of_range(tmp_path, capsys):
    import onnx
    from onnx import TensorProto, helper

    big = 2**63 - 1
    g = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"], name="mm")], "h",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, big]),
         helper.make_tensor_value_info("w", TensorProto.FLOAT, [1, big, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 4])])
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]),
              tmp_path / "huge.onnx")
    (tmp_path / "m.toml").write_text('[model]\nname = "h"\nonnx = "huge.onnx"\n'
                                     'exits = ["y"]\nexit_profile = [1.0]\n'
                                     'exit_accuracy = [0.9]\n')
    rc = main(["workloads", "show", str(tmp_path / "m.toml")])
    one_line_error(capsys, rc, "m.toml", "model.onnx", "mm.reduction", "1..4294967296")


def test_tiny_dram_bandwidth_is_refused(tmp_path, capsys):
    """dram_gbps = 1e-300 overflowed the cycle counter (a layer faster than at 0.001)."""
    rc = main(["cost", "--npu", npu_with(tmp_path, dram_gbps="1e-300"), "--model", "alexnet"])
    one_line_error(capsys, rc, "npu.toml", "npu.dram_gbps", "0.001")


def test_slowest_dram_is_slowest():
    """At the lower bound, less bandwidth never makes a layer faster (no wrap-around)."""
    layers = [fc("f", 4096, 4096)]
    slow = latency_table(replace(NpuDesign(), dram_gbps=1e-3), layers).cycles[0, 1]
    slower = latency_table(replace(NpuDesign(), dram_gbps=1e-3, clock_mhz=1e5),
                           layers).cycles[0, 1]
    fast = latency_table(NpuDesign(), layers).cycles[0, 1]
    assert 0 < fast < slow < slower


def test_tiny_tech_node_is_refused(tmp_path, capsys):
    """tech_nm = 1e-3 gave 0 mm2."""
    rc = main(["cost", "--npu", npu_with(tmp_path, tech_nm="1e-3"), "--model", "alexnet"])
    one_line_error(capsys, rc, "npu.toml", "npu.tech_nm", "2.0..1000.0")


def test_latency_table_refuses_arrays_beyond_budget():
    arr = np.array([[10**6, 10**6, 10**6, 1, 10**12, 10**12, 1, 10**12]], dtype=np.int64)
    with pytest.raises(InputError, match="layers\\[0\\]"):
        latency_table(NpuDesign(), arr)


# ----------------------------------------------------------------- work and memory
SIM = ["simulate", "--npu", str(NPU), "--model", "mobilenetv2", "--slo-ms", "30",
       "--policy", "fcfs"]


def scenario(tmp_path, line, rate="rate_rps = 100"):
    p = tmp_path / "sc.toml"
    p.write_text('[scenario]\nname = "s"\n[[scenario.streams]]\nname = "a"\n'
                 f'model = "mobilenetv2"\nslo_ms = 30\n{rate}\n{line}\n')
    return str(p)


@pytest.mark.parametrize("argv, fragments", [
    (["--rate", "100", "--requests", str(10**12)], ["--requests", "1..1000000000"]),
    (["--rate", "100", "--requests", str(9 * 10**8)], ["--requests", "GiB", "--max-memory"]),
    (["--rate", "1e-12", "--requests", "200"], ["--rate", "0.001..1e+07"]),
    (["--rate", "0.001", "--requests", "2000000"], ["rate_rps", "1e+11 ms"]),
    (["--rate", "10", "--seed", str(2**32)], ["--seed", "0..4294967295"]),
])
def test_simulate_bounds(capsys, argv, fragments):
    one_line_error(capsys, main(SIM + argv), *fragments)


def test_memory_flag_lowers_and_raises_the_budget(capsys, monkeypatch):
    monkeypatch.setenv("DSE_MAX_MEMORY_GIB", "1")  # main() sets it: restored afterwards
    rc = main(["--max-memory", "0.001", *SIM, "--rate", "100", "--requests", "20000"])
    one_line_error(capsys, rc, "--requests", "0.001 GiB")
    assert main(["--max-memory", "0.01", *SIM, "--rate", "100", "--requests", "20000"]) == 0


@pytest.mark.parametrize("line, fragments", [
    ('arrival = "spikes"\nspike_size = 1000000000000', ["spike_size", "[1, 1e+06]"]),
    ('arrival = "periodic"\njitter_ms = 1e308', ["jitter_ms", "[0, 1e+11]"]),
    ('arrival = "bursty"\nmean_on_ms = 1e-300', ["mean_on_ms", "[0.001, 1e+11]"]),
    ("confidence_slope = 1e308", ["confidence_slope", "1000"]),
    ('arrival = "periodic"\njitter_ms = 1e10', ["scenario.streams", "jitter"]),
])
def test_scenario_bounds(tmp_path, capsys, line, fragments):
    sc = scenario(tmp_path, line, rate="rate_rps = 10000000" if "1e10" in line
                  else "rate_rps = 100")
    rc = main(["simulate", "--npu", str(NPU), "--scenario", sc, "--policy", "fcfs",
               "--requests", "1000"])
    one_line_error(capsys, rc, "sc.toml", *fragments)


def test_bursty_tiny_rate_is_refused(tmp_path, capsys):
    sc = scenario(tmp_path, 'arrival = "bursty"', rate="rate_rps = 1e-300")
    rc = main(["simulate", "--npu", str(NPU), "--scenario", sc, "--policy", "fcfs"])
    one_line_error(capsys, rc, "sc.toml", "rate_rps", "0.001")


def test_confidence_slope_at_its_bound_warns_nothing(tmp_path, capsys):
    import warnings

    sc = scenario(tmp_path, 'confidence_slope = 1000\nexit_mode = "difficulty"')
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert main(["simulate", "--npu", str(NPU), "--scenario", sc, "--policy", "fcfs",
                     "--requests", "300", "--json"]) == 0


def test_trace_timestamp_beyond_range(tmp_path, capsys):
    (tmp_path / "ts.csv").write_text("timestamp\n0\n1e308\n")
    sc = scenario(tmp_path, 'arrival = "trace"\npath = "ts.csv"', rate="")
    rc = main(["simulate", "--npu", str(NPU), "--scenario", sc, "--policy", "fcfs",
               "--requests", "100"])
    one_line_error(capsys, rc, "sc.toml", "path", "row 2", "1e+11 ms")


STUDY = """
[study]
name = "h"
sampler = "random"
n_trials = 2
seed = {seed}
storage = "sqlite:///h.db"
objectives = [{{ metric = "slo_attainment", direction = "maximize" }},
              {{ metric = "area_mm2", direction = "minimize" }}]
[scenario]
name = "s"
[[scenario.streams]]
name = "cam"
model = "mobilenetv2"
rate_rps = 100
slo_ms = 30
[fidelity]
requests = {requests}
[space.npu]
pe_count = {pe_count}
[space.policy]
name = "fcfs"
"""


def study_spec(tmp_path, seed=1, requests=200, pe_count="[32, 64]"):
    p = tmp_path / "spec.toml"
    p.write_text(STUDY.format(seed=seed, requests=requests, pe_count=pe_count))
    return str(p)


@pytest.mark.parametrize("over, fragments", [
    ({"seed": 2**32}, ["study.seed", "0..4294967295"]),
    ({"requests": 10**12}, ["fidelity.requests", "10..1000000000"]),
    ({"requests": 9 * 10**8}, ["fidelity.requests", "GiB"]),
])
def test_study_bounds_before_the_storage_exists(tmp_path, capsys, monkeypatch, over,
                                                fragments):
    """seed = 2^32 gave a traceback after the storage was already created."""
    monkeypatch.chdir(tmp_path)
    rc = main(["run", study_spec(tmp_path, **over), "--quiet", "--no-report"])
    one_line_error(capsys, rc, "spec.toml", *fragments)
    assert not (tmp_path / "h.db").exists()


def test_study_trial_count_beyond_memory(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    rc = main(["run", study_spec(tmp_path), "--n-trials", str(10**9), "--quiet"])
    one_line_error(capsys, rc, "study.n_trials", "GiB")


# ----------------------------------------------------------------- paths
SECRET = "TOP-SECRET-LINE-4711"


def test_nul_byte_in_paths(tmp_path, capsys):
    """A NUL byte in a model or trace path gave a traceback."""
    rc = main(["simulate", "--npu", str(NPU), "--model", "m\0.toml", "--rate", "10",
               "--slo-ms", "30", "--policy", "fcfs"])
    one_line_error(capsys, rc, "NUL")
    sc = scenario(tmp_path, 'arrival = "trace"\npath = "t\\u0000.csv"', rate="")
    rc = main(["simulate", "--npu", str(NPU), "--scenario", sc, "--policy", "fcfs"])
    one_line_error(capsys, rc, "sc.toml", "path", "NUL")
    rc = main(["cost", "--npu", str(NPU), "--topology", "a\0b.csv"])
    one_line_error(capsys, rc, "NUL")


@pytest.fixture
def secret_links(tmp_path):
    """Symlinks of every input name to a file of secrets the project did not write."""
    secret = tmp_path / "secret.txt"
    secret.write_text(f"{SECRET},{SECRET}\n{SECRET}\n")
    for name in ("t.csv", "topo.csv", "m.onnx", "npu.toml", "design.json", "spec.toml",
                 "sc_link.toml"):
        (tmp_path / name).symlink_to(secret)
    (tmp_path / "m.toml").write_text('[model]\nonnx = "m.onnx"\nexits = ["y"]\n'
                                     'exit_profile = [1.0]\nexit_accuracy = [0.9]\n')
    (tmp_path / "mc.toml").write_text('[model]\ntopology = "topo.csv"\nexits = [0]\n'
                                      'exit_profile = [1.0]\nexit_accuracy = [0.9]\n')
    return tmp_path


def test_symlink_to_a_secret_is_never_quoted(secret_links, capsys):
    d = secret_links
    sc = scenario(d, 'arrival = "trace"\npath = "t.csv"', rate="")
    cases = [
        ["simulate", "--npu", str(NPU), "--scenario", sc, "--policy", "fcfs"],
        ["simulate", "--npu", str(NPU), "--scenario", str(d / "sc_link.toml"), "--policy",
         "fcfs"],
        ["cost", "--npu", str(NPU), "--topology", str(d / "topo.csv")],
        ["cost", "--npu", str(NPU), "--topology", str(d / "topo.csv"), "--gemm"],
        ["cost", "--npu", str(d / "npu.toml"), "--model", "alexnet"],
        ["workloads", "show", str(d / "m.toml")],
        ["workloads", "show", str(d / "mc.toml")],
        ["evaluate", str(d / "design.json")],
        ["run", str(d / "spec.toml")],
        ["status", str(d / "spec.toml")],
    ]
    for argv in cases:
        rc = main(argv)
        out, err = capsys.readouterr()
        assert rc == 2, (argv, err)
        assert SECRET not in out + err, (argv, err)
        assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err


@pytest.mark.parametrize("target", ["dir", "fifo", "/dev/zero"])
def test_inputs_must_be_regular_files(tmp_path, capsys, target):
    """A topology of /dev/zero read forever (MemoryError); a FIFO blocked."""
    import os

    path = {"dir": str(tmp_path), "fifo": str(tmp_path / "f.csv"), "/dev/zero": "/dev/zero"}
    if target == "fifo":
        os.mkfifo(path["fifo"])
    p = path[target]
    kind = {"dir": "a directory", "fifo": "a FIFO", "/dev/zero": "a character device"}
    for argv in (["cost", "--npu", str(NPU), "--topology", p],
                 ["cost", "--npu", p, "--model", "alexnet"],
                 ["simulate", "--npu", str(NPU), "--scenario", p, "--policy", "fcfs"],
                 ["run", p], ["evaluate", p]):
        one_line_error(capsys, main(argv), kind[target])
    sc = scenario(tmp_path, f'arrival = "trace"\npath = "{p}"', rate="")
    one_line_error(capsys, main(["simulate", "--npu", str(NPU), "--scenario", sc,
                                 "--policy", "fcfs"]), "sc.toml", "path", kind[target])


@pytest.fixture(scope="module")
def done_study(tmp_path_factory):
    d = tmp_path_factory.mktemp("done")
    p = d / "spec.toml"
    p.write_text(STUDY.format(seed=1, requests=200, pe_count="[32, 64]"))
    import os

    cwd = os.getcwd()
    os.chdir(d)
    try:
        assert main(["run", str(p), "--quiet", "--no-report"]) == 0
    finally:
        os.chdir(cwd)
    return d


@pytest.mark.parametrize("argv, flag", [
    (["export", "{spec}", "--pick", "knee", "--out", "{out}"], "--out"),
    (["export", "{spec}", "--trials", "{out}"], "--trials"),
    (["dashboard", "{spec}", "--out", "{out}"], "--out"),
])
@pytest.mark.parametrize("where", ["dir", "nofolder", "readonly", "device"])
def test_outputs_checked_first_and_no_temp_left(done_study, capsys, monkeypatch, argv, flag,
                                                where):
    """--out naming a directory or an unwritable place gave a traceback and left a
    *.tmpPID file behind."""
    import os

    monkeypatch.chdir(done_study)
    ext = {"--trials": ".csv"}.get(flag, ".html" if argv[0] == "dashboard" else ".toml")
    ro = done_study / "ro"
    ro.mkdir(exist_ok=True)
    ro.chmod(0o555)
    out = {"dir": str(done_study / f"d{ext}"), "nofolder": str(done_study / "no" / f"x{ext}"),
           "readonly": str(ro / f"x{ext}"), "device": "/dev/null"}[where]
    if where == "dir":
        os.makedirs(out, exist_ok=True)
    if where == "readonly" and os.geteuid() == 0:
        out = f"/proc/dse-hostile{ext}"  # root may write into 0o555 folders, not /proc
    if where == "device" and flag != "--out":
        out = "/dev/null"
    before = set(os.listdir(done_study))
    rc = main([a.format(spec=done_study / "spec.toml", out=out) for a in argv])
    one_line_error(capsys, rc, flag)
    assert not [f for f in set(os.listdir(done_study)) - before if "tmp" in f]
    assert not [f for f in os.listdir(ro) if "tmp" in f]


def test_atomic_write_removes_temp_on_failure(tmp_path):
    from dse.common.files import atomic_write

    target = tmp_path / "x.csv"
    target.write_text("old")

    def boom(tmp):
        Path(tmp).write_text("half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic_write(target, boom)
    assert target.read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["x.csv"]


# ----------------------------------------------------------------- server
@pytest.mark.parametrize("port", ["70000", "0", "-1", "x"])
def test_port_validated(done_study, capsys, port):
    """--port 70000 gave an OverflowError traceback."""
    rc = main(["dashboard", str(done_study / "spec.toml"), "--serve", "--port", port])
    one_line_error(capsys, rc, "--port", "1..65535")


def test_non_loopback_host_warns(done_study, capsys, monkeypatch):
    """--host 0.0.0.0 served every interface without a word (here the port is taken, so
    nothing is served: the warning comes first, then the one-line error)."""
    import socket

    monkeypatch.chdir(done_study)
    with socket.socket() as busy:
        busy.bind(("0.0.0.0", 0))
        busy.listen()
        port = busy.getsockname()[1]
        rc = main(["dashboard", str(done_study / "spec.toml"), "--serve", "--host", "0.0.0.0",
                   "--port", str(port)])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 2, err
    assert err[0].startswith("dse: warning: --host 0.0.0.0") and "authentication" in err[0]
    assert err[1].startswith("dse: error: ") and "--port" in err[1]


@pytest.mark.parametrize("host, loop", [("127.0.0.1", True), ("localhost", True),
                                        ("::1", True), ("127.8.0.1", True),
                                        ("0.0.0.0", False), ("::", False),
                                        ("192.168.1.4", False), ("example.org", False)])
def test_is_loopback(host, loop):
    from dse.report import is_loopback

    assert is_loopback(host) is loop


# ----------------------------------------------------------------- mostly invalid spaces
def test_space_range_beyond_design_bounds(tmp_path, capsys, monkeypatch):
    """pe_count = {low = 1, high = 2^63 - 1} ran forever, failing ~2,000 trials a minute."""
    monkeypatch.chdir(tmp_path)
    spec = study_spec(tmp_path, pe_count="{ low = 1, high = 9223372036854775807 }")
    rc = main(["run", spec, "--quiet", "--no-report"])
    one_line_error(capsys, rc, "spec.toml", "space.npu.pe_count.high", "(0, 65536]")
    assert not (tmp_path / "h.db").exists()


def test_consecutive_invalid_trials_stop_the_study(tmp_path, capsys, monkeypatch):
    """A space of almost only invalid designs (0.1% valid) stops with one line after
    MAX_INVALID_STREAK consecutive invalid trials; the trials so far stay stored."""
    import optuna

    import dse.search._runner as runner

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(runner, "MAX_INVALID_STREAK", 15)
    spec = study_spec(tmp_path, pe_count="{ low = 1, high = 65536 }\npe_width = 16\n"
                                         "weight_sram_kib = 1.0")
    Path(spec).write_text(Path(spec).read_text().replace("n_trials = 2", "n_trials = 50"))
    rc = main(["run", spec, "--quiet", "--no-report"])
    line = one_line_error(capsys, rc, "spec.toml", "space.npu", "15 consecutive",
                          "complete trials are kept")
    assert "weight_sram_kib" in line
    study = optuna.load_study(study_name="h", storage="sqlite:///h.db")
    states = [t.state for t in study.trials]
    assert states[-15:] == [optuna.trial.TrialState.FAIL] * 15


# ----------------------------------------------------------------- found by the fuzz harness
def test_tiny_counting_window_is_refused(capsys):
    """--window-ms 1e-12 tried to allocate 32 PiB of window counts."""
    sc = ROOT / "workloads" / "data" / "scenarios" / "smart_home.toml"
    rc = main(["workloads", "trace", str(sc), "--requests", "200", "--window-ms", "1e-12"])
    one_line_error(capsys, rc, "--window-ms", "GiB")


def test_huge_timestamp_warns_nothing(tmp_path, capsys):
    """A timestamp of 1e308 s overflowed to inf with a RuntimeWarning before the error."""
    import warnings

    (tmp_path / "ts.csv").write_text("timestamp\n0\n1e308\n")
    sc = scenario(tmp_path, 'arrival = "trace"\npath = "ts.csv"\ntime_unit = "s"', rate="")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        rc = main(["workloads", "trace", sc, "--requests", "10"])
    one_line_error(capsys, rc, "sc.toml", "row 2", "1e+11 ms")


def test_head_with_overlong_request_line_gets_no_body():
    import socket

    from dse.report import DashboardServer

    srv = DashboardServer(lambda v: "<html></html>", lambda: "1", port=0, poll_s=60).start()
    try:
        with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as s:
            s.sendall(b"HEAD /" + b"a" * 70000 + b" HTTP/1.0\r\n\r\n")
            reply = b""
            while chunk := s.recv(65536):
                reply += chunk
    finally:
        srv.close()
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.0 414") and body == b""
