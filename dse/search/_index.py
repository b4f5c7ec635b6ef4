"""Incremental per-process view of a study's trials (state counts, stored twins).

The study runner needs, before and during every trial, the number of trials per state,
the RUNNING trials (stale-trial checks, the n_trials claim) and whether a COMPLETE trial
with the same parameters is stored.  Rescanning every trial for each of these makes the
cost per trial grow linearly with the study.  :class:`TrialIndex` instead looks only at

* trials added since the last :meth:`TrialIndex.refresh` (trial numbers are contiguous
  and monotonic in every Optuna storage), and
* trials it last saw unfinished (WAITING/RUNNING; about one per worker),

because a finished trial never changes again in Optuna.  The cost of a refresh is
O(new + unfinished trials), independent of the size of the study.  Memory: one entry per
distinct parameter set plus, with a short trace, one short value vector per complete
feasible trial.
"""

from __future__ import annotations

import optuna
from optuna.trial import FrozenTrial, TrialState

from dse.search import _optuna_compat as compat


def params_key(params: dict) -> tuple:
    """Hashable key of a trial's parameters (equal keys <=> equal parameter dicts)."""
    return tuple(sorted(params.items()))


class TrialIndex:
    """Trials of one study seen so far by this process (see module doc)."""

    def __init__(self, study: optuna.Study):
        self.study = study
        self._storage = compat.storage_of(study)
        self._study_id = compat.study_id(study)
        self._n = 0                           # trials numbered < _n have been looked at
        self._open: dict[int, FrozenTrial] = {}    # number -> latest copy, unfinished
        self._finished = {s.name: 0 for s in TrialState}
        self._twins: dict[tuple, FrozenTrial] = {}  # params -> first COMPLETE with metrics
        self._short: list[list[float]] = []   # short_values of complete feasible trials

    def same_study(self, study: optuna.Study) -> bool:
        return (compat.storage_of(study) is self._storage
                and compat.study_id(study) == self._study_id)

    # -- updating ----------------------------------------------------------------------
    def refresh(self, trials: list | None = None, known=()) -> TrialIndex:
        """Take in the trials added or finished since the last call.

        ``trials``: every trial of the study by number, as already read (the one read
        Optuna caches per trial, ``_optuna_compat.trials_of_this_trial``); then the
        storage is not called.  ``known``: trials as stored after they finished (the one
        this process just ran), which need no read."""
        for t in known:
            if t.number in self._open and t.state.is_finished():
                del self._open[t.number]
                self._finish(t)
        if trials is not None:
            for number in list(self._open):
                self._update(trials[number])
            for t in trials[self._n:]:
                self._add(t)
            return self
        st = self._storage
        for t in list(self._open.values()):
            self._update(st.get_trial(compat.trial_id(t)))
        if self._n == 0:  # first look (e.g. a resumed study): one bulk read
            for t in self.study.get_trials(deepcopy=False):
                self._add(t)
        while True:
            try:
                trial_id = st.get_trial_id_from_study_id_trial_number(self._study_id,
                                                                      self._n)
            except KeyError:
                break
            self._add(st.get_trial(trial_id))
        return self

    def _update(self, fresh: FrozenTrial) -> None:
        """The latest copy of a trial last seen unfinished."""
        if fresh.state.is_finished():
            del self._open[fresh.number]
            self._finish(fresh)
        else:
            self._open[fresh.number] = fresh

    def _add(self, t: FrozenTrial) -> None:
        self._n = max(self._n, t.number + 1)
        if t.state.is_finished():
            self._finish(t)
        else:
            self._open[t.number] = t

    def _finish(self, t: FrozenTrial) -> None:
        self._finished[t.state.name] += 1
        if t.state != TrialState.COMPLETE:
            return
        attrs = t.user_attrs
        if "metrics" in attrs:
            key = params_key(t.params)
            have = self._twins.get(key)
            if have is None or t.number < have.number:  # the first trial, as a scan finds
                self._twins[key] = t
        if "short_values" in attrs and all(v <= 0 for v in t.constraints.values()):
            self._short.append(attrs["short_values"])

    # -- queries (as of the last refresh) ------------------------------------------------
    def counts(self) -> dict[str, int]:
        """Number of trials per state name."""
        out = dict(self._finished)
        for t in self._open.values():
            out[t.state.name] += 1
        return out

    def running(self) -> list[FrozenTrial]:
        """RUNNING trials, by number."""
        return [t for _, t in sorted(self._open.items()) if t.state == TrialState.RUNNING]

    def twin(self, params: dict, number: int) -> FrozenTrial | None:
        """The first COMPLETE trial (with metrics) with exactly ``params``, other than
        trial ``number``."""
        t = self._twins.get(params_key(params))
        return t if t is not None and t.number != number else None

    def short_values(self) -> list[list[float]]:
        """``short_values`` of the complete feasible trials."""
        return self._short
