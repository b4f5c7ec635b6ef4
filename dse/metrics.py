"""Serving metrics of one simulation, per stream and overall (DESIGN.md "Metrics").

Definitions (times in ms, rates per second):

* Measured requests: all but the first ``warmup`` share by arrival order
  (``n_warm = floor(warmup * N)``).  Everything below uses measured requests only.
* Window: from the first measured arrival to the last measured completion (or the last
  measured arrival, if later).  Throughput, goodput and utilisation divide by it.
* ``latency = completion - arrival`` of completed requests; ``mean/p50/p95/p99`` are over
  completed requests (linear-interpolated percentiles); NaN when none completed.
* ``slo_attainment``: share of measured requests completed within their stream's SLO;
  dropped requests count as violations.
* ``throughput_rps`` completed / window; ``goodput_rps`` completed within SLO / window.
* ``utilisation``: NPU MAC utilisation over the window: sum over the layer passes of
  (pass ms x pass MAC utilisation), each pass shared equally among its samples, summed over
  the group's completed requests, divided by (window ms x executors).  Overall, it is the
  share of the array's peak MACs spent on measured requests.
* ``mean_batch``: mean over completed requests of the average active batch size over the
  layers each one ran.
* ``accuracy``: mean of the completed requests' exit accuracies.
* ``energy_uj_per_request``: mean over completed requests of their share of the energy
  of every layer pass they took part in (uJ).
* ``dropped``: measured requests dropped (queue cap or horizon).
* ``unstable``: the system did not keep up: a measured request was dropped, or the
  queues held at least half their capacity when the last request arrived.  A stream is
  flagged when the whole run is.
"""

from __future__ import annotations

import math

import numpy as np

METRIC_KEYS = ("mean_latency_ms", "p50_latency_ms", "p95_latency_ms", "p99_latency_ms",
               "slo_attainment", "throughput_rps", "goodput_rps", "utilisation",
               "mean_batch", "accuracy", "energy_uj_per_request", "dropped", "unstable")


def _group(lat, ok, done, dropped, util_ms, batch, acc, energy, window_ms, executors,
           unstable) -> dict:
    n = int(done.size)
    lat_done = lat[done]
    window_s = window_ms / 1000.0
    if lat_done.size:
        p50, p95, p99 = (float(v) for v in np.percentile(lat_done, [50.0, 95.0, 99.0]))
        mean = float(lat_done.mean())
    else:
        mean = p50 = p95 = p99 = math.nan
    n_done = int(done.sum())
    n_ok = int(ok.sum())
    return {
        "mean_latency_ms": mean,
        "p50_latency_ms": p50,
        "p95_latency_ms": p95,
        "p99_latency_ms": p99,
        "slo_attainment": n_ok / n if n else math.nan,
        "throughput_rps": n_done / window_s if window_s > 0 else 0.0,
        "goodput_rps": n_ok / window_s if window_s > 0 else 0.0,
        "utilisation": float(util_ms[done].sum() / (window_ms * executors))
        if window_ms > 0 else 0.0,
        "mean_batch": float(batch[done].mean()) if n_done else math.nan,
        "accuracy": float(acc[done].mean()) if n_done else math.nan,
        "energy_uj_per_request": float(energy[done].mean()) if n_done else math.nan,
        "dropped": int(dropped.sum()),
        "unstable": bool(unstable),
    }


def compute_metrics(result, stream_slo_ms, stream_names, accuracy=None, *, warmup=0.1,
                    queue_cap=None) -> dict:
    """``{"overall": {...}, "streams": {name: {...}}}`` of a :class:`dse.sim.SimResult`.

    ``accuracy`` (per request, fraction) defaults to NaN; ``queue_cap`` enables the
    queue-growth test of ``unstable``.
    """
    n = result.arrival_ms.size
    if not (0.0 <= warmup < 1.0):
        raise ValueError("warmup must be in [0, 1)")
    first = int(math.floor(warmup * n))
    sl = slice(first, n)
    arrival = result.arrival_ms[sl]
    completion = result.completion_ms[sl]
    dropped = result.dropped[sl]
    stream = np.asarray(result.stream)[sl]
    done = ~dropped & ~np.isnan(completion)
    lat = np.where(done, completion - arrival, np.inf)
    slo = np.asarray(stream_slo_ms, dtype=np.float64)[stream]
    ok = done & (lat <= slo)
    t1 = max(float(np.max(completion[done])) if done.any() else -math.inf, float(arrival[-1]))
    window_ms = t1 - float(arrival[0])
    batch = result.batch_sum[sl] / (result.exit_layer[sl] + 1.0)
    acc = (np.full(n, math.nan) if accuracy is None else np.asarray(accuracy, float))[sl]
    energy = result.energy_uj[sl]
    util = result.util_ms[sl]
    backlog = result.counters.get("queue_at_last_arrival", 0)
    unstable = bool(dropped.any()) or (queue_cap is not None and backlog >= queue_cap / 2)
    args = (result.executors, unstable)
    out = {"overall": _group(lat, ok, done, dropped, util, batch, acc, energy, window_ms,
                             *args), "streams": {}}
    for s, name in enumerate(stream_names):
        m = stream == s
        out["streams"][name] = _group(lat[m], ok[m], done[m], dropped[m], util[m], batch[m],
                                      acc[m], energy[m], window_ms, *args)
    return out


def slo_satisfaction(mean_ms, p95_ms, slo_ms, unstable=None) -> dict:
    """Paper-style average- and tail-latency SLO satisfaction over a sweep.

    Each sweep point is one simulation (one load level x one SLO target).  ``mean_ms``
    and ``p95_ms`` are shaped ``[points, streams]`` (mean and p95 latency of each stream,
    ms), ``slo_ms`` the same shape (each stream's SLO at that point), ``unstable``
    ``[points]``.  A point satisfies the average-latency SLO when every stream's mean
    latency is <= its SLO and the run is stable; likewise the tail-latency SLO with p95.
    Returns ``{"average": share, "tail": share, "points": count}`` (shares in 0..1).
    """
    mean_ms = np.atleast_2d(np.asarray(mean_ms, dtype=np.float64))
    p95_ms = np.atleast_2d(np.asarray(p95_ms, dtype=np.float64))
    slo_ms = np.broadcast_to(np.asarray(slo_ms, dtype=np.float64), mean_ms.shape)
    if mean_ms.shape != p95_ms.shape:
        raise ValueError("mean_ms and p95_ms must have the same shape")
    stable = (np.ones(mean_ms.shape[0], bool) if unstable is None
              else ~np.asarray(unstable, dtype=bool))
    # NaN latencies (nothing completed) compare False: not satisfied
    avg = np.all(mean_ms <= slo_ms, axis=1) & stable
    tail = np.all(p95_ms <= slo_ms, axis=1) & stable
    points = mean_ms.shape[0]
    return {"average": float(avg.mean()) if points else math.nan,
            "tail": float(tail.mean()) if points else math.nan, "points": int(points)}
