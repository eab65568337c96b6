"""Every AWS write primitive survives "applied, but the reply was lost" (the proxy's ``lost_reply``:
the emulator applies the request, the client sees a connection reset and botocore retries it).

One run drives the provider's write primitives as a deploy, a canary, a prune and a destroy use
them (shared infrastructure, two revisions with a client-side and a Secrets Manager secret and a
scaling policy, traffic moves, a revision deleted, everything destroyed) through the proxy,
with EVERY write call's first attempt losing its reply: each must be retried idempotently or
read before it is written again. The result must equal a run without faults, and nothing may be
left behind. ``test_fault_points`` runs whole operations with one fault at a time."""

from __future__ import annotations

import uuid
from types import SimpleNamespace

import pytest

from modelport.provider import ImageRef, RevisionSpec, Size, Target
from modelport_providers.aws.provider import AwsProvider
from modelport_providers.aws.settings import AwsSettings
from moto_fixtures.proxy import InterceptingProxy

from tests.faults.harness import Harness, is_read
from tests.providers.aws.helpers import tagged

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.timeout(900)]


@pytest.fixture
def proxy(aws_emulation):
    with InterceptingProxy(aws_emulation.endpoint_url, flavour="aws") as started:
        yield started


@pytest.fixture
def secret(aws_emulation):
    sm = aws_emulation.client("secretsmanager")
    arn = sm.create_secret(Name=f"lost-reply/{uuid.uuid4().hex[:6]}", SecretString="pw")["ARN"]
    yield arn
    sm.delete_secret(SecretId=arn, ForceDeleteWithoutRecovery=True)


def _revision(aws, name: str, revision: str, secret: str, config: str) -> RevisionSpec:
    digest = "sha256:" + "0" * 64  # not pushed: the tasks never start (their start is not the point)
    image = ImageRef(digest, digest, f"{aws.registry}/modelport/{name}@{digest}")
    return RevisionSpec(deployment=name, revision=revision, image=image, size=Size(0.25, 512), port=8080,
                        env={}, secrets={"DB": f"aws-sm:{secret[:-7]}", "TOKEN": "env:UNUSED"}, min_instances=1,
                        max_instances=2, concurrency=10, model_name="iris", model_version="1.0.0", config=config,
                        secret_values={"TOKEN": "t0k3n"})


def _primitives(aws, target: Target, name: str, secret: str) -> dict:
    """Deploy r1, canary to r2, prune r1, destroy: what the cloud showed before the destroy."""
    provider = AwsProvider()
    provider.ensure_infrastructure(target, name)
    provider.create_revision(target, _revision(aws, name, "r1", secret, "one"))
    provider.set_traffic(target, name, {"r1": 100})
    provider.create_revision(target, _revision(aws, name, "r2", secret, "two"))
    provider.set_traffic(target, name, {"r1": 50, "r2": 50})
    provider.set_traffic(target, name, {"r2": 100})
    provider.delete_revision(target, name, "r1")
    observed = provider.observe(target, name)
    shown = {"revisions": [(r.name, r.config) for r in observed.revisions], "traffic": dict(observed.traffic),
             "infrastructure": sorted(i.replace(name, "NAME") for i in observed.infrastructure),
             "resources": sorted((r.kind, r.revision or "") for r in provider.list_resources(target) if r.deployment == name),
             "policies": len(aws.client("application-autoscaling").describe_scaling_policies(
                 ServiceNamespace="ecs", ResourceId=f"service/mp-{name}/mp-{name}-r2")["ScalingPolicies"])}
    provider.destroy(target, name)
    return shown


def test_every_write_survives_a_lost_reply(aws_emulation, proxy, secret):
    aws = aws_emulation
    target = Target("aws", "aws", AwsSettings(endpoint_url=proxy.url, region=aws.region, deregistration_delay=2,
                                              registry=f"{aws.registry}/modelport"))
    clean_name, name = f"lr{uuid.uuid4().hex[:6]}", f"lr{uuid.uuid4().hex[:6]}"
    clean = _primitives(aws, target, clean_name, secret)
    writes: dict[str, int] = {}
    for key in proxy.calls():
        if not is_read(key):
            writes[key] = writes.get(key, 0) + 1
    assert len(writes) >= 25, writes  # every kind of write the provider makes (see below)
    for key, count in writes.items():
        for occurrence in range(1, 2 * count + 2, 2):  # odd ones: each first attempt; its retry passes
            proxy.fail_call(key, "lost_reply", occurrence)
    try:
        faulted = _primitives(aws, target, name, secret)
    finally:
        proxy.clear()
    assert faulted == clean
    assert {key for _index, key, _fault in proxy.faulted} == set(writes)
    assert {"ecs CreateService", "elasticloadbalancing CreateRule", "elasticloadbalancing CreateLoadBalancer",
            "secretsmanager CreateSecret", "ec2 CreateSecurityGroup", "logs CreateLogGroup", "iam CreateRole",
            "application-autoscaling PutScalingPolicy", "ecs DeleteService", "ecs DeleteCluster"} <= set(writes)
    assert tagged(aws, name) == [] and tagged(aws, clean_name) == []


def test_a_deploy_whose_create_service_reply_is_lost_completes(aws_emulation, proxy, modelport_home, tmp_path,
                                                                 monkeypatch):
    """The same fault inside a whole deploy (engine, gates, state) on the fault harness: ECS
    created the service, the reply was lost; the deploy completes with state and cloud agreeing
    and no orphan (one point: ``benchmarks/faults.py`` rotates every fault over every point)."""
    monkeypatch.setenv("MODELPORT_RETRY_MAX_WAIT", "1")
    rig = SimpleNamespace(cloud="aws", canary=True, proxy=proxy, settings={
        "provider": "aws", "endpoint_url": proxy.url, "region": aws_emulation.region,
        "registry": f"{aws_emulation.registry}/modelport", "deregistration_delay": 5})
    outcome, _calls = Harness(rig, tmp_path).run("deploy", ("ecs CreateService", 1), "lost_reply")
    assert outcome.reached and outcome.completed, outcome.to_dict()
    assert outcome.survived, outcome.problems
