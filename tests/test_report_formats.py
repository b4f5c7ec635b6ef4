"""Design files: TOML writer round trips, export/load, schema checks, t confidence intervals."""

from __future__ import annotations

import json
import math
import tomllib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_report_support import FRONT, make_study

from dse.common import InputError
from dse.metrics.stats import mean_ci, t_quantile
from dse.report import design_record, load_design, read_study, write_design, write_trials
from dse.report._toml import dumps

# ------------------------------------------------------------------ TOML writer

_keys = st.text(min_size=1, max_size=8)
_scalars = st.one_of(st.booleans(), st.integers(-2**63, 2**63 - 1),
                     st.floats(allow_nan=False), st.text(max_size=12))
_values = st.recursive(
    st.one_of(_scalars, st.lists(_scalars.filter(lambda v: not isinstance(v, bool)), max_size=4)),
    lambda inner: st.dictionaries(_keys, inner, max_size=4), max_leaves=20)


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(_keys, _values, max_size=5))
def test_toml_writer_round_trips(doc):
    assert tomllib.loads(dumps(doc)) == doc


def test_toml_writer_tables_arrays_and_specials():
    doc = {"schema_version": 1, "npu": {"stack_factors": [1, 2, 4], "clock_mhz": 0.1 + 0.2},
           "scenario": {"name": "a b", "streams": [{"name": "x", "rate_rps": 1e-7},
                                                   {"name": "y\n\"q\"", "slo": {"ms": 3}}]},
           "m": {"inf": math.inf, "ninf": -math.inf, "none": None, "del": "a\x7fb"}}
    back = tomllib.loads(dumps(doc))
    assert back["npu"]["clock_mhz"] == 0.1 + 0.2  # repr round-trips bit for bit
    assert back["scenario"]["streams"][1] == {"name": "y\n\"q\"", "slo": {"ms": 3}}
    assert back["m"]["inf"] == math.inf and back["m"]["ninf"] == -math.inf
    assert "none" not in back["m"] and back["m"]["del"] == "a\x7fb"
    nan = tomllib.loads(dumps({"x": math.nan}))["x"]
    assert math.isnan(nan)


# ------------------------------------------------------------------ Student t

@pytest.mark.parametrize("df, q975", [(1, 12.706), (2, 4.303), (5, 2.571), (10, 2.228),
                                      (30, 2.042), (120, 1.980)])
def test_t_quantiles_match_printed_tables(df, q975):
    # two-sided 95% critical values as printed in standard t tables (e.g. NIST/SEMATECH
    # e-Handbook of Statistical Methods, table 1.3.6.7.2), 3 decimals
    assert round(t_quantile(0.975, df), 3) == q975


def test_t_quantiles_match_scipy():
    stats = pytest.importorskip("scipy.stats")
    for df in (1, 3, 7, 19, 99, 1000):
        for p in (0.6, 0.9, 0.975, 0.995):
            assert t_quantile(p, df) == pytest.approx(stats.t.ppf(p, df), rel=1e-10)


def test_mean_ci():
    mean, lo, hi = mean_ci([1.0, 2.0, 3.0, 4.0, 5.0])
    half = 2.7764451051977987 * math.sqrt(2.5) / math.sqrt(5)  # t_{.975,4} s / sqrt(n)
    assert mean == 3.0 and lo == pytest.approx(3 - half) and hi == pytest.approx(3 + half)
    assert math.isnan(mean_ci([1.0])[1])


# ------------------------------------------------------------------ export and load

SCENARIO = {"name": "s", "streams": [{"name": "cam", "model": "resnet18",
                                      "arrival": "poisson", "rate_rps": 50.0, "slo_ms": 30.0}]}


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('fmt')}/s.db"
    return read_study(make_study(url, FRONT))


@pytest.mark.parametrize("ext", ["toml", "json"])
def test_export_round_trip(data, tmp_path, ext):
    trial = data.trial(2)
    record = design_record(data, trial, scenario=SCENARIO,
                           fidelity={"requests": 4000, "replications": 1, "warmup": 0.1})
    path = write_design(record, str(tmp_path / f"d.{ext}"))
    d = load_design(path)
    assert d.npu == trial.user_attrs["npu"]
    assert d.policy == trial.user_attrs["policy"]
    assert d.params == trial.user_attrs["policy_params"]
    assert d.metrics == trial.user_attrs["metrics"]
    assert d.scenario == SCENARIO
    assert d.area_mm2 == trial.user_attrs["area_mm2"]
    p = d.provenance
    assert (p["trial"], p["study"], p["seed"], p["spec_hash"]) == (2, "synthetic", 11,
                                                                    "0123456789abcdef")
    assert p["requests"] == 1000  # the trial's own attr wins over the spec fidelity
    assert p["dse_version"] == "0.1.0" and d.seed == 11


def _write(tmp_path, name, text: str | bytes):
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return str(path)


def test_design_file_errors(data, tmp_path):
    good = design_record(data, data.trial(1), scenario=SCENARIO)
    with pytest.raises(InputError, match="file not found"):
        load_design(str(tmp_path / "missing.toml"))
    with pytest.raises(InputError, match="TOML or JSON"):
        load_design(_write(tmp_path, "d.pkl", b"\x80\x04K\x01."))
    with pytest.raises(InputError, match="not a UTF-8"):
        load_design(_write(tmp_path, "g.toml", bytes(range(256))))
    with pytest.raises(InputError, match="not valid JSON"):
        load_design(_write(tmp_path, "g.json", "{nope"))
    with pytest.raises(InputError, match="newer dse"):
        load_design(_write(tmp_path, "n.json", json.dumps({**good, "schema_version": 2})))
    missing = {k: v for k, v in good.items() if k != "npu"}
    with pytest.raises(InputError, match="missing required field 'npu'") as exc:
        load_design(_write(tmp_path, "m.json", json.dumps(missing)))
    assert "\n" not in str(exc.value)
    with pytest.raises(InputError, match="did you mean 'metrics'"):
        load_design(_write(tmp_path, "u.json", json.dumps({**good, "metrcs": {}})))
    bad_policy = {**good, "policy": {"slack_ms": 1.0}}
    with pytest.raises(InputError, match="policy.name"):
        load_design(_write(tmp_path, "p.json", json.dumps(bad_policy)))
    with pytest.raises(InputError, match="does not exist"):
        write_design(good, str(tmp_path / "nodir" / "d.toml"))
    with pytest.raises(InputError, match="extension"):
        write_design(good, str(tmp_path / "d.yaml"))


def test_trials_table(tmp_path):
    from dse.report import load_study

    url = f"sqlite:///{tmp_path}/t.db"
    make_study(url, FRONT)
    study = load_study("synthetic", url)
    import optuna

    study.add_trial(optuna.trial.create_trial(state=optuna.trial.TrialState.FAIL))
    frame = write_trials(study, str(tmp_path / "t.csv"))
    assert len(frame) == len(FRONT) + 1
    assert frame["state"].tolist()[-1] == "FAIL" and not frame["pareto"].tolist()[-1]
    assert {"number", "slo_attainment", "area_mm2", "pareto", "npu.pe_count",
            "metrics.overall.p95_latency_ms", "area_mm2.total", "params.slack"} <= set(frame)
    assert frame["pareto"].tolist() == [True] * 5 + [False] * 3
    pytest.importorskip("pyarrow")
    frame2 = write_trials(study, str(tmp_path / "t.parquet"))
    import pandas as pd

    back = pd.read_parquet(tmp_path / "t.parquet")
    pd.testing.assert_series_equal(back["area_mm2.total"], frame2["area_mm2.total"])


def test_stored_study_loads_with_plain_optuna(tmp_path):
    """What optuna-dashboard and optuna.load_study see: named objectives and all attrs."""
    import optuna

    url = f"sqlite:///{tmp_path}/o.db"
    make_study(url, FRONT)
    study = optuna.load_study(study_name="synthetic", storage=url)
    assert study.metric_names == ["slo_attainment", "area_mm2"]
    assert study.user_attrs["spec_hash"] == "0123456789abcdef"
    t = study.trials[0]
    assert {"npu", "policy", "policy_params", "metrics", "area_mm2"} <= set(t.user_attrs)
