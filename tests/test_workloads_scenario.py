"""Scenarios and traces: validation, round trip, common random numbers, exit behaviour."""

import numpy as np
import pytest

from dse.cli import main
from dse.common import InputError
from workloads import Scenario, get_model, load_scenario
from workloads.exits import default_thresholds, difficulty_exits, mean_confidence, midpoints

BASE = {
    "name": "home",
    "streams": [
        {"name": "cam", "model": "resnet50", "arrival": "bursty", "rate_rps": 40.0,
         "slo_ms": 80.0, "priority": 1, "peak_to_base": 8.0},
        {"name": "voice", "model": "bert_base", "rate_rps": 10.0, "slo_x": 4.0},
        {"name": "door", "model": "resnet50", "arrival": "periodic", "rate_rps": 5.0,
         "slo_ms": 150.0, "exit_profile": [0.4, 0.3, 0.2, 0.1]},
    ],
}


def scenario(**changes):
    table = {**BASE, "streams": [dict(s) for s in BASE["streams"]]}
    table.update(changes)
    return Scenario.from_dict(table, source="home.toml")


def test_views():
    sc = scenario()
    assert sc.models == ["resnet50", "bert_base"]
    assert sc.stream_names == ("cam", "voice", "door")
    assert sc.priorities.tolist() == [1, 0, 0]
    assert sc.slo_ms({"bert_base": 20.0}).tolist() == [80.0, 80.0, 150.0]
    assert sc.scaled(2.5).rates_rps().tolist() == [100.0, 25.0, 12.5]
    with pytest.raises(InputError, match="isolated latency"):
        sc.slo_ms({})


def test_round_trip_and_toml(tmp_path):
    import tomllib

    sc = scenario()
    assert Scenario.from_dict(sc.to_dict()) == sc
    # the dict is TOML-ready: write it by hand-free means and load it back
    lines = ["[scenario]", f'name = "{sc.name}"']
    for s in sc.to_dict()["streams"]:
        lines.append("[[scenario.streams]]")
        for k, v in s.items():
            lines.append(f"{k} = {v!r}".replace("'", '"').replace("True", "true")
                         .replace("False", "false"))
    path = tmp_path / "s.toml"
    path.write_text("\n".join(lines) + "\n")
    assert tomllib.loads(path.read_text())["scenario"] == sc.to_dict()
    assert load_scenario(str(path)) == sc


def test_trace_shape_and_types():
    tr = scenario().trace(5000, seed=1)
    assert len(tr) == 5000
    assert tr.arrival_ms.dtype == np.float64 and tr.accuracy.dtype == np.float64
    for a in (tr.stream, tr.model, tr.exit, tr.stream_model):
        assert a.dtype == np.int32
    assert np.all(np.diff(tr.arrival_ms) >= 0)
    assert tr.stream_model.tolist() == [0, 1, 0]
    assert np.array_equal(tr.model, tr.stream_model[tr.stream])
    assert tr.model_names == ("resnet50", "bert_base")
    n_exits = np.array([4, 12, 4])[tr.stream]
    assert np.all((tr.exit >= 0) & (tr.exit < n_exits))


def test_same_seed_same_trace_bit_for_bit():
    a, b = scenario().trace(20_000, seed=7), scenario().trace(20_000, seed=7)
    for f in ("arrival_ms", "stream", "model", "exit", "accuracy"):
        assert getattr(a, f).tobytes() == getattr(b, f).tobytes()
    c = scenario().trace(20_000, seed=8)
    assert not np.array_equal(a.arrival_ms, c.arrival_ms)


def test_common_random_numbers_per_stream():
    # A stream's arrivals and exits depend on (seed, its name, its own parameters) only.
    a = scenario().trace(20_000, seed=3)
    table = {**BASE, "streams": [dict(s) for s in BASE["streams"]]}
    table["streams"][1]["rate_rps"] = 30.0           # change another stream
    table["streams"].reverse()                        # and the stream order
    b = Scenario.from_dict(table).trace(20_000, seed=3)
    for name in ("cam", "door"):
        ia, ib = a.stream_names.index(name), b.stream_names.index(name)
        ta, tb = a.arrival_ms[a.stream == ia], b.arrival_ms[b.stream == ib]
        ea, eb = a.exit[a.stream == ia], b.exit[b.stream == ib]
        k = min(ta.size, tb.size)
        assert k > 1000
        assert np.array_equal(ta[:k], tb[:k]) and np.array_equal(ea[:k], eb[:k])


def test_longer_trace_extends_shorter():
    short, long = scenario().trace(3000, seed=2), scenario().trace(30_000, seed=2)
    for f in ("arrival_ms", "stream", "exit", "accuracy"):
        assert np.array_equal(getattr(long, f)[:3000], getattr(short, f))


def test_mean_rates_and_exit_frequencies():
    sc = Scenario.from_dict({"streams": [
        {"name": "a", "model": "resnet18", "rate_rps": 300.0, "slo_ms": 50.0},
        {"name": "b", "model": "mobilenetv2", "rate_rps": 100.0, "slo_ms": 50.0,
         "exit_profile": [0.6, 0.1, 0.3]},
    ]})
    n = 200_000
    tr = sc.trace(n, seed=11)
    share_a = np.mean(tr.stream == 0)
    assert share_a == pytest.approx(0.75, abs=5 * np.sqrt(0.75 * 0.25 / n))
    assert n / tr.duration_ms * 1000 == pytest.approx(400.0, rel=5 / np.sqrt(n))
    for s, profile in ((0, get_model("resnet18").exit_profile), (1, (0.6, 0.1, 0.3))):
        k = int(np.sum(tr.stream == s))
        shares = tr.exit_shares(s)[: len(profile)]
        sigma = np.sqrt(np.asarray(profile) * (1 - np.asarray(profile)) / k)
        assert np.all(np.abs(shares - profile) < 5 * sigma + 1e-12), (shares, profile)
        # fixed profile: accuracy is the exit's accuracy
        acc = np.asarray(get_model(sc.streams[s].model).exit_accuracy)
        assert np.array_equal(tr.accuracy[tr.stream == s], acc[tr.exit[tr.stream == s]])


def test_difficulty_model_calibration():
    acc = get_model("resnet50").exit_accuracy
    q = midpoints(acc)
    for a, qe in zip(acc, q, strict=True):
        assert mean_confidence(qe, 10.0) == pytest.approx(a, abs=1e-9)
    # numerical check of the closed form
    d = (np.arange(100_000) + 0.5) / 100_000
    assert np.mean(1 / (1 + np.exp(-10 * (q[1] - d)))) == pytest.approx(acc[1], abs=1e-6)


def test_difficulty_default_thresholds_reproduce_profile():
    m = get_model("resnet50")
    th = default_thresholds(m.exit_profile, m.exit_accuracy)
    u = np.random.default_rng(0).random(400_000)
    exits, p_right = difficulty_exits(u, m.exit_accuracy, th)
    shares = np.bincount(exits, minlength=4) / u.size
    assert shares == pytest.approx(m.exit_profile, abs=0.005)
    # never exiting early gives the last exit's accuracy; exiting early costs accuracy
    never = difficulty_exits(u, m.exit_accuracy, [1.0, 1.0, 1.0])
    assert np.all(never[0] == 3)
    assert never[1].mean() == pytest.approx(m.exit_accuracy[-1], abs=0.003)
    assert p_right.mean() < never[1].mean()


def test_thresholds_trade_accuracy_for_depth():
    base = {"name": "s", "model": "bert_base", "rate_rps": 50.0, "slo_ms": 100.0}
    results = []
    for t in (0.5, 0.8, 0.95):
        sc = Scenario.from_dict({"streams": [{**base, "exit_thresholds": [t] * 11}]})
        tr = sc.trace(50_000, seed=1)
        results.append((tr.exit.mean(), tr.accuracy.mean()))
    depths, accs = zip(*results, strict=False)
    assert list(depths) == sorted(depths) and list(accs) == sorted(accs)
    assert accs[-1] - accs[0] > 0.05
    # default thresholds in difficulty mode: exit shares follow the model profile
    sc = Scenario.from_dict({"streams": [{**base, "exit_mode": "difficulty"}]})
    tr = sc.trace(100_000, seed=2)
    assert tr.exit_shares(0) == pytest.approx(get_model("bert_base").exit_profile, abs=0.01)


def test_replace_stream():
    sc = scenario().replace_stream("voice", exit_thresholds=[0.9] * 11)
    assert sc.streams[1].exit_mode == "difficulty"
    assert sc.streams[1].exit_thresholds == (0.9,) * 11
    with pytest.raises(InputError, match="did you mean 'voice'"):
        scenario().replace_stream("voise", priority=2)


def test_trace_replay_stream(tmp_path):
    csv = tmp_path / "rec.csv"
    csv.write_text("timestamp,stream\n" + "".join(f"{10 * i},x\n" for i in range(100)))
    (tmp_path / "s.toml").write_text(
        '[scenario]\n[[scenario.streams]]\nname = "rec"\nmodel = "alexnet"\n'
        'arrival = "trace"\npath = "rec.csv"\nstream = "x"\nslo_ms = 20\n')
    sc = load_scenario(str(tmp_path / "s.toml"))
    assert sc.rates_rps()[0] == pytest.approx(100.0)
    tr = sc.trace(250, seed=0)
    assert tr.arrival_ms.tolist() == [10.0 * i for i in range(250)]
    assert sc.scaled(2.0).trace(4, seed=0).arrival_ms.tolist() == [0.0, 5.0, 10.0, 15.0]
    assert Scenario.from_dict(sc.to_dict()) == sc


def bad(tmp_path, body, *extra_files):
    for name, text in extra_files:
        (tmp_path / name).write_text(text)
    path = tmp_path / "bad.toml"
    path.write_text(body)
    return str(path)


STREAM = '[scenario]\n[[scenario.streams]]\nname = "a"\nslo_ms = 50\n'


@pytest.mark.parametrize("body,expect", [
    (STREAM + 'model = "resnet51"\nrate_rps = 5\n',
     "streams[0].model: unknown model 'resnet51' (did you mean 'resnet50'?)"),
    (STREAM + 'model = "resnet50"\nrate_rps = 0\n', "streams[0].rate_rps: must be >= 0.001"),
    (STREAM + 'model = "resnet50"\nrate_rps = -3\n', "streams[0].rate_rps: must be >= 0.001"),
    (STREAM + 'model = "resnet50"\nrate_rps = 5\nexit_profile = [0.5, 0.2, 0.2, 0.2]\n',
     "exit_profile: exit profile sums to 1.1, not 1"),
    (STREAM + 'model = "resnet50"\nrate_rps = 5\nexit_profile = [0.5, 0.5]\n',
     "exit_profile: 2 shares for 4 exits"),
    (STREAM + 'model = "resnet50"\nrate_rps = 5\narival = "poisson"\n',
     "unknown key 'arival' (did you mean 'arrival'?)"),
    (STREAM + 'model = "resnet50"\nrate_rps = 5\narrival = "bursti"\n',
     "unknown arrival process 'bursti' (did you mean 'bursty'?)"),
    (STREAM + 'model = "resnet50"\nrate_rps = 5\nslo_x = 3\n', "exactly one of slo_ms"),
    (STREAM + 'model = "resnet50"\nrate_rps = 5\nexit_thresholds = [0.5]\n',
     "expected 3 thresholds"),
    (STREAM + 'model = "resnet50"\nrate_rps = 5\npeak_to_base = 2\n', "unknown key 'peak_to_base'"),
    (STREAM + 'model = "resnet50"\nrate_rps = "fast"\n', "expected a number"),
    (STREAM + 'model = "resnet50"\narrival = "trace"\npath = "e.csv"\n', "is empty"),
    (STREAM + 'model = "resnet50"\narrival = "trace"\npath = "u.csv"\n', "not sorted"),
    ('[scenario]\nname = "x"\n', "at least one [[scenario.streams]]"),
    ('[scenari]\n', "missing table [scenario] (found [scenari]: a typo?)"),
    ('[scenario\n', "invalid TOML"),
])
def test_bad_scenarios_one_line_exit_2(tmp_path, capsys, body, expect):
    path = bad(tmp_path, body, ("e.csv", ""), ("u.csv", "timestamp\n3\n1\n"))
    with pytest.raises(InputError) as err:
        load_scenario(path)
    assert expect in str(err.value)
    assert main(["workloads", "trace", path]) == 2
    out = capsys.readouterr()
    assert out.err.count("\n") == 1 and "Traceback" not in out.err
    assert out.err.startswith("dse: error: ") and path in out.err


def test_bad_trace_arguments():
    with pytest.raises(InputError):
        scenario().trace(0, seed=1)
    with pytest.raises(InputError):
        scenario().trace(10, seed=-1)
    with pytest.raises(InputError):
        scenario().scaled(0)


def test_missing_scenario_file(capsys):
    assert main(["workloads", "trace", "/nonexistent/s.toml"]) == 2
    assert "file not found" in capsys.readouterr().err
