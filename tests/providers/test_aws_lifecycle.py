"""The aws provider end to end on the AWS emulation: deploy, status, no-op plan, swaps with every
strategy (canary weights read back from the listener at each step), a failed gate rolling back,
rollback and destroy — predictions checked through the load balancer after every step.

The tests run in file order on one deployment (each step starts from the previous one's state).
"""

from __future__ import annotations

import time
from types import SimpleNamespace

import pytest

import modelport.api as mp
from modelport.errors import HealthGateFailed

from tests.providers.aws.helpers import (listener_weights, predict, session, tagged, tagged_revision, unique,
                                         write_spec)

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.timeout(900)]


@pytest.fixture(autouse=True)
def _home(modelport_home):
    """Builds and the OCI store shared by every aws test module."""


@pytest.fixture(scope="module")
def flow(aws_emulation, tmp_path_factory):
    aws = aws_emulation
    root = tmp_path_factory.mktemp("aws-flow")
    ctx = SimpleNamespace(aws=aws, name=unique("flow"), root=root, state=root / "state.sqlite", specs=[])
    ctx.settings = {"endpoint_url": aws.endpoint_url, "region": aws.region, "registry": f"{aws.registry}/modelport",
                    "deregistration_delay": 5}
    ctx.lb = f"mp-{ctx.name}"

    def spec(version: str, **options):
        folder = write_spec(root / f"spec{len(ctx.specs)}", ctx.name, version, ctx.settings, **options)
        ctx.specs.append(folder)
        return folder

    ctx.spec = spec
    ctx.session = lambda: session(ctx.state)
    ctx.tg = lambda revision: f"mp-{ctx.name}-{revision}"
    yield ctx
    if ctx.specs:  # whatever happened, leave nothing behind
        mp.destroy(ctx.name, "aws", spec=ctx.specs[0], session=ctx.session())


def _status(ctx) -> dict:
    rows = mp.status(ctx.name, "aws", session=ctx.session())
    assert len(rows) == 1
    return rows[0]


def test_deploy_serves_v1_through_the_load_balancer(flow):
    result = mp.deploy(flow.spec("v1"), "aws", session=flow.session())
    dns = flow.aws.client("elbv2").describe_load_balancers(Names=[flow.lb])["LoadBalancers"][0]["DNSName"]
    assert (result.status, result.revision, result.endpoint) == ("succeeded", "r1", f"http://{dns}")
    assert predict(result.endpoint) == "v1"
    assert listener_weights(flow.aws, flow.lb) == {flow.tg("r1"): 100}
    services = flow.aws.client("ecs").describe_services(cluster=f"mp-{flow.name}", services=[f"mp-{flow.name}-r1"],
                                                        include=["TAGS"])["services"]
    tags = {t["key"]: t["value"] for t in services[0]["tags"]}
    assert tags["modelport:deployment"] == flow.name and tags["modelport:revision"] == "r1"
    assert tags["modelport:digest"] == result.outputs["image"]["digest"]
    # min 1 < max 3: a target tracking policy on the revision's ALB requests (concurrency 80/s)
    policies = flow.aws.client("application-autoscaling").describe_scaling_policies(
        ServiceNamespace="ecs", ResourceId=f"service/mp-{flow.name}/mp-{flow.name}-r1")["ScalingPolicies"]
    config = policies[0]["TargetTrackingScalingPolicyConfiguration"]
    assert (len(policies), config["TargetValue"]) == (1, 4800.0)
    assert config["PredefinedMetricSpecification"]["ResourceLabel"].endswith(f"/targetgroup/{flow.tg('r1')}/"
                                                                              + _tg(flow, "r1").rsplit("/", 1)[-1])
    attributes = flow.aws.client("elbv2").describe_target_group_attributes(TargetGroupArn=_tg(flow, "r1"))
    assert {"Key": "deregistration_delay.timeout_seconds", "Value": "5"} in attributes["Attributes"]


def _tg(flow, revision: str) -> str:
    return flow.aws.client("elbv2").describe_target_groups(Names=[flow.tg(revision)])["TargetGroups"][0]["TargetGroupArn"]


def test_status_is_read_from_aws(flow):
    row = _status(flow)
    assert row["traffic"] == {"r1": 100} and row["drift"] == []
    assert [(r["name"], r["ready"], r["model_version"]) for r in row["revisions"]] == [("r1", True, "1.0.0")]
    assert row["endpoint"].startswith(f"http://mp-{flow.name}")
    assert predict(row["endpoint"]) == "v1"


def test_per_revision_route_reaches_that_revision(flow):
    revision = _status(flow)["revisions"][0]
    assert revision["endpoint"].endswith(":9001")  # the test listener of r1
    assert predict(revision["endpoint"], {"X-Modelport-Revision": "r1"}) == "v1"
    # The same route on the public listener: a header rule, evaluated by the emulated ALB as by a real one.
    assert predict(_status(flow)["endpoint"], {"X-Modelport-Revision": "r1"}) == "v1"
    elbv2 = flow.aws.client("elbv2")
    lb = elbv2.describe_load_balancers(Names=[flow.lb])["LoadBalancers"][0]
    main = next(item for item in elbv2.describe_listeners(LoadBalancerArn=lb["LoadBalancerArn"])["Listeners"]
                if item["Port"] == 80)
    rules = [r for r in elbv2.describe_rules(ListenerArn=main["ListenerArn"])["Rules"] if not r["IsDefault"]]
    tg = elbv2.describe_target_groups(Names=[flow.tg("r1")])["TargetGroups"][0]["TargetGroupArn"]
    assert [(r["Conditions"][0]["HttpHeaderConfig"], r["Actions"][0]["TargetGroupArn"]) for r in rules] == [
        ({"HttpHeaderName": "X-Modelport-Revision", "Values": ["r1"]}, tg)]


def test_logs_come_from_cloudwatch(flow):
    deadline = time.monotonic() + 60
    text = ""
    while not text and time.monotonic() < deadline:
        text = mp.logs(flow.name, "aws", revision="r1", session=flow.session())
        time.sleep(1)
    assert text.strip(), "no log line of r1 reached the CloudWatch log group"


def test_noop_redeploy_plans_nothing(flow):
    the_plan = mp.plan(flow.specs[0], "aws", session=flow.session())
    assert the_plan.empty, the_plan.render()
    result = mp.deploy(flow.specs[0], "aws", session=flow.session())
    assert result.status == "unchanged"
    assert predict(result.endpoint) == "v1"


def test_swap_all_at_once(flow):
    result = mp.swap(flow.spec("v2"), "aws", strategy="all-at-once", session=flow.session())
    assert result.revision == "r2"
    assert listener_weights(flow.aws, flow.lb) == {flow.tg("r2"): 100}
    assert predict(result.endpoint) == "v2"


def test_swap_blue_green_prunes_beyond_keep_revisions(flow):
    result = mp.swap(flow.spec("v1", env={"MARK": "blue-green"}), "aws", strategy="blue-green",
                     session=flow.session())
    assert result.revision == "r3"
    assert predict(result.endpoint) == "v1"
    row = _status(flow)
    assert [r["name"] for r in row["revisions"]] == ["r2", "r3"]  # keep_revisions = 1: r1 deleted
    assert tagged_revision(flow.aws, flow.name, "r1") == []
    assert tagged_revision(flow.aws, flow.name, "r3")  # (the check can see a revision's resources)


def test_canary_moves_listener_weights_10_50_100(flow):
    seen, answers = [], []
    steps: list = []

    def before_step(index: int, step) -> None:  # called before each step: the previous one has run
        if index and steps[index - 1].op == "set_traffic":
            seen.append(listener_weights(flow.aws, flow.lb))
            answers.append(predict(f"http://{_dns(flow)}"))

    spec = flow.spec("v2", env={"MARK": "canary"})
    steps.extend(mp.plan(spec, "aws", strategy="canary", steps=[10, 50, 100], session=flow.session()).steps)
    session = flow.session()
    session.before_step = before_step
    result = mp.swap(spec, "aws", strategy="canary", steps=[10, 50, 100], session=session)
    old, new = flow.tg("r3"), flow.tg("r4")
    assert result.revision == "r4"
    assert seen == [{old: 90, new: 10}, {old: 50, new: 50}, {new: 100}]
    assert set(answers) <= {"v1", "v2"} and answers[-1] == "v2"
    assert predict(result.endpoint) == "v2"


def test_header_rule_reaches_a_revision_that_has_no_traffic(flow):
    """After the canary r4 (v2) has all the traffic and r3 (v1) is kept: the main listener's
    default action answers v2, its rule on X-Modelport-Revision answers r3's v1."""
    row = _status(flow)
    assert row["traffic"] == {"r4": 100} and {"r3", "r4"} <= {r["name"] for r in row["revisions"]}
    assert {predict(row["endpoint"]) for _ in range(5)} == {"v2"}
    assert {predict(row["endpoint"], {"X-Modelport-Revision": "r3"}) for _ in range(5)} == {"v1"}
    assert predict(row["endpoint"], {"X-Modelport-Revision": "r9"}) == "v2"  # no rule matches: default


def _dns(flow) -> str:
    return flow.aws.client("elbv2").describe_load_balancers(Names=[flow.lb])["LoadBalancers"][0]["DNSName"]


def test_failed_gate_rolls_back(flow):
    bad = flow.spec("v1", env={"MARK": "bad"}, expected_shape=[3])  # iris answers shape [2]
    with pytest.raises(HealthGateFailed) as failure:
        mp.swap(bad, "aws", strategy="blue-green", gate_timeout=150, session=flow.session())
    assert "rolled back" in str(failure.value)
    row = _status(flow)
    assert row["traffic"] == {"r4": 100}
    assert "r5" not in [r["name"] for r in row["revisions"]]
    assert tagged_revision(flow.aws, flow.name, "r5") == []
    assert predict(row["endpoint"]) == "v2"


def test_task_that_cannot_start_fails_the_gate_and_rolls_back(flow):
    missing = "aws-sm:arn:aws:secretsmanager:us-east-1:123456789012:secret:does-not-exist-AbCdEf"
    bad = flow.spec("v1", env={"MARK": "no-secret"}, secrets={"DB_PASSWORD": missing}, local_targets=())
    with pytest.raises(HealthGateFailed):
        mp.swap(bad, "aws", strategy="blue-green", gate_timeout=45, session=flow.session())
    row = _status(flow)
    assert row["traffic"] == {"r4": 100} and [r["name"] for r in row["revisions"]] == ["r3", "r4"]
    assert predict(row["endpoint"]) == "v2"


def test_rollback_returns_traffic_to_the_previous_revision(flow):
    result = mp.rollback(flow.name, "aws", spec=flow.specs[0], session=flow.session())
    assert result.revision == "r3"
    assert listener_weights(flow.aws, flow.lb) == {flow.tg("r3"): 100}
    assert predict(result.endpoint) == "v1"


def test_destroy_leaves_no_tagged_resource(flow):
    providers = flow.session().providers
    mp.destroy(flow.name, "aws", spec=flow.specs[0], session=flow.session())
    assert tagged(flow.aws, flow.name) == []
    provider = providers.get("aws")
    from modelport.provider import Target
    from modelport_providers.aws.settings import AwsSettings
    target = Target("aws", "aws", AwsSettings(**flow.settings))
    assert [r for r in provider.list_resources(target) if r.deployment == flow.name] == []
    assert not provider.observe(target, flow.name).exists
    scaling = flow.aws.client("application-autoscaling")
    assert [p for p in scaling.describe_scaling_policies(ServiceNamespace="ecs")["ScalingPolicies"]
            if f"/mp-{flow.name}/" in p["ResourceId"]] == []
