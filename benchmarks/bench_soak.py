"""Soak test: a long study with several local workers on a JournalStorage file.

Usage: python3 benchmarks/bench_soak.py [--trials 20000] [--workers 2] [--interval 10]
                                        [--dir DIR] [--json OUT.json]

Writes a cheap but realistic spec (random sampler; one bursty MobileNetV2 stream; 300
requests per trial; PE-array, width, batching and fluid-scheduler dimensions, one of them
continuous, so that the space has more designs than trials: a study stops when its space
is exhausted) into DIR,
runs ``dse run SPEC --workers K`` on a journal file, and every ``--interval`` seconds
samples the resident memory (RSS, MiB) of the parent and of every worker process and the
number of COMPLETE trials (read incrementally from the journal).  Prints one line per
sample, then start vs end throughput (trials/s over the first and last 10% of the trials,
skipping the first 2% as start-up), worker CPU time per trial over the same windows (less
sensitive to other load on the machine than trials/s) and start vs end worker memory.
Targets: worker RSS flat (end within 10% of start) and end throughput within 20% of start.
Also prints the KiB per trial that a fresh process needs to hold the finished journal
(Optuna's replica of the study), the growth every journal client shows, to tell it from a
leak, and the floor under the CPU per trial: a bare Optuna study of the same shape (random
sampler, the same parameters, one user attr, no simulation) on a journal file in one
process, CPU per trial over the same start and end windows.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

SPEC = """
[study]
name = "soak"
sampler = "random"
n_trials = {trials}
seed = 3
storage = "journal:///soak.journal"
objectives = [{{ metric = "slo_attainment", direction = "maximize" }},
              {{ metric = "area_mm2", direction = "minimize" }}]

[scenario]
name = "soak"
[[scenario.streams]]
name = "cam"
model = "mobilenetv2"
arrival = "bursty"
rate_rps = 300
slo_ms = 20

[fidelity]
requests = 300

[space.npu]
pe_count = [16, 32, 64, 128]
pe_width = [8, 16]
batching = ["r", "fluid"]

[space.policy]
name = "fluid"
[space.policy.fluid]
max_batch = [2, 4, 8]
refill_level = {{ low = 0.0, high = 1.0 }}
"""


def rss_mib(pid: int) -> float | None:
    """Resident set size of ``pid`` (MiB) from /proc, or None if it has gone."""
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024.0
    except (FileNotFoundError, ProcessLookupError):
        return None
    return None


def replica_kib_per_trial(journal: Path) -> float:
    """KiB per trial that a fresh process needs to hold the study in ``journal``: the
    growth any journal client must show, as opposed to a leak."""
    code = ("import os, optuna; from dse.search import open_storage\n"
            "def rss():\n"
            "    for line in open(f'/proc/{os.getpid()}/status'):\n"
            "        if line.startswith('VmRSS:'): return int(line.split()[1])\n"
            "before = rss()\n"
            f"st = open_storage('journal:///{journal}', create=False)\n"
            "n = len(optuna.load_study(study_name='soak', storage=st).get_trials(False))\n"
            "print((rss() - before) / n)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    return float(out.stdout.split()[-1])


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time (s) of ``pid`` so far, or None if it has gone."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children(pid: int) -> list[int]:
    """Worker processes of ``pid``: its direct children (Linux /proc) except the
    multiprocessing resource tracker."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        if int(fields[1]) != pid:
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as fh:
                if b"resource_tracker" in fh.read():
                    continue
        except (FileNotFoundError, ProcessLookupError):
            continue
        out.append(int(entry))
    return sorted(out)


class JournalCounter:
    """Counts COMPLETE trials in an Optuna journal file, reading only the new bytes."""

    def __init__(self, path: Path):
        self.path, self.offset, self.complete, self._tail = path, 0, 0, b""
        self.times: list[float] = []  # datetime_complete of every COMPLETE trial (epoch s)

    def poll(self) -> int:
        if not self.path.exists():
            return self.complete
        with open(self.path, "rb") as fh:
            fh.seek(self.offset)
            data = fh.read()
        self.offset += len(data)
        lines = (self._tail + data).split(b"\n")
        self._tail = lines.pop()  # an unfinished last line waits for the next poll
        for line in lines:
            if b'"op_code":6' in line.replace(b" ", b""):
                rec = json.loads(line)
                if rec.get("state") == 1:
                    self.complete += 1
                    self.times.append(datetime.fromisoformat(
                        rec["datetime_complete"]).timestamp())
        return self.complete


def bare_optuna_cpu_ms(work: Path, trials: int, skip: int, tenth: int) -> tuple:
    """CPU ms per trial of a bare Optuna study of the spec's shape on a journal file, over
    trials ``skip .. skip + tenth`` and the last ``tenth`` of ``trials``."""
    import optuna
    from optuna.storages.journal import JournalFileBackend, JournalStorage

    optuna.logging.set_verbosity(optuna.logging.ERROR)  # Ctrl-C: no logged traceback
    study = optuna.create_study(
        storage=JournalStorage(JournalFileBackend(str(work / "bare.journal"))),
        directions=["maximize", "minimize"], sampler=optuna.samplers.RandomSampler(seed=3))

    def objective(trial):
        pe = trial.suggest_categorical("pe_count", [16, 32, 64, 128])
        width = trial.suggest_categorical("pe_width", [8, 16])
        trial.suggest_categorical("batching", ["r", "fluid"])
        trial.suggest_categorical("fluid.max_batch", [2, 4, 8])
        refill = trial.suggest_float("fluid.refill_level", 0.0, 1.0)
        trial.set_user_attr("design", {"pe_count": pe, "pe_width": width})
        return refill, pe * width

    def timed(n):
        c0 = time.process_time()
        study.optimize(objective, n_trials=n)
        return (time.process_time() - c0) / n * 1e3

    study.optimize(objective, n_trials=skip)
    start = timed(tenth)
    study.optimize(objective, n_trials=trials - skip - 2 * tenth)
    return start, timed(tenth)


def window_rate(times: list[float], lo: int, hi: int) -> float:
    """Trials/s from the completion of trial ``lo`` to that of trial ``hi`` (in the order
    they completed; ``times`` from the journal's ``datetime_complete``)."""
    t = sorted(times)
    return (hi - lo) / max(t[hi - 1] - t[lo], 1e-9)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=20000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--interval", type=float, default=10.0, help="seconds between samples")
    ap.add_argument("--dir", help="working directory (default: a new temporary one)")
    ap.add_argument("--json", help="also write the samples and summary to this file")
    args = ap.parse_args()

    work = Path(args.dir or tempfile.mkdtemp(prefix="dse-soak-"))
    work.mkdir(parents=True, exist_ok=True)
    spec = work / "soak.toml"
    spec.write_text(SPEC.format(trials=args.trials))
    journal = work / "soak.journal"
    counter = JournalCounter(journal)
    cmd = [sys.executable, "-m", "dse", "run", str(spec), "--workers", str(args.workers),
           "--quiet", "--no-report"]
    print(f"soak: {args.trials} trials, {args.workers} workers, journal {journal}", flush=True)
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=work, start_new_session=True, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    samples = []
    interrupted = False
    print(f"{'t_s':>7} {'complete':>9} {'trials/s':>9} {'cpu_ms/trial':>12} {'load':>5} "
          f"{'parent_MiB':>11} workers_MiB", flush=True)
    try:
        while True:
            done = proc.poll() is not None
            n = counter.poll()
            t = time.monotonic() - t0
            kids = children(proc.pid)
            workers = {pid: rss_mib(pid) for pid in kids}
            workers = {p: r for p, r in workers.items() if r is not None}
            cpu = {pid: cpu_seconds(pid) for pid in kids}
            cpu_total = sum(c for c in cpu.values() if c is not None)
            rate, cpu_ms = 0.0, float("nan")
            if samples:
                prev = samples[-1]
                rate = (n - prev["complete"]) / max(t - prev["t"], 1e-9)
                if n > prev["complete"] and len(cpu) == args.workers and prev["cpu_s"]:
                    cpu_ms = (cpu_total - prev["cpu_s"]) / (n - prev["complete"]) * 1e3
            load = float(open("/proc/loadavg").read().split()[0])
            s = {"t": t, "complete": n, "rate": rate, "parent_mib": rss_mib(proc.pid),
                 "worker_mib": sorted(workers.values()), "cpu_s": cpu_total,
                 "cpu_ms_per_trial": cpu_ms, "load": load}
            samples.append(s)
            print(f"{t:7.0f} {n:9d} {rate:9.2f} {cpu_ms:12.1f} {load:5.1f} "
                  f"{s['parent_mib'] or 0:11.1f} "
                  + " ".join(f"{r:.1f}" for r in s["worker_mib"]), flush=True)
            if done:
                break
            time.sleep(args.interval)
    except KeyboardInterrupt:
        interrupted = True
        os.killpg(proc.pid, signal.SIGINT)
        proc.wait()
    out = proc.stdout.read() if proc.stdout else ""
    print(out.strip())
    total = counter.poll()
    summary = {"trials": total, "workers": args.workers, "wall_s": samples[-1]["t"],
               "exit_code": proc.returncode}
    if total >= 100:
        skip, tenth = int(0.02 * total), max(1, int(0.1 * total))
        summary["start_rate"] = window_rate(counter.times, skip, skip + tenth)
        summary["end_rate"] = window_rate(counter.times, total - tenth, total)
        summary["end_over_start"] = summary["end_rate"] / summary["start_rate"]
        cpu = [s for s in samples if s["cpu_ms_per_trial"] == s["cpu_ms_per_trial"]]
        if cpu:
            def cpu_ms(lo, hi):
                w = [s for s in cpu if lo <= s["complete"] <= hi]
                return (w[-1]["cpu_s"] - w[0]["cpu_s"]) / max(
                    w[-1]["complete"] - w[0]["complete"], 1) * 1e3 if len(w) > 1 else None
            summary["start_cpu_ms_per_trial"] = cpu_ms(skip, skip + tenth)
            summary["end_cpu_ms_per_trial"] = cpu_ms(total - tenth, total)
        if not interrupted:  # Ctrl-C: no further minutes on the floor
            try:
                (summary["bare_optuna_start_cpu_ms_per_trial"],
                 summary["bare_optuna_end_cpu_ms_per_trial"]) = bare_optuna_cpu_ms(
                    work, total, skip, tenth)
            except KeyboardInterrupt:
                interrupted = True
                print("bench_soak.py: interrupted: the bare Optuna floor is not measured",
                      file=sys.stderr)
        mem = [s for s in samples if len(s["worker_mib"]) == args.workers]
        if mem:
            first = next(s for s in mem if s["complete"] >= skip + tenth)
            summary["start_worker_mib"] = first["worker_mib"]
            summary["end_worker_mib"] = mem[-1]["worker_mib"]
            summary["peak_worker_mib"] = max(max(s["worker_mib"]) for s in mem)
            grown = max(summary["end_worker_mib"]) - max(first["worker_mib"])
            summary["worker_kib_per_trial"] = grown * 1024 / max(
                mem[-1]["complete"] - first["complete"], 1)
            summary["replica_kib_per_trial"] = replica_kib_per_trial(journal)
    print(json.dumps(summary, indent=1))
    if "replica_kib_per_trial" in summary:
        flat = max(summary["end_worker_mib"]) <= 1.1 * max(summary["start_worker_mib"])
        print(f"memory: workers grew {summary['worker_kib_per_trial']:.1f} KiB per trial; a "
              f"fresh process holding the journal's {total} trials needs "
              f"{summary['replica_kib_per_trial']:.1f} KiB per trial (Optuna's replica of "
              f"the study); flat (end within 10% of start): {'met' if flat else 'NOT met'}")
    if "bare_optuna_end_cpu_ms_per_trial" in summary and summary.get("end_cpu_ms_per_trial"):
        print(f"CPU per trial: workers {summary['start_cpu_ms_per_trial']:.1f} -> "
              f"{summary['end_cpu_ms_per_trial']:.1f} ms; a bare Optuna study of the same "
              f"shape on a journal file {summary['bare_optuna_start_cpu_ms_per_trial']:.1f}"
              f" -> {summary['bare_optuna_end_cpu_ms_per_trial']:.1f} ms (the floor)")
    if args.json:
        Path(args.json).write_text(json.dumps({"summary": summary, "samples": samples},
                                              indent=1))
    return proc.returncode or (130 if interrupted else 0)


if __name__ == "__main__":
    sys.exit(main())
