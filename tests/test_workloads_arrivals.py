"""Arrival processes: rates, burstiness and shapes against closed forms; replay; speed."""

import time

import numpy as np
import pytest

from dse.common import InputError
from workloads import ARRIVALS
from workloads.arrivals import bursty, diurnal


def draw(name, rate_rps, horizon_ms, seed=0, **params):
    proc = ARRIVALS[name]
    p = proc.validate(params, source="test", prefix="")
    return proc.sample(np.random.default_rng(seed), rate_rps / 1000.0, horizon_ms, p)


def idc(times, window_ms, horizon_ms):
    counts = np.bincount((times // window_ms).astype(int), minlength=int(horizon_ms // window_ms))
    return counts.var() / counts.mean()


def test_all_processes_sorted_and_in_window():
    for name in ("poisson", "bursty", "spikes", "periodic", "diurnal"):
        t = draw(name, 50.0, 20_000.0)
        assert t.size > 0 and np.all(np.diff(t) >= 0) and t[0] >= 0 and t[-1] < 20_000.0


@pytest.mark.parametrize("name", ["poisson", "bursty", "spikes", "periodic"])
def test_mean_rate(name):
    horizon = 2_000_000.0              # 2000 s at 200 rps = 400k arrivals
    t = draw(name, 200.0, horizon, seed=1)
    rate = t.size / horizon * 1000.0
    # sampling error of the count: sqrt(IDC * mean); IDC <= 60 for these defaults
    sigma = np.sqrt(60.0 * 400_000) / 400_000
    assert rate == pytest.approx(200.0, rel=5 * sigma)


def test_poisson_dispersion_is_one():
    t = draw("poisson", 100.0, 1_000_000.0, seed=2)
    # index of dispersion of 1000 windows: standard error sqrt(2/1000) = 0.045
    assert idc(t, 1000.0, 1_000_000.0) == pytest.approx(1.0, abs=0.2)


def test_bursty_dispersion_matches_mmpp_formula():
    p = ARRIVALS["bursty"].validate({}, source="t", prefix="")
    horizon = 4_000_000.0
    t = draw("bursty", 100.0, horizon, seed=3)
    for window in (100.0, 1000.0):
        expected = bursty.idc(0.1, p, window)
        assert expected > 10          # clearly not Poisson
        assert idc(t, window, horizon) == pytest.approx(expected, rel=0.15)


def test_bursty_rates_and_formula_limits():
    p = {"peak_to_base": 5.0, "mean_on_ms": 100.0, "mean_off_ms": 300.0}
    on, off = bursty.rates(0.2, p)
    assert on == pytest.approx(5 * off)
    assert (on * 100 + off * 300) / 400 == pytest.approx(0.2)
    assert bursty.idc(0.2, {**p, "peak_to_base": 1.0}, 1e4) == pytest.approx(1.0)


def test_spike_dispersion():
    # compound Poisson: IDC -> (1 - share) + share * size for windows >> spike width
    horizon = 2_000_000.0
    t = draw("spikes", 100.0, horizon, seed=4, spike_share=0.5, spike_size=20,
             spike_width_ms=5.0)
    assert idc(t, 1000.0, horizon) == pytest.approx(0.5 + 0.5 * 20, rel=0.15)


def test_periodic_is_regular():
    t = draw("periodic", 30.0, 600_000.0, seed=5, jitter_ms=2.0)
    gaps = np.diff(t)
    assert gaps.mean() == pytest.approx(1000.0 / 30, rel=1e-3)
    # gap = period + difference of two N(0, 2^2) jitters: std 2*sqrt(2)
    assert gaps.std() == pytest.approx(2.0 * np.sqrt(2.0), rel=0.1)
    assert idc(t, 1000.0, 600_000.0) < 0.1


def test_diurnal_ramp_shape():
    # share of a period's arrivals in its first quarter: 1/4 - A / (2 pi)
    period_s, amp = 100.0, 0.8
    horizon = 200 * period_s * 1000.0
    t = draw("diurnal", 20.0, horizon, seed=6, period_s=period_s, amplitude=amp)
    phase = (t % (period_s * 1000.0)) / (period_s * 1000.0)
    assert np.mean(phase < 0.25) == pytest.approx(0.25 - amp / (2 * np.pi), abs=0.01)
    assert t.size / horizon * 1000 == pytest.approx(20.0, rel=0.02)
    p = {"period_s": period_s, "amplitude": amp, "phase_deg": 0.0}
    assert diurnal.rate_at(0.0, 1.0, p) == pytest.approx(1 - amp)


def test_prefix_stable():
    for name in ("poisson", "bursty", "spikes", "periodic", "diurnal"):
        short, long = draw(name, 80.0, 10_000.0, seed=7), draw(name, 80.0, 300_000.0, seed=7)
        assert np.array_equal(long[: short.size], short), name
        assert long.size == short.size or long[short.size] >= 10_000.0


def test_millions_of_arrivals_fast():
    draw("bursty", 1000.0, 1000.0)     # warm up
    for name in ("poisson", "bursty"):
        t0 = time.perf_counter()
        t = draw(name, 1000.0, 2_000_000.0)        # ~2 million arrivals
        elapsed = time.perf_counter() - t0
        assert t.size > 1_900_000
        assert elapsed < 2.0, (name, elapsed)      # ~0.1-0.3 s unloaded; shared CI cores


def write(tmp_path, text, name="t.csv"):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def replay(path, rate_rps=None, horizon=1e9, **params):
    proc = ARRIVALS["trace"]
    p = proc.validate({"path": path, **params}, source="s.toml", prefix="x.")
    rate = None if rate_rps is None else rate_rps / 1000
    return proc.sample(np.random.default_rng(0), rate, horizon, p), p


def test_trace_replay(tmp_path):
    path = write(tmp_path, "timestamp,stream\n0,a\n10,b\n10,a\n25,a\n40,b\n")
    t, p = replay(path, horizon=50.0, loop=False)
    assert t.tolist() == [0, 10, 10, 25, 40]
    t, _ = replay(path, horizon=50.0, stream="a", loop=False)
    assert t.tolist() == [0, 10, 25]
    # loop: the recording lasts 25 + mean gap 12.5 = 37.5 ms
    t, _ = replay(path, horizon=80.0, stream="a")
    assert t.tolist() == [0, 10, 25, 37.5, 47.5, 62.5, 75.0]
    assert ARRIVALS["trace"].native_rate_rps(_) == pytest.approx(3 / 37.5 * 1000)
    # rate_rps rescales time: twice the native rate halves every timestamp
    t2, _ = replay(path, rate_rps=160.0, horizon=40.0, stream="a")
    assert t2.tolist() == [0, 5, 12.5, 18.75, 23.75, 31.25, 37.5]
    t3, _ = replay(write(tmp_path, "timestamp\n0.5\n1.5\n", "s.csv"), horizon=1e4,
                   time_unit="s", loop=False)
    assert t3.tolist() == [500.0, 1500.0]


@pytest.mark.parametrize("text,msg", [
    ("", "is empty"),
    ("timestamp,stream\n", "no requests"),
    ("timestamp\n5\n3\n", "not sorted"),
    ("time\n1\n", "no 'timestamp' column"),
    ("timestamp\n1\nabc\n", "not a number"),
    ("timestamp\n-1\n2\n", "negative"),
])
def test_trace_bad_files(tmp_path, text, msg):
    path = write(tmp_path, text)
    with pytest.raises(InputError) as err:
        replay(path)
    assert msg in str(err.value) and "s.toml" in str(err.value) and "\n" not in str(err.value)


def test_trace_missing_file_and_unknown_stream(tmp_path):
    with pytest.raises(InputError, match="not found"):
        replay(str(tmp_path / "nope.csv"))
    path = write(tmp_path, "timestamp,stream\n0,a\n")
    with pytest.raises(InputError, match="no requests for stream 'zz'"):
        replay(path, stream="zz")


def test_param_validation():
    proc = ARRIVALS["bursty"]
    with pytest.raises(InputError, match=r"x\.peak_to_base: must be >= 1.0, got 0.5"):
        proc.validate({"peak_to_base": 0.5}, source="s", prefix="x.")
    with pytest.raises(InputError, match="mean_on_ms: expected a number"):
        proc.validate({"mean_on_ms": "long"}, source="s", prefix="x.")
    with pytest.raises(InputError, match=r"x\.mean_off_ms"):
        proc.validate({"mean_off_ms": 0.0}, source="s", prefix="x.")
    with pytest.raises(InputError, match="needs parameter 'path'"):
        ARRIVALS["trace"].validate({}, source="s", prefix="x.")
