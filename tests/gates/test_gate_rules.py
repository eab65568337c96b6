"""The gates' rules as pure functions: certain breaches, /metrics readings, spec checks."""

from __future__ import annotations

import math

import pytest

from modelport.engine import promstats
from modelport.engine.analysis import Analysis, Sample, breach, metrics_breach, own_figures, quantile
from modelport.errors import SpecErrors
from modelport.spec import load_spec

from tests.engine.conftest import write_spec

A = Analysis(bake=10, load=10, max_error_rate=0.05, max_p99_ms=100)


def ok(ms: float) -> Sample:
    return Sample("2", True, ms / 1000)


def test_breach_is_judged_early_only_when_certain():
    # 100 requests expected: 5 errors are still within 5%, the 6th is certainly beyond
    five = [ok(5)] * 10 + [Sample(None, False, 0.01)] * 5
    assert breach(A, five, expected=100, final=False) is None
    assert "error rate" in breach(A, five + [Sample(None, False, 0.01)], expected=100, final=False)
    # at the end the same errors are judged over what was seen
    assert "error rate" in breach(A, five, expected=100, final=True)
    one_slow = [ok(5)] * 10 + [ok(300)]
    assert breach(A, one_slow, expected=100, final=False) is None
    assert "p99" in breach(A, one_slow + [ok(300)], expected=100, final=False)


def test_own_figures_and_quantile():
    assert quantile([], 0.99) is None and quantile([1, 2, 3, 4], 0.5) == 2
    figures = own_figures([ok(10)] * 99 + [ok(500)])
    assert figures == {"requests": 100, "errors": 0, "error_rate": 0.0, "p50_ms": 10.0, "p99_ms": 10.0}


EXPOSITION = """\
# TYPE modelport_requests_total counter
modelport_requests_total{model="m",version="2",route="/v2/models/{name}/infer",status="200"} 90.0
modelport_requests_total{model="m",version="2",route="/v2/models/{name}/infer",status="500"} 10.0
modelport_requests_total{model="m",version="2",route="/v2/health/ready",status="200"} 40.0
# TYPE modelport_request_duration_seconds histogram
modelport_request_duration_seconds_bucket{model="m",version="2",route="/v2/models/{name}/infer",le="0.1"} 80.0
modelport_request_duration_seconds_bucket{model="m",version="2",route="/v2/models/{name}/infer",le="0.5"} 95.0
modelport_request_duration_seconds_bucket{model="m",version="2",route="/v2/models/{name}/infer",le="+Inf"} 100.0
modelport_request_duration_seconds_bucket{model="m",version="2",route="/v2/health/ready",le="+Inf"} 40.0
"""


def test_metrics_reading_counts_predictions_only():
    reading = promstats.parse(EXPOSITION)
    assert (reading.requests, reading.errors) == (100, 10)
    assert reading.buckets == {0.1: 80, 0.5: 95, math.inf: 100}
    assert reading.quantile(0.5) == pytest.approx(0.0625)
    since = reading.since(promstats.Reading(50, 0, {0.1: 50, 0.5: 50, math.inf: 50}))
    assert (since.requests, since.errors) == (50, 10)
    assert "5xx" in metrics_breach(A, since, expected=0, final=True)
    # only requests whose whole bucket is beyond max_p99_ms count as slower: with 80 ms the 0.1 s
    # bucket may hold faster ones, so 20 of 100 are certainly slower; with 300 ms, the 5 above 0.5 s
    assert "20 of 100 requests slower" in metrics_breach(Analysis(bake=1, max_error_rate=1, max_p99_ms=80),
                                                         reading, 0, True)
    assert "5 of 100 requests slower" in metrics_breach(Analysis(bake=1, max_error_rate=1, max_p99_ms=300),
                                                        reading, 0, True)
    assert metrics_breach(Analysis(bake=1, max_error_rate=1, max_p99_ms=60_000), reading, 0, True) is None
    with pytest.raises(ValueError):
        promstats.parse("# nothing here\n")


def fields_of(folder):
    with pytest.raises(SpecErrors) as caught:
        load_spec(folder)
    return {e.field: e for e in caught.value.errors}


def test_spec_checks_the_gate_keys(tmp_path):
    folder = write_spec(tmp_path / "a", "1", extra='[rollout.analysis]\nbake = 5\nmax_p99_ratio = 0.5\n'
                                                  'max_eror_rate = 1\n[validation]\ndataset = "eval.jsonl"\n')
    (folder / "eval.jsonl").write_text('{"inputs": [{"name": "x"}], "expected": [1]}\nnot json\n')
    found = fields_of(folder)
    assert "rollout.analysis.max_eror_rate" in found and "max_error_rate" in found["rollout.analysis.max_eror_rate"].hint
    assert "rollout.analysis.max_p99_ratio" in found
    folder.joinpath("modelport.toml").write_text(folder.joinpath("modelport.toml").read_text()
                                                 .replace("max_p99_ratio = 0.5\nmax_eror_rate = 1\n", ""))
    found = fields_of(folder)
    assert "line 2" in found["validation.dataset"].message
    folder.joinpath("eval.jsonl").write_text('{"inputs": [{"name": "x"}], "expected": [1]}\n')
    assert load_spec(folder).spec.validation.dataset == "eval.jsonl"
    folder.joinpath("modelport.toml").write_text(folder.joinpath("modelport.toml").read_text().replace(
        'dataset = "eval.jsonl"\n', 'dataset = "eval.jsonl"\nmin_acuracy = 0.9\n'))
    assert "min_accuracy" in fields_of(folder)["validation.min_acuracy"].hint
    no_sample = write_spec(tmp_path / "b", "1", extra="[rollout.analysis]\nbake = 5\nload = 3\n")
    text = no_sample.joinpath("modelport.toml").read_text().replace('sample_input = "sample.json"\n', "")
    no_sample.joinpath("modelport.toml").write_text(text)
    assert "rollout.analysis.load" in fields_of(no_sample)
