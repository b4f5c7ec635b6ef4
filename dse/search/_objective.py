"""The study objective: sampled parameters -> NpuDesign + policy -> simulation -> values.

Every trial of a study simulates the same request traces (common random numbers): the
trace of replication ``r`` is ``scenario.trace(requests, seed + r)``, built once per
process.  Per-stream SLOs and the design's latency tables come from ``dse.evaluate``.

Multi-fidelity rule (``fidelity.short_requests > 0``): every trial is first simulated on
the first ``short_requests`` requests of the same trace(s) and stores those objective
values as the user attr ``short_values``.  Comparisons are made at equal fidelity (short
against short, on common random numbers): once the study holds ``prune_after`` complete
feasible trials with short values, the new trial's short vector is made optimistic by
``prune_margin`` times each objective's range over those trials' short values (objectives
that do not depend on the trace, i.e. area, are exact and get no margin).  If a complete
feasible trial's short vector still dominates it, the design cannot reach the front and the
trial is PRUNED before the full trace; otherwise it runs the full trace and completes.
"""

from __future__ import annotations

import math
from collections import OrderedDict

import numpy as np
import optuna

from dse.common import InputError
from dse.evaluation import jsonable, trial_metrics, trial_scenario
from dse.metrics import base_metric, metric_value
from dse.search import _optuna_compat as compat
from dse.search._front import minimised, pareto_mask
from dse.search._index import TrialIndex
from dse.search._storage import worker_id


class InvalidDesign(Exception):
    """A sampled point is not a valid NpuDesign (the trial is recorded as FAIL)."""


class Surplus(Exception):
    """The study reached n_trials while this trial was starting (recorded as FAIL)."""


# --------------------------------------------------------------------------- sampling
def suggest_point(trial, spec) -> tuple[dict, str, dict]:
    """(npu table, policy name, full policy parameters) for a trial.

    Optuna parameter names: the NpuDesign field name, ``policy``, and
    ``<policy>.<parameter>`` for policy parameters (conditional on the policy).
    """
    from dse.sim import POLICIES

    npu = {name: dim.suggest(trial, name) for name, dim in spec.space.npu.items()}
    policy = spec.space.policy.suggest(trial, "policy")
    declared = POLICIES[policy].params
    params = {name: p.default for name, p in declared.items()}
    for name, dim in spec.space.params.get(policy, {}).items():
        params[name] = dim.suggest(trial, f"{policy}.{name}")
    return npu, policy, params


def suggest_exits(trial, spec) -> dict[str, list[float]]:
    """Searched exit thresholds of a trial: stream -> one confidence per exit but the last.

    Optuna parameter names: ``exits.<stream>.threshold`` (shared by every exit) or
    ``exits.<stream>.exit<i>``.
    """
    out = {}
    for stream, dims in spec.space.exits.items():
        if "threshold" in dims:
            t = float(dims["threshold"].suggest(trial, f"exits.{stream}.threshold"))
            out[stream] = [t] * spec.space.thresholds_per_stream[stream]
        else:
            out[stream] = [float(dims[key].suggest(trial, f"exits.{stream}.{key}"))
                           for key in sorted(dims, key=lambda k: int(k[4:]))]
    return out


# --------------------------------------------------------------------------- metrics
def _exits_key(exits: dict | None) -> tuple:
    return tuple(sorted((k, tuple(v)) for k, v in (exits or {}).items()))


# --------------------------------------------------------------------------- objective
class Objective:
    """Callable Optuna objective for a spec (one instance per worker process).

    The simulator is deterministic on the common traces, so a re-sampled point needs no new
    simulation: a trial whose parameters equal those of a COMPLETE trial in the storage
    copies its values and user attrs (plus ``duplicate_of``), and evaluations are memoised
    in-process per (design, policy, parameters, trace length).
    """

    def __init__(self, spec, n_trials: int | None = None, cache_size: int = 4096):
        self.spec = spec
        self.n_trials = n_trials
        self._traces: dict[int, list] = {}
        self._cache: OrderedDict = OrderedDict()
        self._cache_size = cache_size
        self._needed = spec.needed_metrics()
        self.worker = worker_id()
        self._index: TrialIndex | None = None

    def index(self, study, trials: list | None = None, known=()) -> TrialIndex:
        """This process's incremental view of ``study``'s trials, refreshed (see
        :meth:`TrialIndex.refresh` for ``trials`` and ``known``)."""
        if self._index is None or not self._index.same_study(study):
            self._index = TrialIndex(study)
        return self._index.refresh(trials, known)

    # -- traces and evaluation --------------------------------------------------------
    def traces(self, n_requests: int, exits: dict | None = None) -> list:
        """The common traces (one per replication); searched exit thresholds change only
        where requests leave, not the arrivals or the difficulties (same seeds)."""
        key = (n_requests, _exits_key(exits))
        if key not in self._traces:
            if len(self._traces) >= 16:  # many threshold combinations: keep a few
                self._traces.pop(next(iter(self._traces)))
            f = self.spec.fidelity
            scenario = trial_scenario(self.spec.scenario, exits)
            self._traces[key] = [scenario.trace(n_requests, self.spec.seed + r)
                                 for r in range(f.replications)]
        return self._traces[key]

    def measure(self, design, policy: str, params: dict, n_requests: int,
                exits: dict | None = None):
        """(metrics, area breakdown, objective values, constraint violations)."""
        from cost_models import area_breakdown

        key = (design, policy, tuple(sorted(params.items())), n_requests, _exits_key(exits))
        hit = self._cache.get(key)
        if hit is not None:
            self._cache.move_to_end(key)
            return hit
        f = self.spec.fidelity
        metrics = jsonable(trial_metrics(
            design, trial_scenario(self.spec.scenario, exits), policy, params,
            n_requests=n_requests, seed=self.spec.seed, replications=f.replications,
            warmup=f.warmup, needed=self._needed, traces=self.traces(n_requests, exits),
            loads=f.satisfaction_loads, slo_x=f.satisfaction_slo_x))
        area = {k: float(v) for k, v in area_breakdown(design).items()}
        values = tuple(metric_value(m, metrics, design) for m in self.spec.metric_names)
        cons = tuple(c.violation(metric_value(c.metric, metrics, design))
                     for c in self.spec.constraints)
        out = (metrics, area, values, cons)
        self._cache[key] = out
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return out

    # -- coordination -------------------------------------------------------------------
    def _claim(self, trial, idx: TrialIndex) -> None:
        """Make sure this trial is within n_trials (see ``docs/studies.md``); ``idx`` is
        the index as refreshed at the trial's start.

        A trial may run when (complete) + (running trials with a smaller number) is below
        n_trials; otherwise it waits for those trials, and is surplus once the study has
        n_trials complete trials.
        """
        if self.n_trials is None:
            return
        import time

        from dse.search._storage import reap_stale_trials

        while True:
            done = idx.counts()["COMPLETE"]
            ahead = sum(t.number < trial.number for t in idx.running())
            if done >= self.n_trials:
                trial.set_user_attr("surplus", True)  # its design was not evaluated
                raise Surplus(f"the study already has {done} complete trials")
            if done + ahead < self.n_trials:
                return
            time.sleep(0.2)
            reap_stale_trials(trial.study, running=self.index(trial.study).running())
            idx = self.index(trial.study)

    # -- pruning ---------------------------------------------------------------------------
    def _should_prune(self, idx: TrialIndex, values) -> bool:
        f = self.spec.fidelity
        ref = idx.short_values()  # complete feasible trials
        if len(ref) < f.prune_after:
            return False
        dirs = self.spec.directions
        pts = minimised(np.array(ref, dtype=np.float64), dirs)
        front = pts[pareto_mask(pts)]
        span = pts.max(axis=0) - pts.min(axis=0)
        span = np.where(span > 0, span, np.abs(pts).max(axis=0) + 1e-12)
        exact = np.array([base_metric(m).exact for m in self.spec.metric_names])
        opt = minimised(np.array([values]), dirs)[0] - np.where(exact, 0.0,
                                                                f.prune_margin * span)
        dom = np.all(front <= opt, axis=1) & np.any(front < opt, axis=1)
        return bool(dom.any())


    # -- the objective ------------------------------------------------------------------
    def __call__(self, trial) -> tuple[float, ...]:
        from cost_models import NpuDesign

        storage = compat.storage_of(trial.study)
        if compat.heartbeat_enabled(storage):
            # Optuna's first heartbeat comes from a thread racing this method: without this
            # one, a kill right after "worker" is stored leaves a RUNNING trial that neither
            # Optuna's stale check (no heartbeat) nor our orphan check (has a worker) reaps
            compat.record_heartbeat(storage, compat.trial_id(trial))
        trial.set_user_attr("worker", self.worker)  # first: stale checks look for it
        # the trials as read once for this trial, after it was created (the samplers'
        # read): the index needs no storage call (see _claim for the waits)
        idx = self.index(trial.study, compat.trials_of_this_trial(trial.study))
        self._claim(trial, idx)
        with compat.batched_params(trial):  # the design's parameters: one storage write
            npu, policy, params = suggest_point(trial, self.spec)
            exits = suggest_exits(trial, self.spec) or None
        # the trial's user attrs, stored together where the trial ends (one write)
        attrs = {"exit_thresholds": exits} if exits else {}

        def invalid(exc: Exception) -> InvalidDesign:
            compat.set_user_attrs(trial, {**attrs, "invalid_design": str(exc)})
            return InvalidDesign(str(exc))

        try:
            design = NpuDesign.from_dict(npu, source=self.spec.source, prefix="space.npu.")
        except InputError as exc:
            raise invalid(exc) from None
        f = self.spec.fidelity
        # a COMPLETE trial of the study with exactly this trial's parameters
        twin = idx.twin(trial.params, trial.number)
        if twin is not None:  # deterministic on common traces: reuse, do not re-simulate
            for key in ("npu", "policy", "policy_params", "metrics", "area_mm2", "requests",
                        "short_values", "exit_thresholds"):
                if key in twin.user_attrs:
                    attrs[key] = twin.user_attrs[key]
            attrs["duplicate_of"] = twin.number
            compat.set_user_attrs(trial, attrs, twin.constraints.values()
                                  if twin.constraints else None)
            return tuple(twin.values)
        if f.short_requests:
            try:
                _, _, short_values, _ = self.measure(design, policy, params, f.short_requests,
                                                      exits)
            except InputError as exc:
                raise invalid(exc) from None
            attrs["short_values"] = list(short_values)
            if self._should_prune(idx, short_values):
                compat.set_user_attrs(trial, {**attrs, "npu": design.to_dict(),
                                              "policy": policy, "policy_params": params})
                raise optuna.TrialPruned("cannot reach the Pareto front (short trace)")
        try:
            metrics, area, values, cons = self.measure(design, policy, params, f.requests, exits)
        except InputError as exc:  # e.g. bcedge instances that do not divide pe_count
            raise invalid(exc) from None
        for i, v in enumerate(values):
            if not math.isfinite(v):
                compat.set_user_attrs(trial, {**attrs, "metrics": metrics})
                raise InvalidDesign(f"objective {self.spec.metric_names[i]} is {v}")
        attrs.update(npu=design.to_dict(), policy=policy, policy_params=jsonable(params),
                     metrics=metrics, area_mm2=area, requests=f.requests)
        # constraints where optuna-dashboard shows them (see compat.set_user_attrs)
        compat.set_user_attrs(trial, attrs, cons or None)
        return values
