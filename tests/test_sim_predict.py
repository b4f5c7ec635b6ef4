"""The exit-profile prediction tables (``dse.sim._predict``) against exhaustive
enumeration: every assignment of exits to the samples of a batch, weighted by its
probability, run pass by pass with the batch shrinking as members leave."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from dse.sim import expected_batch_ms
from dse.sim._predict import alive_shares, predictions

MS = np.array([[0.0, 1.0, 1.5, 1.8, 2.6],    # layer 0
               [0.0, 0.5, 0.6, 0.9, 1.0],    # layer 1: exit 0 ends here
               [0.0, 2.0, 2.0, 3.5, 3.6],    # layer 2 (not monotone in b: 3 -> 4 barely grows)
               [0.0, 0.3, 0.2, 0.4, 0.9],    # layer 3: exit 1 ends here (2 is faster than 1)
               [0.0, 1.1, 1.7, 2.2, 2.4]])   # layer 4: exit 2 ends here
EXITS = (1, 3, 4)
PROFILE = (0.25, 0.35, 0.4)


def _enumerate(n, start, profile):
    """(E[time of layers start..], E[member-ms of those layers]) for n samples active at
    the start of layer ``start``, their exits drawn from ``profile`` restricted to exits
    at or after ``start`` (renormalised), by enumerating every assignment."""
    allowed = [e for e, last in enumerate(EXITS) if last >= start]
    w = np.array([profile[e] for e in allowed])
    w = w / w.sum()
    t_exp = s_exp = 0.0
    for combo in itertools.product(range(len(allowed)), repeat=n):
        prob = float(np.prod(w[list(combo)]))
        last = [EXITS[allowed[c]] for c in combo]
        t = s = 0.0
        for layer in range(start, MS.shape[0]):
            active = sum(1 for x in last if x >= layer)
            t += MS[layer, active]
            s += active * MS[layer, active]
        t_exp += prob * t
        s_exp += prob * s
    return t_exp, s_exp


def test_alive_shares():
    assert alive_shares(5, EXITS, PROFILE).tolist() == pytest.approx([1, 1, 0.75, 0.75, 0.4, 0])
    assert alive_shares(5, EXITS, None).tolist() == [1, 1, 1, 1, 1, 0]


@pytest.mark.parametrize("n", [1, 2, 3, 4])
@pytest.mark.parametrize("start", [0, 2, 3, 4])
def test_remaining_tables_match_enumeration(n, start):
    _, tables = predictions(MS, EXITS, PROFILE)
    t, s = _enumerate(n, start, PROFILE)
    assert tables[0, start, n] == pytest.approx(t, rel=1e-12)
    assert tables[1, start, n] == pytest.approx(s, rel=1e-12)


@pytest.mark.parametrize("k", [1, 2, 3, 4])
def test_catchup_tables_match_enumeration(k):
    """epre[l, k] / epsum[l, k] = the first l layers of a fresh batch of k."""
    _, tables = predictions(MS, EXITS, PROFILE)
    full_t, full_s = _enumerate(k, 0, PROFILE)
    for cut in range(MS.shape[0] + 1):
        head_t = head_s = 0.0
        for combo in itertools.product(range(3), repeat=k):
            prob = float(np.prod([PROFILE[c] for c in combo]))
            for layer in range(cut):
                active = sum(1 for c in combo if EXITS[c] >= layer)
                head_t += prob * MS[layer, active]
                head_s += prob * active * MS[layer, active]
        assert tables[2, cut, k] == pytest.approx(head_t, rel=1e-12, abs=1e-15)
        assert tables[3, cut, k] == pytest.approx(head_s, rel=1e-12, abs=1e-15)
    assert tables[2, 5, k] == pytest.approx(full_t, rel=1e-12)
    assert tables[3, 5, k] == pytest.approx(full_s, rel=1e-12)


def test_worst_case_table_is_the_monotone_envelope():
    _, tables = predictions(MS, EXITS, PROFILE)
    env = np.maximum.accumulate(MS, axis=1)
    for cut in range(6):
        assert tables[4, cut].tolist() == pytest.approx(env[:cut].sum(axis=0).tolist())


def test_expected_batch_ms_and_no_exits():
    e = expected_batch_ms(MS, EXITS, PROFILE)
    assert e[2] == pytest.approx(_enumerate(2, 0, PROFILE)[0])
    # no exits predicted: the full batch time
    assert expected_batch_ms(MS, EXITS, None).tolist() == pytest.approx(MS.sum(axis=0).tolist())
