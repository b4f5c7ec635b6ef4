"""Shared pytest fixtures."""

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time

import pytest
from hypothesis import settings

# Property tests explore the same examples on every run (CI must be reproducible); set
# HYPOTHESIS_PROFILE=explore for fresh random examples while developing.
settings.register_profile("ci", derandomize=True, deadline=None, database=None)
settings.register_profile("explore", deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def _pg_bin() -> str | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return os.path.dirname(found[-1])
    initdb = shutil.which("initdb")
    return os.path.dirname(initdb) if initdb else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def postgres_url():
    """A throw-away PostgreSQL server on localhost; yields a URL with a password in it.

    initdb + pg_ctl into a temporary directory on a free port (as root the server runs as
    the ``postgres`` user).  Authentication is ``trust``, so the password in the URL is
    accepted whatever it is: tests use it to check that passwords are never printed.
    """
    bindir = _pg_bin()
    if bindir is None:
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) not installed")
    pytest.importorskip("psycopg2", reason="psycopg2 is needed for PostgreSQL storages")
    as_root = os.geteuid() == 0
    prefix: list[str] = []
    if as_root:
        if shutil.which("runuser") is None:
            pytest.skip("running as root without runuser: cannot start PostgreSQL")
        prefix = ["runuser", "-u", "postgres", "--"]
    tmp = tempfile.mkdtemp(prefix="dse-pg-")
    data, sock = os.path.join(tmp, "data"), os.path.join(tmp, "sock")
    os.makedirs(sock)
    if as_root:
        shutil.chown(tmp, "postgres")
        shutil.chown(sock, "postgres")
    port = _free_port()
    run = dict(check=True, capture_output=True, text=True, timeout=120)
    subprocess.run([*prefix, f"{bindir}/initdb", "-D", data, "-A", "trust", "-U", "postgres",
                    "--no-sync"], **run)
    opts = f"-p {port} -k {sock} -c listen_addresses=127.0.0.1 -c fsync=off"
    subprocess.run([*prefix, f"{bindir}/pg_ctl", "-D", data, "-o", opts, "-l",
                    os.path.join(tmp, "log"), "-w", "start"], **run)
    try:
        psql = [*prefix, f"{bindir}/psql", "-h", "127.0.0.1", "-p", str(port), "-U",
                "postgres", "-v", "ON_ERROR_STOP=1", "-c"]
        subprocess.run([*psql, "CREATE ROLE dse LOGIN PASSWORD 's3cretPW'"], **run)
        subprocess.run([*psql, "CREATE DATABASE dse OWNER dse"], **run)
        yield f"postgresql://dse:s3cretPW@127.0.0.1:{port}/dse"
    finally:
        subprocess.run([*prefix, f"{bindir}/pg_ctl", "-D", data, "-m", "immediate", "stop"],
                       capture_output=True, timeout=60)
        time.sleep(0.2)
        shutil.rmtree(tmp, ignore_errors=True)


TINY_STUDY = """
[study]
name = "{name}"
sampler = "{sampler}"
{n_trials}
seed = 11
storage = "{storage}"
sampler_options = {options}
objectives = [{{ metric = "slo_attainment", direction = "maximize" }},
              {{ metric = "area_mm2", direction = "minimize" }}]

[scenario]
name = "tiny"
[[scenario.streams]]
name = "cam"
model = "mobilenetv2"
arrival = "bursty"
rate_rps = 300
slo_ms = 20

[fidelity]
requests = {requests}
short_requests = {short}
prune_after = 4

[space.npu]
pe_count = [16, 32, 64, 128]
pe_width = [8, 16]
batching = ["r", "fluid"]

[space.policy]
name = "{policy}"
{policy_space}
"""


@pytest.fixture
def tiny_study(tmp_path):
    """Write a small, fast study spec into tmp_path; returns ``make(**overrides) -> path``."""

    def make(name="tiny", sampler="nsga2", n_trials=8, storage="study.db", requests=400,
             short=0, policy="fluid", policy_space="[space.policy.fluid]\n"
             "max_batch = [2, 4, 8]\nrefill_level = { low = 0.0, high = 1.0, step = 0.5 }",
             options=None, filename="spec.toml"):
        if options is None:
            options = "{ population_size = 4 }" if sampler == "nsga2" else "{}"
        if "://" not in storage and not storage.endswith(".journal"):
            storage = f"sqlite:///{storage}"
        text = TINY_STUDY.format(name=name, sampler=sampler, storage=storage,
                                 n_trials=f"n_trials = {n_trials}" if n_trials else "",
                                 requests=requests, short=short, policy=policy,
                                 policy_space=policy_space, options=options)
        path = tmp_path / filename
        path.write_text(text)
        return path

    return make
