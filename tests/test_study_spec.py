"""Study spec validation: every mistake is one InputError naming file, TOML path, allowed."""

from __future__ import annotations

import glob
import os

import pytest

from dse.cli import main
from dse.common import InputError
from dse.spec import load_spec, parse_spec

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

BASE = """
[study]
name = "t"
n_trials = 4
seed = 3
{study_extra}

[scenario]
name = "one"
[[scenario.streams]]
name = "cam"
model = "mobilenetv2"
arrival = "poisson"
rate_rps = 100
slo_ms = 30

[fidelity]
requests = 200

[space.npu]
{npu}

[space.policy]
{policy}
"""


def spec_text(study_extra="", npu='pe_count = [32, 64]', policy='name = "fluid"'):
    return BASE.format(study_extra=study_extra, npu=npu, policy=policy)


def err(text) -> InputError:
    with pytest.raises(InputError) as info:
        parse_spec(text, source="s.toml")
    return info.value


@pytest.mark.parametrize("path", sorted(glob.glob(os.path.join(ROOT, "studies", "*.toml"))))
def test_shipped_specs_load(path):
    spec = load_spec(path)
    assert spec.objectives and spec.n_trials
    assert len(spec.spec_hash) == 16


def test_defaults():
    spec = parse_spec(spec_text(), source="s.toml", base=ROOT)
    assert spec.sampler == "nsga2"
    assert spec.objectives == [("slo_attainment", "maximize"), ("area_mm2", "minimize")]
    assert spec.storage_url.endswith("/results/t/study.db")
    assert spec.storage_url.startswith("sqlite:////")


def test_unknown_objective_names_path_and_suggests():
    e = err(spec_text('objectives = [{metric = "slo_attainmnt", direction = "maximize"}]'))
    assert e.source == "s.toml" and e.field == "study.objectives[0].metric"
    assert "did you mean 'slo_attainment'" in str(e) and "area_mm2" in e.allowed


def test_unknown_sampler():
    e = err(spec_text('sampler = "nsga3"'))
    assert e.field == "study.sampler" and "nsga2" in e.allowed and "grid" in e.allowed


@pytest.mark.parametrize("options, field, words", [
    ("mutation_prob = 2.0", "mutation_prob", "<= 1.0"),
    ("local_search_prob = -0.1", "local_search_prob", ">= 0.0"),
    ("population_size = 1", "population_size", ">= 2"),
    ('population_size = "x"', "population_size", "integer"),
])
def test_sampler_option_values_are_checked(options, field, words):
    e = err(spec_text(f"sampler_options = {{ {options} }}"))
    assert e.field == "study.sampler_options." + field and words in str(e)


def test_unknown_npu_field_did_you_mean():
    e = err(spec_text(npu="pe_cont = [32, 64]"))
    assert e.field == "space.npu.pe_cont" and "pe_count" in str(e)


def test_empty_range():
    e = err(spec_text(npu="pe_count = { low = 64, high = 32 }"))
    assert e.field == "space.npu.pe_count" and "empty range" in str(e)


def test_empty_list():
    e = err(spec_text(npu="pe_width = []"))
    assert e.field == "space.npu.pe_width"


def test_contradictory_space():
    # no stack factor list divides any PE count: no valid design at all
    e = err(spec_text(npu="pe_count = [6, 10]\nstack_factors = [[4], [1, 4]]"))
    assert "contradictory space" in str(e) and e.field == "space.npu.stack_factors"


def test_partly_invalid_space_is_accepted():
    # 6 PEs cannot stack by 4 but 8 can: allowed, invalid points fail at run time
    parse_spec(spec_text(npu="pe_count = [6, 8]\nstack_factors = [[1, 4]]"), source="s.toml")


def test_policy_param_range_checked_against_declaration():
    e = err(spec_text(policy='name = "fluid"\n[space.policy.fluid]\n'
                             'refill_level = { low = 0.0, high = 2.0 }'))
    assert e.field == "space.policy.fluid.refill_level" and "0.0 .. 1.0" in e.allowed


def test_params_for_unsearched_policy():
    e = err(spec_text(policy='name = "fluid"\n[space.policy.static]\nmax_batch = 4'))
    assert e.field == "space.policy.static"


def test_unknown_policy():
    e = err(spec_text(policy='name = ["fluid", "fluidd"]'))
    assert e.field == "space.policy.name[1]" and "fcfs" in e.allowed


def test_contradictory_constraints():
    e = err(spec_text("[study.constraints]\nmin_accuracy = 0.9\nmax_accuracy = 0.8"))
    assert "contradictory" in str(e)


def test_unknown_constraint():
    e = err(spec_text("[study.constraints]\nmax_aera_mm2 = 3.0"))
    assert e.field == "study.constraints.max_aera_mm2" and "max_area_mm2" in str(e)


def test_grid_needs_finite_dims():
    e = err(spec_text('sampler = "grid"', policy='name = "fluid"\n[space.policy.fluid]\n'
                                                 'refill_level = { low = 0.0, high = 1.0 }'))
    assert e.field == "space.policy.fluid.refill_level" and "grid" in str(e)


def test_grid_size_is_default_n_trials():
    text = spec_text('sampler = "grid"', npu='pe_count = [32, 64]\nbatching = ["r", "fluid"]',
                     policy='name = "static"\n[space.policy.static]\n'
                            'max_batch = { low = 2, high = 6, step = 2 }')
    spec = parse_spec(text.replace("n_trials = 4\n", ""), source="s.toml")
    assert spec.n_trials == 2 * 2 * 3
    assert spec.space.grid() == {"pe_count": [32, 64], "batching": ["r", "fluid"],
                                 "static.max_batch": [2, 4, 6]}


def test_step_must_divide_int_range():
    e = err(spec_text(npu="pe_count = { low = 16, high = 100, step = 16 }"))
    assert e.field == "space.npu.pe_count"


def test_short_trace_must_be_shorter():
    e = err(spec_text().replace("requests = 200", "requests = 200\nshort_requests = 200"))
    assert e.field == "fidelity.short_requests"


def test_spec_hash_ignores_budget_but_not_space():
    a = parse_spec(spec_text(), source="s.toml")
    b = parse_spec(spec_text().replace("n_trials = 4", "n_trials = 40\ntimeout = 60"),
                   source="s.toml")
    c = parse_spec(spec_text(npu="pe_count = [32, 128]"), source="s.toml")
    assert a.spec_hash == b.spec_hash != c.spec_hash


def test_bad_toml_and_missing_file(tmp_path):
    p = tmp_path / "bad.toml"
    p.write_text("[study\nname = 1")
    with pytest.raises(InputError, match="invalid TOML"):
        load_spec(p)
    with pytest.raises(InputError, match="no such spec file"):
        load_spec(tmp_path / "missing.toml")


def test_cli_prints_one_line_and_exits_2(tmp_path, capsys):
    p = tmp_path / "s.toml"
    p.write_text(spec_text('sampler = "annealing"'))
    assert main(["run", str(p), "--quiet"]) == 2
    out = capsys.readouterr()
    lines = out.err.strip().splitlines()
    assert len(lines) == 1 and "study.sampler" in lines[0] and "Traceback" not in out.err
    assert not (tmp_path / "results").exists()  # nothing created for a bad spec


def test_gp_sampler_without_pytorch_is_a_spec_error():
    import importlib.util

    if importlib.util.find_spec("torch") is not None:
        pytest.skip("PyTorch is installed: the gp sampler is available")
    e = err(spec_text('sampler = "gp"'))
    assert e.field == "study.sampler" and "PyTorch" in str(e) and "gp" not in e.allowed
