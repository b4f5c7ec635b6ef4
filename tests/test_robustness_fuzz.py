"""Fuzz harness: hostile values in every input format, through the real commands.

Every input format a user hands ``dse`` (design TOML/JSON, scenario, study spec, model
TOML, topology CSV, ONNX, trace CSV, command-line arguments, HTTP requests to the
dashboard server) gets values a fuzzer or a careless script produces: integers at and
beyond 64 bits, 1e-300 and 1e308, NaN and infinities, wrong types, NUL and control
bytes, truncated or bit-flipped files.  Each run must end within ``TIME_BOUND_S`` with
either exit 0 and sane output (every number in the ``--json`` output finite and >= 0)
or exit 1/2 with at most three lines on stderr, the last one ``dse: error: ...``, and
never a traceback or a RuntimeWarning.  Commands run in-process through ``dse.cli.main``.

Profiles: the default run tries ``EXAMPLES`` inputs per format (derandomised, ~30 s in
all); ``-m heavy`` tries 25x as many.  ``docs/robustness.md`` records what was found.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import socket
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dse.cli import main

# a RuntimeWarning (overflow, invalid value) would reach the user's terminal: fail on it
pytestmark = pytest.mark.filterwarnings("error::RuntimeWarning")

ROOT = Path(__file__).resolve().parents[1]
NPU = ROOT / "cost_models" / "designs" / "edge_small.toml"
TIME_BOUND_S = 60.0
EXAMPLES = 20
HEAVY = 25

# ------------------------------------------------------------------ hostile values
EDGES = [0, -1, 1, 2, 3, 7, 16, 64, 1000, 2**31 - 1, 2**32, 2**53 + 1, 2**63 - 1, 2**63,
         2**64, 10**12, 10**30, -(2**63)]
FLOATS = [0.0, -0.0, 1e-300, 5e-324, 1e-12, 0.001, 0.5, 1.5, 30.0, 1e12, 1e308, -1e308,
          math.nan, math.inf, -math.inf]
number = st.one_of(st.sampled_from(EDGES), st.sampled_from(FLOATS),
                   st.integers(-(2**70), 2**70), st.floats(allow_nan=True))
text = st.one_of(st.text(max_size=6),
                 st.sampled_from(["", "\x00", "a\x00b", "../../etc/passwd", "/dev/zero",
                                  "\x1b[31m", "fluid", "r", "poisson", "mobilenetv2",
                                  "nan", "1e308", "é" * 3]))
value = st.one_of(number, number, text, st.booleans(), st.lists(number, max_size=3))


def toml_value(v) -> str:
    """TOML for ``v`` (NaN/inf as TOML's nan/inf; strings JSON-escaped)."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    return json.dumps(v)


def toml_table(name: str, table: dict) -> str:
    return f"[{name}]\n" + "".join(f"{k} = {toml_value(v)}\n" for k, v in table.items())


def fields(names, base: dict | None = None):
    """A table: ``base`` with 1-3 of ``names`` set to hostile values."""
    return st.dictionaries(st.sampled_from(names), value, min_size=1, max_size=3).map(
        lambda d: {**(base or {}), **d})


# ------------------------------------------------------------------ running and checking
def run(argv) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    t0 = time.monotonic()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main([str(a) for a in argv])
    assert time.monotonic() - t0 < TIME_BOUND_S, argv
    return rc, out.getvalue(), err.getvalue()


#: Numbers that are undefined, and shown as null, in legitimate output: the index of
#: dispersion of a trace shorter than one counting window.
UNDEFINED_OK = (".index_of_dispersion",)


def _numbers(obj, path="", parent=None):
    """(path, number) of every number or null; a null is fine (undefined, not wrong) in a
    record of zero requests, e.g. the dispersion of a stream that drew none."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _numbers(v, f"{path}.{k}", obj)
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _numbers(v, f"{path}[{i}]")
    elif obj is None and not (parent and parent.get("requests") == 0) \
            and not path.endswith(UNDEFINED_OK):
        yield path, obj
    elif isinstance(obj, int | float) and not isinstance(obj, bool):
        yield path, obj


def check(argv, *, json_out: bool = True) -> int:
    """Run; exit 0 with finite, non-negative JSON numbers, or a short error."""
    rc, out, err = run(argv)
    assert "Traceback" not in out + err, (argv, err)
    if rc == 0:
        if json_out:
            bad = [(p, v) for p, v in _numbers(json.loads(out))
                   if v is None or not math.isfinite(v) or v < 0]
            assert not bad, (argv, bad[:5])
        return rc
    assert rc in (1, 2), (argv, rc, err)
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert 1 <= len(lines) <= 3 and lines[-1].startswith("dse: error: "), (argv, err)
    return rc


def profile(n: int = EXAMPLES):
    return settings(max_examples=n, deadline=None, database=None, derandomize=True,
                    suppress_health_check=list(HealthCheck))


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    d = tmp_path_factory.mktemp("fuzz")
    cwd = os.getcwd()
    os.chdir(d)
    yield d
    os.chdir(cwd)


# ------------------------------------------------------------------ the formats
NPU_FIELDS = ["pe_count", "pe_width", "tile_rows", "stack_factors", "batching", "pe_style",
              "max_batch", "clock_mhz", "dram_gbps", "act_sram_kib", "weight_sram_kib",
              "out_sram_kib", "precision_bits", "tech_nm", "pe_cnt"]


def _design(work, table, as_json):
    if as_json:
        p = work / "d.json"
        p.write_text(json.dumps({"npu": table}, allow_nan=True))
        return p
    p = work / "d.toml"
    p.write_text(toml_table("npu", table))
    return p


def fuzz_design(work, table, as_json):
    check(["cost", "--npu", _design(work, table, as_json), "--model", "mobilenetv2",
           "--json"])


STREAM_FIELDS = ["rate_rps", "slo_ms", "slo_x", "priority", "arrival", "peak_to_base",
                 "mean_on_ms", "mean_off_ms", "spike_size", "spike_share", "spike_width_ms",
                 "jitter_ms", "period_s", "amplitude", "phase_deg", "confidence_slope",
                 "exit_mode", "exit_profile", "exit_thresholds", "model"]
ARRIVALS = st.sampled_from(["poisson", "bursty", "spikes", "periodic", "diurnal"])


def _scenario(work, stream: dict, name="sc.toml"):
    p = work / name
    p.write_text('[scenario]\nname = "s"\n' + toml_table("scenario.streams", stream)
                 .replace("[scenario.streams]", "[[scenario.streams]]"))
    return p


def fuzz_scenario(work, stream):
    check(["simulate", "--npu", NPU, "--scenario", _scenario(work, stream), "--policy",
           "fcfs", "--requests", "200", "--json"])


def fuzz_topology(work, rows, gemm):
    header = "Layer name, M, N, K," if gemm else (
        "Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, "
        "Num Filter, Strides,")
    p = work / "t.csv"
    p.write_text(header + "\n" + "".join(", ".join(map(str, r)) + ",\n" for r in rows))
    check(["cost", "--npu", NPU, "--topology", p, "--json", *(["--gemm"] if gemm else [])])
    m = work / "m.toml"
    m.write_text(f'[model]\ntopology = "t.csv"\nformat = "{"gemm" if gemm else "conv"}"\n'
                 'exits = [0]\nexit_profile = [1.0]\nexit_accuracy = [0.9]\n')
    check(["workloads", "show", m, "--json"] if False else ["workloads", "show", m],
          json_out=False)


MODEL_FIELDS = ["name", "topology", "format", "onnx", "skip_unsupported", "exits", "heads",
                "exit_profile", "exit_accuracy", "source"]


def fuzz_model(work, table):
    (work / "ok.csv").write_text("Layer name, M, N, K,\na, 4, 8, 16,\nb, 4, 8, 8,\n")
    p = work / "mm.toml"
    p.write_text(toml_table("model", {"topology": "ok.csv", "format": "gemm",
                                      "exits": ["a", "b"], "exit_profile": [0.5, 0.5],
                                      "exit_accuracy": [0.8, 0.9], **table}))
    check(["workloads", "show", p], json_out=False)
    check(["simulate", "--npu", NPU, "--model", p, "--rate", "50", "--slo-ms", "20",
           "--policy", "fcfs", "--requests", "200", "--json"])


def _onnx_bytes() -> bytes:
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    w = numpy_helper.from_array(np.zeros((16, 8), np.float32), "w")
    g = helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["y"], name="mm")], "g",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 16])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 8])],
                          [w])
    return onnx.helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]
                                  ).SerializeToString()


def fuzz_onnx(work, edits):
    data = bytearray(_onnx_bytes())
    for pos, byte, cut in edits:
        if cut:
            data = data[: pos % (len(data) + 1)]
        elif data:
            data[pos % len(data)] = byte
    (work / "f.onnx").write_bytes(bytes(data))
    p = work / "fo.toml"
    p.write_text('[model]\nonnx = "f.onnx"\nexits = ["y"]\nexit_profile = [1.0]\n'
                 'exit_accuracy = [0.9]\n')
    check(["workloads", "show", p], json_out=False)


def fuzz_trace(work, lines, unit):
    (work / "tr.csv").write_text("\n".join(lines) + "\n")
    sc = _scenario(work, {"model": "mobilenetv2", "arrival": "trace", "path": "tr.csv",
                          "slo_ms": 30, "time_unit": unit}, name="sct.toml")
    check(["workloads", "trace", sc, "--requests", "200", "--json"])


SPEC_FIELDS = {"study": ["n_trials", "seed", "timeout", "sampler", "name"],
               "fidelity": ["requests", "replications", "warmup", "short_requests",
                            "prune_after", "prune_margin"],
               "space.npu": ["pe_count", "pe_width", "clock_mhz", "dram_gbps", "tech_nm"]}


def fuzz_spec(work, section, table):
    base = {"study": {"name": "f", "sampler": "random", "n_trials": 1, "seed": 1,
                      "storage": "sqlite:///never.db"},
            "fidelity": {"requests": 200}, "space.npu": {"pe_count": [32, 64]}}
    base[section] = {**base[section], **table}
    text = (toml_table("study", base["study"]) +
            'objectives = [{ metric = "slo_attainment", direction = "maximize" }]\n' +
            '[scenario]\nname = "s"\n[[scenario.streams]]\nname = "a"\n'
            'model = "mobilenetv2"\nrate_rps = 100\nslo_ms = 30\n' +
            toml_table("fidelity", base["fidelity"]) + toml_table("space.npu",
                                                                  base["space.npu"]) +
            '[space.policy]\nname = "fcfs"\n')
    (work / "spec.toml").write_text(text)
    check(["status", work / "spec.toml"], json_out=False)  # parses, then: no such study


FLAGS = {"simulate": ["--rate", "--slo-ms", "--requests", "--seed", "--warmup",
                      "--exit-probs", "--param", "--arrival"],
         "cost": ["--batch"], "workloads": ["--requests", "--seed", "--window-ms"]}


def fuzz_cli(work, command, pairs):
    if command == "simulate":
        argv = ["simulate", "--npu", NPU, "--model", "mobilenetv2", "--policy", "static"]
        defaults = {"--rate": "50", "--slo-ms": "30", "--requests": "200"}
    elif command == "cost":
        argv = ["cost", "--npu", NPU, "--model", "alexnet"]
        defaults = {}
    else:
        argv = ["workloads", "trace", ROOT / "workloads" / "data" / "scenarios" /
                "smart_home.toml"]
        defaults = {"--requests": "200"}
    given_flags = dict(pairs)
    for flag, v in {**defaults, **given_flags}.items():
        argv += [flag, v]
    check([*argv, "--json"])


# ------------------------------------------------------------------ strategies
design_st = st.tuples(fields(NPU_FIELDS), st.booleans())
scenario_st = fields(STREAM_FIELDS, {"name": "a", "model": "mobilenetv2", "rate_rps": 100,
                                     "slo_ms": 30}).flatmap(
    lambda d: ARRIVALS.map(lambda a: {"arrival": a, **d}))
cell = st.one_of(st.sampled_from(EDGES), st.integers(-5, 5000), text)
topo_st = st.booleans().flatmap(lambda gemm: st.tuples(
    st.lists(st.lists(cell, min_size=3, max_size=9).map(lambda r: ["L", *r]),
             min_size=1, max_size=3).map(lambda rows: [[f"l{i}", *r[1:]]
                                                       for i, r in enumerate(rows)]),
    st.just(gemm)))
model_st = fields(MODEL_FIELDS)
onnx_st = st.lists(st.tuples(st.integers(0, 10**4), st.integers(0, 255), st.booleans()),
                   min_size=1, max_size=4)
ts_cell = st.one_of(st.sampled_from(["0", "1", "1e308", "-1", "nan", "inf", "", "x",
                                     "1e11", "99999999999999", "3.5"]),
                    st.floats(allow_nan=True).map(repr))
trace_st = st.tuples(
    st.lists(ts_cell, min_size=1, max_size=8).map(lambda c: ["timestamp", *c]),
    st.sampled_from(["ms", "s", "us"]))
spec_st = st.sampled_from(sorted(SPEC_FIELDS)).flatmap(
    lambda s: st.tuples(st.just(s), fields(SPEC_FIELDS[s])))
arg = st.one_of(st.sampled_from(["0", "-1", "1e-12", "1e308", "nan", "inf", "-inf",
                                 str(2**63), str(2**32), "x", "", "\x00", "1,2",
                                 "max_batch=0", "max_batch=99999999999", "=",
                                 "max_queue_delay_ms=1e308", "periodic", "bursty"]),
                st.text(max_size=5))
cli_st = st.sampled_from(sorted(FLAGS)).flatmap(
    lambda c: st.tuples(st.just(c), st.lists(st.tuples(st.sampled_from(FLAGS[c]), arg),
                                             max_size=3)))


# ------------------------------------------------------------------ the HTTP server
REQUEST_LINES = st.one_of(
    st.tuples(st.sampled_from(["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "BREW",
                               "get", ""]),
              st.one_of(st.sampled_from(["/", "/index.html", "/version.json", "/../x",
                                         "/%00", "*", "http://x/", "/" + "a" * 70000]),
                        st.text(max_size=12).map(lambda t: "/" + t)),
              st.sampled_from(["HTTP/1.0", "HTTP/1.1", "HTTP/9.9", "", "FOO"]))
    .map(lambda t: " ".join(p for p in t if p)),
    st.binary(max_size=40).map(lambda b: b.decode("latin-1")))
HEADERS = st.lists(st.one_of(st.sampled_from(["Host: x", "Content-Length: -1",
                                              "Content-Length: 99999999999999999999",
                                              "Range: bytes=0-1", "Connection: keep-alive",
                                              "X: " + "y" * 10000, ":", "bad header"]),
                             st.text(max_size=10)), max_size=3)


@pytest.fixture(scope="module")
def server():
    from dse.report import DashboardServer

    srv = DashboardServer(lambda v: f"<html>{v}</html>", lambda: "1", port=0,
                          poll_s=60).start()
    yield srv
    srv.close()


def _send(port: int, raw: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(raw)
        with contextlib.suppress(OSError):
            s.shutdown(socket.SHUT_WR)
        chunks = []
        with contextlib.suppress(TimeoutError, ConnectionError):
            while chunk := s.recv(65536):
                chunks.append(chunk)
    return b"".join(chunks)


def fuzz_http(server, line, headers):
    raw = (line + "\r\n" + "".join(h + "\r\n" for h in headers) + "\r\n").encode(
        "utf-8", "surrogateescape")
    reply = _send(server.port, raw)
    assert reply == b"" or reply.startswith(b"HTTP/"), reply[:80]
    if line.startswith("HEAD "):
        assert reply.partition(b"\r\n\r\n")[2] == b""
    ok = _send(server.port, b"GET /version.json HTTP/1.0\r\n\r\n")  # still serving
    assert ok.startswith(b"HTTP/1.0 200"), ok[:80]


# ------------------------------------------------------------------ the tests
CASES = {
    "design": (design_st, lambda w, a: fuzz_design(w, *a)),
    "scenario": (scenario_st, fuzz_scenario),
    "topology": (topo_st, lambda w, a: fuzz_topology(w, *a)),
    "model": (model_st, fuzz_model),
    "onnx": (onnx_st, fuzz_onnx),
    "trace": (trace_st, lambda w, a: fuzz_trace(w, *a)),
    "spec": (spec_st, lambda w, a: fuzz_spec(w, *a)),
    "cli": (cli_st, lambda w, a: fuzz_cli(w, *a)),
}


def _fuzz(name, work, n):
    strategy, fn = CASES[name]

    @profile(n)
    @given(strategy)
    def body(args):
        fn(work, args)

    body()


@pytest.mark.parametrize("name", sorted(CASES))
def test_fuzz_short(name, work):
    _fuzz(name, work, EXAMPLES)


def test_fuzz_http_short(server):
    @profile(EXAMPLES * 3)
    @given(REQUEST_LINES, HEADERS)
    def body(line, headers):
        fuzz_http(server, line, headers)

    body()


@pytest.mark.heavy
@pytest.mark.parametrize("name", sorted(CASES))
def test_fuzz_long(name, work):
    _fuzz(name, work, EXAMPLES * HEAVY)


@pytest.mark.heavy
def test_fuzz_http_long(server):
    @profile(EXAMPLES * 3 * HEAVY)
    @given(REQUEST_LINES, HEADERS)
    def body(line, headers):
        fuzz_http(server, line, headers)

    body()
