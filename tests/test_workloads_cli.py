"""``dse workloads``: zoo listing, layer tables, arrival processes, trace summaries."""

import json
from importlib import resources

import pytest

from dse.cli import main
from workloads import get_model, list_models, load_scenario

EXAMPLE = str(resources.files("workloads").joinpath("data/scenarios/smart_home.toml"))


def run(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_list_json(capsys):
    code, out, _ = run(capsys, "workloads", "--json")
    assert code == 0
    rows = json.loads(out)
    assert [r["name"] for r in rows] == list_models()
    for r in rows:
        assert {"name", "layers", "gmacs", "params_m", "exits", "exit_profile",
                "exit_accuracy", "source"} <= set(r)
        m = get_model(r["name"])
        assert r["layers"] == len(m.layers) and r["exits"] == list(m.exit_layers)
        assert r["gmacs"] == pytest.approx(m.gmacs, abs=1e-4)


def test_list_text(capsys):
    code, out, _ = run(capsys, "workloads")
    assert code == 0 and "resnet50" in out and "bert_base" in out


def test_show(capsys):
    code, out, _ = run(capsys, "workloads", "show", "mobilenetv2", "--json")
    assert code == 0
    doc = json.loads(out)
    table = doc["layer_table"]
    assert len(table) == doc["layers"] == len(get_model("mobilenetv2").layers)
    assert [r["index"] for r in table if r["exit"] is not None] == doc["exits"]
    assert sum(r["macs"] for r in table) == pytest.approx(doc["gmacs"] * 1e9, rel=1e-4)
    code, out, _ = run(capsys, "workloads", "show", "bert_base")
    assert code == 0 and "encoder.11.ffn2" in out and "act x act" in out


def test_provenance_in_list_and_show(capsys):
    code, out, _ = run(capsys, "workloads", "--json")
    rows = {r["name"]: r for r in json.loads(out)}
    alex = rows["alexnet"]
    assert [r["kind"] for r in alex["provenance"]["exit_accuracy"]] == [
        "assumed", "assumed", "published"]
    assert alex["provenance"]["exit_profile"][0]["mapping"]
    assert rows["b_alexnet"]["confidence_slope"] == get_model("b_alexnet").confidence_slope
    code, out, _ = run(capsys, "workloads")
    line = next(ln for ln in out.splitlines() if ln.startswith("alexnet "))
    assert "0.66m 0.25m 0.09m / 0.30a 0.42a 0.57p" in line and "3,7,13 p" in line
    assert "marks: p published, m mapped" in out
    code, out, _ = run(capsys, "workloads", "show", "resnet50")
    assert "exit_accuracy[0-2]   a  no published per-exit ImageNet accuracy" in out
    assert "exit_accuracy[3]     p  torchvision model docs" in out
    code, out, _ = run(capsys, "workloads", "show", "b_alexnet", "--json")
    fit = json.loads(out)["threshold_fit"]
    assert len(fit["points"]) == 121 and fit["distinct_points"] == 91
    code, out, _ = run(capsys, "workloads", "show", "b_alexnet")
    assert "threshold fit: 91 distinct published operating points" in out


def test_show_unknown_model(capsys):
    code, out, err = run(capsys, "workloads", "show", "vgg16")
    assert code == 2 and out == ""
    assert err.count("\n") == 1
    assert "unknown model 'vgg16'" in err and "resnet18" in err and "bert_base" in err


def test_arrivals(capsys):
    code, out, _ = run(capsys, "workloads", "arrivals", "--json")
    assert code == 0
    procs = {p["name"]: p for p in json.loads(out)}
    assert set(procs) == {"poisson", "bursty", "spikes", "periodic", "diurnal", "trace"}
    assert {q["name"] for q in procs["bursty"]["params"]} == {"peak_to_base", "mean_on_ms",
                                                             "mean_off_ms"}


def test_trace_summary_of_example(capsys, tmp_path):
    out_csv = tmp_path / "t.csv"
    code, out, _ = run(capsys, "workloads", "trace", EXAMPLE, "--requests", "20000",
                       "--seed", "3", "--json", "--csv", str(out_csv))
    assert code == 0
    doc = json.loads(out)
    assert doc["requests"] == 20000
    sc = load_scenario(EXAMPLE)
    assert [s["name"] for s in doc["streams"]] == list(sc.stream_names)
    by = {s["name"]: s for s in doc["streams"]}
    assert by["sensors"]["index_of_dispersion"] < 0.2          # periodic
    assert by["living_room_cam"]["index_of_dispersion"] > 5    # bursty
    assert out_csv.read_text().startswith("arrival_ms,stream,model,exit,accuracy")
    code, _, err = run(capsys, "workloads", "trace", EXAMPLE, "--requests", "0")
    assert code == 2 and "--requests" in err
