"""``dse reproduce``: the quick run end to end (fairness of every tuned policy, held-out
seeds, the report files) and the qualitative result its held-out data support; the full
run behind the ``heavy`` marker."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from dse.cli import main
from dse.experiments.reproduce import CONVENTIONAL, FLUID_HW, ReproConfig
from dse.experiments.tuning import held_out_seeds, tuning_seeds
from dse.sim import POLICIES, get_policy


def _row(ratios: pd.DataFrame, *, arrival, versus: str, metric: str) -> pd.Series:
    f = ratios[ratios["workload"].isna() & (ratios["metric"] == metric)
               & (ratios["versus"] == versus)]
    f = f[f["arrival"].isna()] if arrival is None else f[f["arrival"] == arrival]
    assert len(f) == 1
    return f.iloc[0]


def _check_fair_and_complete(out, config: ReproConfig) -> None:
    tuning = pd.read_csv(out / "tuning.csv")
    assert set(tuning["policy"]) == set(POLICIES)  # every registered policy, tuned
    assert set(tuning["hardware"]) == {FLUID_HW, CONVENTIONAL}
    for r in tuning.itertuples():  # the same samples in flight for every batching policy
        batching = "max_batch" in get_policy(r.policy).params
        assert r.samples_in_flight == (32 if batching else 1), r
        assert r.score >= r.default_score  # tuning starts from the defaults
    records = pd.read_csv(out / "records.csv")
    nominal = records[records["shift"] == "none"]
    assert sorted(set(nominal["seed"])) == held_out_seeds(config.seed, config.held_out)
    assert not set(records["seed"]) & set(tuning_seeds(config.seed, config.tuning_runs))
    assert set(records["shift"]) == {"none", *(f"{x:+g}" for x in config.exit_shifts)}
    for name in ("results.md", "summary.csv", "ratios.csv", "sensitivity.csv",
                 "codesign.csv", "ablation_variants.csv", "ablation_utilisation.csv",
                 "satisfaction.html", "utilisation.html", "codesign.html",
                 "sensitivity.html"):
        assert (out / name).stat().st_size > 0, name


def test_quick_reproduction(tmp_path, capsys):
    """The quick run: every policy tuned with 32 samples in flight on tuning seeds and
    reported on disjoint held-out seeds.  What its held-out data support (4 seeds): exit-
    aware fluid on fluid hardware beats the best tuned baseline on conventional hardware
    in tail-latency SLO satisfaction under spiking load, and the best tuned baseline on
    the same hardware in tail satisfaction over all workloads, with the 95% interval of
    the paired difference above 0 in both cases (docs/results.md: the full run)."""
    out = tmp_path / "repro"
    assert main(["reproduce", "--quick", "--out", str(out)]) == 0
    stdout = capsys.readouterr().out
    assert "samples in flight: 32 for every batching policy" in stdout
    config = ReproConfig.quick()
    _check_fair_and_complete(out, config)
    assert f"Command: `dse reproduce --quick --out {out}`" in (out / "results.md").read_text()

    ratios = pd.read_csv(out / "ratios.csv")
    conv = _row(ratios, arrival="spikes", versus="best baseline, conventional hardware",
                metric="tail")
    assert conv["difference_lo"] > 0 and conv["ratio"] > 1
    same = _row(ratios, arrival=None, versus="best baseline, same hardware", metric="tail")
    assert same["difference_lo"] > 0 and same["ratio"] > 1
    for r in ratios.itertuples():  # rivals are baselines, never fluid itself
        assert not r.best_rival.startswith("fluid ")
        assert math.isnan(r.difference_lo) or r.difference_lo <= r.difference <= \
            r.difference_hi


def test_reproduce_needs_a_baseline(capsys, tmp_path):
    assert main(["reproduce", "--quick", "--policies", "fluid", "--out",
                 str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("dse: error: --policies: name at least one baseline")


@pytest.mark.heavy
def test_full_reproduction(tmp_path, capsys):
    """The full run (docs/results.md), with the qualitative results of its held-out data."""
    out = tmp_path / "repro"
    assert main(["reproduce", "--workers", "2", "--out", str(out)]) == 0
    capsys.readouterr()
    _check_fair_and_complete(out, ReproConfig())
    ratios = pd.read_csv(out / "ratios.csv")
    conv = _row(ratios, arrival="spikes", versus="best baseline, conventional hardware",
                metric="tail")
    assert conv["difference_lo"] > 0 and conv["ratio"] > 1
