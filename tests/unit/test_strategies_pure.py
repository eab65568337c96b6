"""The strategies are pure: from what the planner read (one RolloutInputs) to a plan of typed
steps, compared whole, with no cloud and no state store."""

from __future__ import annotations

from dataclasses import replace

from modelport.engine.steps import CreateRevision, DeleteRevision, Gate, Record, SetTraffic
from modelport.engine.strategies import RolloutInputs, plan_rollout
from modelport.provider import ImageRef, Observed, Revision, RevisionSpec, Size, Target
from modelport.testing.memory import MemoryProvider

IMAGE = ImageRef("sha256:" + "2" * 64, "sha256:" + "3" * 64)
REV = RevisionSpec(deployment="demo", revision="r0", image=IMAGE, size=Size(1, 2048), port=8080, env={}, secrets={},
                   min_instances=1, max_instances=1, concurrency=80, model_name="demo", model_version="2",
                   config="c2")
SERVING = Observed("demo", (Revision("r1", "sha256:" + "1" * 64, "c1", True), Revision("r0", "sha256:0", "c0", True)),
                   {"r1": 100})


def test_blue_green_swap_is_exactly_these_steps():
    provider, target = MemoryProvider(), Target("mem", "memory", None)
    plan = plan_rollout(RolloutInputs(kind="swap", provider=provider, target=target, observed=SERVING, revision=REV,
                                      strategy="blue-green", steps=(100,), keep=1, known=("r1",)))
    rev = {**{k: v for k, v in vars(replace(REV, revision="r2")).items() if k != "secret_values"},
           "image": vars(IMAGE), "size": vars(REV.size)}
    assert plan.steps == (
        CreateRevision(target="mem", desc=f"create revision r2 on mem (memory): image {IMAGE.digest[:19]}, "
                                          "1 vCPU / 2048 MiB", revision="r2", rev=rev,
                       resources={"revision": "r2", "image": IMAGE.image_id}),
        Gate(target="mem", desc="gate: r2 is ready and answers the smoke request", revision="r2", via="revision"),
        SetTraffic(target="mem", desc="traffic on mem: r1 100% -> r2 100%", weights={"r2": 100}, previous={"r1": 100}),
        Gate(target="mem", desc="gate: mem endpoint answers the smoke request", revision="r2", via="endpoint",
             weights={"r2": 100}),
        DeleteRevision(target="mem", desc="delete revision r0 on mem (beyond keep_revisions=1)", revision="r0"),
        Record(target="mem", desc="record the deployment", revision="r2", digest=IMAGE.digest, model_version="2",
               image_ref=None, config="c2"))
    assert [s.symbol for s in plan.steps] == ["+", "?", "~", "?", "-", " "]
    assert len(plan.changes) == 3 and not any(s.irreversible for s in plan.steps)


def test_the_serving_revision_plans_nothing():
    observed = replace(SERVING, revisions=(Revision("r1", IMAGE.digest, "c2", True),))
    plan = plan_rollout(RolloutInputs(kind="deploy", provider=MemoryProvider(), target=Target("mem", "memory", None),
                                      observed=observed, revision=REV, strategy="canary", steps=(50, 100), keep=1))
    assert plan.steps == () and plan.empty
