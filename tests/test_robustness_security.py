"""Security: the dashboard server (a real ``dse dashboard --serve`` process) binds loopback
and serves only its own page; design files are TOML/JSON only; spec files cannot run code;
no eval/exec/pickle/yaml.load anywhere in our packages."""

from __future__ import annotations

import ast
import os
import pickle
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dse.cli import main

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("cost_models", "workloads", "dse")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _raw(port: int, request: bytes) -> bytes:
    """Send one raw HTTP request (no client-side path normalisation) and read it all."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(request)
        chunks = []
        while chunk := s.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def _listen_addresses(port: int) -> set[str]:
    """Local addresses (hex, as in /proc/net/tcp{,6}) in LISTEN state on ``port``."""
    out = set()
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        if not os.path.exists(name):
            continue
        with open(name) as fh:
            next(fh)
            for line in fh:
                cols = line.split()
                addr, hexport = cols[1].rsplit(":", 1)
                if int(hexport, 16) == port and cols[3] == "0A":  # 0A = LISTEN
                    out.add(addr)
    return out


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """A tiny finished study and a real ``dse dashboard --serve`` process on a free port."""
    from conftest import TINY_STUDY

    d = tmp_path_factory.mktemp("served")
    spec = d / "spec.toml"
    spec.write_text(TINY_STUDY.format(
        name="sec", sampler="random", storage="sqlite:///study.db", n_trials="n_trials = 3",
        requests=200, short=0, policy="fcfs", policy_space="", options="{}"))
    (d / "canary.txt").write_text("CANARY-SECRET-0xdeadbeef")
    assert main(["run", str(spec), "--quiet", "--no-report"]) == 0
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "dse", "dashboard", str(spec), "--serve",
                             "--port", str(port), "--poll", "60"], cwd=d,
                            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
                            start_new_session=True)
    banner = proc.stderr.readline()  # "serving http://127.0.0.1:PORT/ (Ctrl-C to stop)"
    while banner.startswith("dse: compiling kernels"):  # a cold Numba cache says so first
        banner = proc.stderr.readline()
    deadline = time.monotonic() + 60
    while not _listen_addresses(port) and time.monotonic() < deadline:
        time.sleep(0.1)
    try:
        yield {"port": port, "banner": banner, "dir": d, "proc": proc}
    finally:
        os.killpg(proc.pid, 15)
        proc.wait(timeout=30)


def test_server_binds_loopback_only(served):
    port = served["port"]
    assert f"http://127.0.0.1:{port}/" in served["banner"]
    addrs = _listen_addresses(port)
    assert addrs == {"0100007F"}, addrs  # 127.0.0.1 in /proc's little-endian hex
    assert _raw(port, b"GET / HTTP/1.0\r\n\r\n").startswith(b"HTTP/1.0 200")


def test_head_answers_headers_only(served):
    """HEAD / returned the whole (~5 MB) body."""
    port = served["port"]
    get = _raw(port, b"GET / HTTP/1.0\r\n\r\n")
    head = _raw(port, b"HEAD / HTTP/1.0\r\n\r\n")
    headers, _, body = head.partition(b"\r\n\r\n")
    assert headers.startswith(b"HTTP/1.0 200") and body == b""
    length = int(next(ln.split(b":")[1] for ln in headers.split(b"\r\n")
                      if ln.lower().startswith(b"content-length")))
    assert length == len(get.partition(b"\r\n\r\n")[2]) > 100_000


TRAVERSALS = [
    "/../../../../etc/passwd",
    "/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
    "/%2E%2E%2F%2E%2E%2F%2E%2E%2Fetc%2Fpasswd",
    "/%252e%252e/%252e%252e/etc/passwd",          # double-encoded
    "/..%2f..%2f..%2fetc%2fpasswd",
    "/..\\..\\..\\etc\\passwd",
    "/%c0%ae%c0%ae/%c0%ae%c0%ae/etc/passwd",      # overlong UTF-8 dots
    "/index.html/../../study.db",
    "/index.html%00../study.db",
    "//etc/passwd",
    "/study.db",
    "/spec.toml",
    "/canary.txt",
    "/./canary.txt",
    "/%2e/canary.txt",
    "http://127.0.0.1/../canary.txt",             # absolute-form request target
    "/results/sec/study.db",
]


@pytest.mark.parametrize("path", TRAVERSALS)
def test_server_refuses_path_traversal(served, path):
    reply = _raw(served["port"], f"GET {path} HTTP/1.0\r\nHost: x\r\n\r\n".encode())
    status = reply.split(b"\r\n", 1)[0]
    assert status.split()[1] in (b"400", b"404"), (path, status)
    assert b"root:" not in reply and b"SQLite format 3" not in reply
    assert b"CANARY-SECRET" not in reply and b"[study]" not in reply


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
def test_server_refuses_writes(served, method):
    reply = _raw(served["port"], f"{method} / HTTP/1.0\r\nContent-Length: 4\r\n\r\nabcd"
                 .encode())
    assert reply.split()[1] in (b"405", b"501"), reply[:80]
    assert _raw(served["port"], b"GET /version.json HTTP/1.0\r\n\r\n").startswith(
        b"HTTP/1.0 200")


# ------------------------------------------------------------------ design and spec files
def test_pickle_design_file_is_rejected(tmp_path, capsys):
    payload = pickle.dumps({"schema_version": 1, "npu": {}})
    for name in ("design.pkl", "design.pickle", "design.toml", "design.json"):
        path = tmp_path / name
        path.write_bytes(payload)
        assert main(["evaluate", str(path)]) == 2, name
        err = capsys.readouterr().err.strip()
        assert err.startswith("dse: error: ") and "\n" not in err and "Traceback" not in err
        assert name in err


class _Boom:
    def __reduce__(self):  # would create a file if anything ever unpickled it
        return (Path.touch, (Path(os.environ["DSE_PWNED"]),))


def test_malicious_pickle_is_never_loaded(tmp_path, monkeypatch, capsys):
    pwned = tmp_path / "pwned"
    monkeypatch.setenv("DSE_PWNED", str(pwned))
    for name in ("design.pkl", "design.toml", "design.json", "spec.toml"):
        (tmp_path / name).write_bytes(pickle.dumps(_Boom()))
    for argv in (["evaluate", str(tmp_path / "design.pkl")],
                 ["evaluate", str(tmp_path / "design.toml")],
                 ["evaluate", str(tmp_path / "design.json")],
                 ["run", str(tmp_path / "spec.toml"), "--quiet"],
                 ["status", str(tmp_path / "spec.toml")],
                 ["cost", "--npu", str(tmp_path / "design.toml"), "--model", "alexnet"]):
        assert main(argv) == 2, argv
        assert "Traceback" not in capsys.readouterr().err
    assert not pwned.exists()


CODE = "__import__('os').system('touch {p}') or __import__('pathlib').Path('{p}').touch()"


def test_spec_strings_are_never_evaluated(tmp_path, tiny_study, capsys):
    """Code in every string field of a spec is data: it is rejected or kept verbatim."""
    pwned = tmp_path / "pwned"
    code = CODE.format(p=pwned)
    base = tiny_study(n_trials=1, requests=100, policy="fcfs", policy_space="").read_text()
    variants = [
        base.replace('name = "tiny"', f'name = "{code}"', 1),
        base.replace('sampler = "nsga2"', f'sampler = "{code}"'),
        base.replace('model = "mobilenetv2"', f'model = "{code}"'),
        base.replace('arrival = "bursty"', f'arrival = "{code}"'),
        base.replace('name = "fcfs"', f'name = "{code}"'),
        base.replace('pe_count = [16, 32, 64, 128]', f'pe_count = ["{code}"]'),
        base.replace('rate_rps = 300', f'rate_rps = "{code}"'),
        base.replace('metric = "slo_attainment"', f'metric = "{code}"'),
        base.replace('[space.policy]\nname = "fcfs"',
                     f'[space.policy]\nname = "static"\n[space.policy.static]\n'
                     f'max_batch = "{code}"'),
    ]
    for i, text in enumerate(variants):
        spec = tmp_path / f"evil{i}.toml"
        spec.write_text(text)
        assert text != base
        code_ = main(["run", str(spec), "--quiet", "--no-report"])
        err = capsys.readouterr().err
        assert "Traceback" not in err
        assert code_ in (0, 2), (i, code_, err)
    assert not pwned.exists()


# ------------------------------------------------------------------ static check of the code
FORBIDDEN_CALLS = {"eval", "exec", "compile", "__import__"}
FORBIDDEN_MODULES = {"pickle", "cPickle", "dill", "marshal", "shelve", "yaml", "jsonpickle",
                     "cloudpickle", "joblib"}


def _python_files():
    for pkg in PACKAGES:
        yield from sorted((ROOT / pkg).rglob("*.py"))


def _scan(source: str, where: str) -> list[str]:
    """Calls to eval/exec/compile/__import__, imports of pickle-like or YAML modules and
    their load functions, found in one file's AST."""
    problems = []
    for node in ast.walk(ast.parse(source)):
        at = f"{where}:{getattr(node, 'lineno', 0)}"
        if isinstance(node, ast.Call):
            f = node.func
            name = f.id if isinstance(f, ast.Name) else (
                f.attr if isinstance(f, ast.Attribute) else "")
            owner = f.value.id if isinstance(f, ast.Attribute) and isinstance(
                f.value, ast.Name) else ""
            if name in FORBIDDEN_CALLS and (isinstance(f, ast.Name) or owner == "builtins"):
                problems.append(f"{at}: call to {name}()")
            if name in ("load", "loads", "unsafe_load", "full_load") and isinstance(
                    f, ast.Attribute) and isinstance(f.value, ast.Name) and \
                    f.value.id in FORBIDDEN_MODULES:
                problems.append(f"{at}: {f.value.id}.{name}()")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in FORBIDDEN_MODULES:
                    problems.append(f"{at}: import {alias.name}")
        elif isinstance(node, ast.ImportFrom) and node.module and \
                node.module.split(".")[0] in FORBIDDEN_MODULES:
            problems.append(f"{at}: from {node.module} import ...")
    return problems


def test_no_eval_exec_pickle_or_yaml_in_our_code():
    files = list(_python_files())
    assert len(files) > 20
    problems = [p for path in files
                for p in _scan(path.read_text(encoding="utf-8"), str(path.relative_to(ROOT)))]
    assert not problems, "\n".join(problems)


def test_static_check_catches_what_it_looks_for():
    """The scan is not vacuous: every pattern in a planted file is flagged."""
    planted = ("import pickle\nfrom yaml import load\nimport marshal as m\nx = eval('1')\n"
               "exec('y=1')\nbuiltins.compile('1', 'f', 'eval')\nyaml.unsafe_load(s)\n"
               "json.loads('1')\nre.compile('x')\n")
    found = _scan(planted, "planted.py")
    assert len(found) == 7, found
    assert not any("json" in f or ":9:" in f for f in found)
