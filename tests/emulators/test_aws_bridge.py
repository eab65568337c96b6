"""The AWS emulation's data planes, driven only through boto3 against moto and plain HTTP.

ECR stand-in mirrored into moto's ECR; ECS services run as containers; an ALB's DNS name answers
with the listener's current weights; secrets reach the container; deleted services disappear.
"""

from __future__ import annotations

import hashlib
import json
import re
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import docker
import docker.errors
import httpx
import pytest
from botocore.exceptions import ClientError

from moto_fixtures.aws import ACCOUNT_ID, AwsEmulation, Credentials
from moto_fixtures.aws.bridge import RETRY_AFTER
from moto_fixtures.aws.containers import OWNER, SERVICE
from moto_fixtures.aws.hosts import HostsBlock
from moto_fixtures.aws.rules import RequestFacts, chosen_action, forward_weights
from moto_fixtures.aws.samples import (
    PORT, build_hello, create_service, default_network, execution_role, forward, push,
    register_hello, relabel_architecture, target_group, tiny_image,
)
from moto_fixtures.aws.taskdef import TaskStartError, health_path, local_image, resolve_secret

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.timeout(600)]
SECRET_VALUE = "s3cr3t-" + uuid.uuid4().hex[:8]
DEREGISTER_EVENT = "before-parameter-build.elastic-load-balancing-v2.DeregisterTargets"
DRAIN = 3  # seconds: the sample target groups' deregistration delay (a deleted service drains that long)


@pytest.fixture(scope="module")
def engine(docker_client, base_image):
    """The session's Docker engine, with the base image the sample images are built on."""
    return docker_client


@pytest.fixture(scope="module")
def hello(engine, base_image, aws_emulation):  # noqa: F811
    """v1 and v2 of the hello image pushed to the ECR stand-in; the engine keeps no copy."""
    repo_name = f"bridge-test/hello-{uuid.uuid4().hex[:6]}"
    aws_emulation.client("ecr").create_repository(repositoryName=repo_name)
    remote = f"{aws_emulation.registry}/{repo_name}"
    digests = {}
    for version in ("v1", "v2"):
        local = build_hello(engine, version, f"moto-fixtures-hello:{version}-{repo_name[-6:]}",
                            base_image)
        digests[version] = push(engine, local, remote, version)
        for ref in (local, f"{remote}:{version}"):
            engine.images.remove(ref, noprune=False)  # so the bridge must pull from the registry
    yield {"repository": repo_name, "remote": remote, "digests": digests}
    for digest in digests.values():
        try:
            engine.images.remove(f"{remote}@{digest}", force=True)
        except docker.errors.ImageNotFound:
            pass


def versions_seen(url: str, requests: int, headers: dict | None = None) -> list[str]:
    """The ``version`` each of ``requests`` GETs of ``url`` answered."""
    with httpx.Client(timeout=10, headers=headers) as client:
        return [client.get(url).json()["version"] for _ in range(requests)]


def healthy(name: str):
    """Predicate for ``bridge.wait_for``: the service ``name`` has a healthy task."""
    return lambda bridge: bool(bridge.service(name) and bridge.service(name).healthy)


# ---- ECR ------------------------------------------------------------------------------------

def test_push_to_stand_in_is_recorded_in_moto_ecr(engine, aws_emulation):  # noqa: F811
    ecr = aws_emulation.client("ecr")
    repo = f"mirror-test/{uuid.uuid4().hex[:8]}"
    ecr.create_repository(repositoryName=repo)
    local = tiny_image(engine, "moto-fixtures-tiny", repo[-8:], repo.encode())
    remote = f"{aws_emulation.registry}/{repo}"
    try:
        digest = push(engine, local, remote, "1.0")
        assert aws_emulation.mirror.wait_for(repo, digest).outcome == "mirrored"
        details = ecr.describe_images(repositoryName=repo)["imageDetails"]
        assert [(d["imageDigest"], d["imageTags"]) for d in details] == [(digest, ["1.0"])]
        image = ecr.batch_get_image(repositoryName=repo, imageIds=[{"imageDigest": digest}])
        manifest = image["images"][0]["imageManifest"].encode()
        assert "sha256:" + hashlib.sha256(manifest).hexdigest() == digest
    finally:
        for ref in (local, f"{remote}:1.0"):
            engine.images.remove(ref, force=True)


def test_push_to_repository_missing_in_moto_is_not_mirrored(engine, aws_emulation):  # noqa: F811
    ecr = aws_emulation.client("ecr")
    repo = f"mirror-test/missing-{uuid.uuid4().hex[:8]}"
    local = tiny_image(engine, "moto-fixtures-tiny", repo[-8:], repo.encode())
    remote = f"{aws_emulation.registry}/{repo}"
    try:
        digest = push(engine, local, remote, "1.0")
        assert aws_emulation.mirror.wait_for(repo, digest).outcome == "no-repository"
        with pytest.raises(ecr.exceptions.RepositoryNotFoundException):
            ecr.describe_images(repositoryName=repo)
    finally:
        for ref in (local, f"{remote}:1.0"):
            engine.images.remove(ref, force=True)


# ---- ECS + ALB --------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def stack(aws_emulation, hello):  # noqa: F811
    """Cluster, ALB with a 50/50 listener, two target groups, two Fargate services (v1, v2)."""
    aws = aws_emulation
    ecs, elbv2 = aws.client("ecs"), aws.client("elbv2")
    vpc, subnets, group = default_network(aws.client("ec2"))
    suffix = uuid.uuid4().hex[:6]
    secret_arn = aws.client("secretsmanager").create_secret(
        Name=f"bridge-test/db-{suffix}", SecretString=SECRET_VALUE)["ARN"]
    cluster = ecs.create_cluster(clusterName=f"bridge-{suffix}")["cluster"]["clusterArn"]
    digests = hello["digests"]
    # v1 by the stand-in's address, v2 by its ECR URI: both must be pulled from the stand-in.
    log_group = f"/modelport/bridge-{suffix}"
    aws.client("logs").create_log_group(logGroupName=log_group)
    role = execution_role(aws.client("iam"))
    td_v1 = register_hello(ecs, f"hello-v1-{suffix}", f"{hello['remote']}@{digests['v1']}",
                           {"GREETING": "hi"}, {"DB_PASSWORD": secret_arn}, log_group, role)
    ecr_uri = f"{ACCOUNT_ID}.dkr.ecr.{aws.region}.amazonaws.com/{hello['repository']}"
    td_v2 = register_hello(ecs, f"hello-v2-{suffix}", f"{ecr_uri}@{digests['v2']}", {}, role=role)
    lb = elbv2.create_load_balancer(Name=f"bridge-{suffix}", Subnets=subnets[:2],
                                    SecurityGroups=[group], Type="application")["LoadBalancers"][0]
    tgs = [target_group(elbv2, f"bridge-{suffix}-{v}", vpc, DRAIN, HealthCheckPath="/v2/health/ready")
           for v in ("v1", "v2")]
    listener = elbv2.create_listener(LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTP",
                                     Port=80, DefaultActions=forward((tgs[0], 50), (tgs[1], 50)))
    services = [create_service(ecs, cluster, f"hello-{v}", td, tg, subnets, group)
                for v, td, tg in (("v1", td_v1, tgs[0]), ("v2", td_v2, tgs[1]))]
    yield {"cluster": cluster, "lb": lb, "tgs": tgs, "services": services,
           "listener": listener["Listeners"][0]["ListenerArn"], "td": {"v1": td_v1, "v2": td_v2},
           "url": f"http://{lb['DNSName']}:80", "subnets": subnets, "group": group,
           "log_group": log_group, "role": role}
    for arn in ecs.list_services(cluster=cluster)["serviceArns"]:
        ecs.delete_service(cluster=cluster, service=arn, force=True)
    elbv2.delete_load_balancer(LoadBalancerArn=lb["LoadBalancerArn"])
    # The containers go before the module's images are removed.
    aws.bridge.wait_for(lambda b: not any(s.cluster_arn == cluster for s in b.status().values()),
                        60, "stack's tasks removed")


def test_services_run_and_are_registered_healthy(aws_emulation, stack):  # noqa: F811
    bridge = aws_emulation.bridge
    bridge.wait_for(lambda b: healthy("hello-v1")(b) and healthy("hello-v2")(b), 120,
                    "both services healthy")
    elbv2 = aws_emulation.client("elbv2")
    for name, tg in zip(("hello-v1", "hello-v2"), stack["tgs"]):
        status = bridge.service(name)
        assert status.health_path == "/v2/health/ready"
        health = elbv2.describe_target_health(TargetGroupArn=tg)["TargetHealthDescriptions"]
        assert [(h["Target"]["Id"], h["Target"]["Port"], h["TargetHealth"]["State"])
                for h in health] == [(status.address, PORT, "healthy")]
    # The counts ECS reports follow the tasks (the bridge is the ECS agent here).
    bridge.wait_ticks(2)  # the report to ECS follows the health check in the same pass
    reply = aws_emulation.client("ecs").describe_services(cluster=stack["cluster"],
                                                          services=stack["services"])
    assert [(s["runningCount"], s["pendingCount"], s["deployments"][0]["rolloutState"])
            for s in reply["services"]] == [(1, 0, "COMPLETED"), (1, 0, "COMPLETED")]


def test_dns_name_resolves_through_etc_hosts(aws_emulation, stack):  # noqa: F811
    dns = stack["lb"]["DNSName"]
    aws_emulation.bridge.wait_for(lambda b: aws_emulation.load_balancers.serving(dns, 80), 30,
                                  "listener served")
    address = aws_emulation.load_balancers.address_of(dns)
    assert f"{address} {dns}" in Path("/etc/hosts").read_text().splitlines()


def test_weighted_listener_splits_then_follows_new_weights(aws_emulation, stack):  # noqa: F811
    bridge = aws_emulation.bridge
    bridge.wait_for(lambda b: healthy("hello-v1")(b) and healthy("hello-v2")(b), 120,
                    "both services healthy")
    seen = versions_seen(stack["url"] + "/", 60)
    assert set(seen) == {"v1", "v2"}  # 50/50: missing one in 60 tries has odds 2**-59
    elbv2 = aws_emulation.client("elbv2")
    elbv2.modify_listener(ListenerArn=stack["listener"],
                          DefaultActions=forward((stack["tgs"][0], 100), (stack["tgs"][1], 0)))
    assert set(versions_seen(stack["url"] + "/", 30)) == {"v1"}
    # A listener rule on a header still reaches v2 (how a health gate smoke-tests a revision).
    rule = elbv2.create_rule(ListenerArn=stack["listener"], Priority=10, Conditions=[
        {"Field": "http-header", "HttpHeaderConfig": {"HttpHeaderName": "X-Revision",
                                                      "Values": ["v2"]}}],
        Actions=forward((stack["tgs"][1], 1)))["Rules"][0]["RuleArn"]
    assert set(versions_seen(stack["url"] + "/", 10, {"X-Revision": "v2"})) == {"v2"}
    assert set(versions_seen(stack["url"] + "/", 10, {"X-Revision": "v3"})) == {"v1"}
    elbv2.delete_rule(RuleArn=rule)
    assert set(versions_seen(stack["url"] + "/", 10, {"X-Revision": "v2"})) == {"v1"}
    elbv2.modify_listener(ListenerArn=stack["listener"],
                          DefaultActions=forward((stack["tgs"][0], 0), (stack["tgs"][1], 100)))
    assert set(versions_seen(stack["url"] + "/", 30)) == {"v2"}
    elbv2.modify_listener(ListenerArn=stack["listener"],
                          DefaultActions=forward((stack["tgs"][0], 50), (stack["tgs"][1], 50)))


def test_secret_value_from_secrets_manager_reaches_container(aws_emulation, stack):  # noqa: F811
    bridge = aws_emulation.bridge
    bridge.wait_for(healthy("hello-v1"), 120, "hello-v1 healthy")
    v1 = bridge.service("hello-v1")
    env = {name: httpx.get(f"http://{v1.address}:{PORT}/env/{name}").json()["value"]
           for name in ("DB_PASSWORD", "GREETING", "PORT", "MODELPORT_HOST")}
    assert env == {"DB_PASSWORD": SECRET_VALUE, "GREETING": "hi", "PORT": str(PORT),
                   "MODELPORT_HOST": v1.address}


def test_exited_task_is_replaced_and_its_target_follows(aws_emulation, stack, engine):  # noqa: F811
    bridge, elbv2 = aws_emulation.bridge, aws_emulation.client("elbv2")
    bridge.wait_for(healthy("hello-v1"), 120, "hello-v1 healthy")
    before = bridge.service("hello-v1")
    engine.containers.get(before.container_id).kill()
    bridge.wait_for(lambda b: healthy("hello-v1")(b)
                    and b.service("hello-v1").container_id != before.container_id, 120,
                    "hello-v1 replaced")
    after = bridge.service("hello-v1")
    assert after.failed_tasks == before.failed_tasks + 1
    assert "Essential container in task exited" in after.last_error
    bridge.wait_ticks(2)
    health = elbv2.describe_target_health(TargetGroupArn=stack["tgs"][0])
    assert [(h["Target"]["Id"], h["Target"]["Port"]) for h in health["TargetHealthDescriptions"]
            ] == [(after.address, PORT)]
    events = aws_emulation.client("ecs").describe_services(
        cluster=stack["cluster"], services=["hello-v1"])["services"][0]["events"]
    assert any(f"(task {before.task_id}). Stopped reason: Essential container in task exited"
               in e["message"] for e in events)


@pytest.mark.parametrize("broken", ["secret", "secret access", "log group", "role"])
def test_task_that_cannot_start_reports_why(aws_emulation, stack, hello, broken):  # noqa: F811
    ecs = aws_emulation.client("ecs")
    name = "hello-broken-" + broken.replace(" ", "")
    missing = (f"arn:aws:secretsmanager:{aws_emulation.region}:{ACCOUNT_ID}:secret:"
               "bridge-test/nope-AbCdEf")
    other = aws_emulation.client("secretsmanager").create_secret(
        Name=f"other/{uuid.uuid4().hex[:6]}", SecretString="x")["ARN"]  # the role may not read it
    no_role = f"arn:aws:iam::{ACCOUNT_ID}:role/no-such-role"
    image = f"{hello['remote']}@{hello['digests']['v1']}"
    td = {"secret": lambda: register_hello(ecs, name, image, {}, {"DB_PASSWORD": missing},
                                           role=stack["role"]),
          "secret access": lambda: register_hello(ecs, name, image, {}, {"DB_PASSWORD": other},
                                                  role=stack["role"]),
          "log group": lambda: register_hello(ecs, name, image, {}, log_group="/no/such/group",
                                              role=stack["role"]),
          "role": lambda: register_hello(ecs, name, image, {}, role=no_role)}[broken]()
    ecs.create_service(cluster=stack["cluster"], serviceName=name, taskDefinition=td,
                       desiredCount=1, launchType="FARGATE", networkConfiguration={
                           "awsvpcConfiguration": {"subnets": stack["subnets"][:2],
                                                   "securityGroups": [stack["group"]]}})
    try:
        bridge = aws_emulation.bridge
        bridge.wait_for(lambda b: bool(b.service(name) and b.service(name).last_error), 60,
                        "error")
        status = bridge.service(name)
        assert status.container_id is None and not status.running
        expected = {"secret": f"ResourceInitializationError: unable to pull secrets: {missing}",
                    "secret access": "not authorized to perform: secretsmanager:GetSecretValue "
                                     f"on resource: {other}",
                    "log group": "log group /no/such/group does not exist",
                    "role": f"ECS was unable to assume the role '{no_role}'"}[broken]
        assert expected in status.last_error
        bridge.wait_ticks(2)
        svc = ecs.describe_services(cluster=stack["cluster"], services=[name])["services"][0]
        assert svc["runningCount"] == 0 and svc["deployments"][0]["failedTasks"] >= 1
        assert svc["deployments"][0]["rolloutState"] == "IN_PROGRESS"
    finally:
        ecs.delete_service(cluster=stack["cluster"], service=name, force=True)


@pytest.mark.parametrize("change, message", [
    ({"cpu": "256", "memory": "4096"}, "Invalid 'cpu' setting for task."),
    ({"networkMode": "bridge"}, "Fargate only supports network mode 'awsvpc'."),
    ({"secrets": True}, "you must also specify a value for 'executionRoleArn'"),
    ({"awslogs": True}, "execution role ARN to support log driver awslogs"),
    ({"ecr": True}, "execution role ARN to support ECR images"),
])
def test_fargate_task_definition_rules_are_enforced(aws_emulation, change, message):  # noqa: F811
    container = {"name": "app", "image": "127.0.0.1:5000/x@sha256:" + "c" * 64, "essential": True}
    if change.pop("secrets", False):
        container["secrets"] = [{"name": "A", "valueFrom": "arn:aws:ssm:us-east-1:1:parameter/a"}]
    if change.pop("awslogs", False):
        container["logConfiguration"] = {"logDriver": "awslogs", "options": {"awslogs-group": "g"}}
    if change.pop("ecr", False):
        container["image"] = f"{ACCOUNT_ID}.dkr.ecr.us-east-1.amazonaws.com/x:1"
    args = {"family": "rules", "requiresCompatibilities": ["FARGATE"], "networkMode": "awsvpc",
            "cpu": "256", "memory": "512", "containerDefinitions": [container], **change}
    ecs = aws_emulation.client("ecs")
    with pytest.raises(ecs.exceptions.ClientException, match=re.escape(message)):
        ecs.register_task_definition(**args)
    # The same definition is accepted once the rule is satisfied (a valid size and role).
    args.update(cpu="0.5 vCPU", memory="1GB", networkMode="awsvpc",
                executionRoleArn=execution_role(aws_emulation.client("iam")))
    registered = ecs.register_task_definition(**args)["taskDefinition"]
    assert (registered["cpu"], registered["memory"]) == ("512", "1024")  # as ECS stores them


def test_task_output_reaches_cloudwatch_logs(aws_emulation, stack):  # noqa: F811
    bridge, logs = aws_emulation.bridge, aws_emulation.client("logs")
    bridge.wait_for(healthy("hello-v1"), 120, "hello-v1 healthy")
    bridge.wait_ticks(2)
    task_id = bridge.service("hello-v1").task_id
    stream = f"hello/app/{task_id}"
    events = logs.get_log_events(logGroupName=stack["log_group"], logStreamName=stream)["events"]
    assert [e["message"] for e in events][:1] == [
        f"hello v1 listening on {bridge.service('hello-v1').address}:{PORT}"]


def test_task_definition_change_replaces_container(aws_emulation, stack):  # noqa: F811
    bridge, ecs = aws_emulation.bridge, aws_emulation.client("ecs")
    bridge.wait_for(healthy("hello-v2"), 120, "hello-v2 healthy")
    before = bridge.service("hello-v2").container_id
    family_revision = stack["td"]["v1"].rsplit("/", 1)[-1]  # "family:1", as users often pass it
    svc = ecs.update_service(cluster=stack["cluster"], service="hello-v2",
                             taskDefinition=family_revision)["service"]
    # A new deployment starts at once, as in ECS; it completes when the new task is healthy.
    assert svc["taskDefinition"] == stack["td"]["v1"]
    assert svc["deployments"][0]["rolloutState"] == "IN_PROGRESS"
    bridge.wait_for(lambda b: healthy("hello-v2")(b)
                    and b.service("hello-v2").task_definition_arn == stack["td"]["v1"], 120,
                    "hello-v2 replaced")
    after = bridge.service("hello-v2")
    assert after.container_id != before
    bridge.wait_ticks(2)
    svc = ecs.describe_services(cluster=stack["cluster"], services=["hello-v2"])["services"][0]
    assert (svc["runningCount"], svc["deployments"][0]["rolloutState"]) == (1, "COMPLETED")
    assert aws_emulation.tasks.state(before) == ("gone", None)
    answer = httpx.get(f"http://{after.address}:{PORT}/").json()
    assert answer["version"] == "v1"
    ecs.update_service(cluster=stack["cluster"], service="hello-v2",
                       taskDefinition=stack["td"]["v2"])
    bridge.wait_for(lambda b: healthy("hello-v2")(b)
                    and b.service("hello-v2").task_definition_arn == stack["td"]["v2"], 120,
                    "hello-v2 back on v2")


def test_deleted_service_container_is_removed(aws_emulation, stack, engine):  # noqa: F811
    bridge, ecs = aws_emulation.bridge, aws_emulation.client("ecs")
    bridge.wait_for(healthy("hello-v2"), 120, "hello-v2 healthy")
    container_id = bridge.service("hello-v2").container_id
    elbv2 = aws_emulation.client("elbv2")
    elbv2.modify_listener(ListenerArn=stack["listener"],
                          DefaultActions=forward((stack["tgs"][0], 0), (stack["tgs"][1], 100)))
    ecs.update_service(cluster=stack["cluster"], service="hello-v2", desiredCount=0)
    ecs.delete_service(cluster=stack["cluster"], service="hello-v2")
    bridge.wait_for(lambda b: b.service("hello-v2") is None, 60, "hello-v2 gone")
    with pytest.raises(docker.errors.NotFound):
        engine.containers.get(container_id)
    left = engine.containers.list(all=True, filters={"label": f"{SERVICE}={stack['services'][1]}"})
    assert left == []
    health = elbv2.describe_target_health(TargetGroupArn=stack["tgs"][1])
    assert [h["TargetHealth"]["State"] for h in health["TargetHealthDescriptions"]] == []
    # All traffic on the deleted revision's target group: the load balancer has no target.
    assert httpx.get(stack["url"] + "/", timeout=10).status_code == 503


def slow_deregistration(elbv2, target_group_arn: str, seconds: float) -> tuple[list, object]:
    """Make every DeregisterTargets of ``target_group_arn`` sent through ``elbv2`` take ``seconds``
    longer, as on a loaded machine (where the race this guards against was seen). Returns the
    list each slowed call appends to and the handler (to unregister)."""
    slowed: list[float] = []

    def slow(params, **_):
        if params.get("TargetGroupArn") == target_group_arn:
            slowed.append(time.monotonic())
            time.sleep(seconds)

    elbv2.meta.events.register(DEREGISTER_EVENT, slow)
    return slowed, slow


def test_deleted_service_drains_out_of_its_target_group_then_stops(aws_emulation, hello):  # noqa: F811
    """DeleteService: DRAINING for the target group's deregistration delay, the task out of the
    target group at once but still running, the name not reusable; then INACTIVE and stopped.

    The bridge's DeregisterTargets is slowed (the test's elbv2 client is the bridge's: clients are
    cached per service and credentials) so that a ``draining`` flag shown before the target has
    left the group fails here every time, not only under a full suite's load."""
    aws, engine_tasks = aws_emulation, aws_emulation.tasks
    ecs, elbv2 = aws.client("ecs"), aws.client("elbv2")
    vpc, subnets, group = default_network(aws.client("ec2"))
    suffix, delay = uuid.uuid4().hex[:6], 8  # seconds: the deregistration delay (how long it drains)
    lb = elbv2.create_load_balancer(Name=f"drain-{suffix}", Subnets=subnets[:2],
                                    SecurityGroups=[group])["LoadBalancers"][0]
    tg = target_group(elbv2, f"drain-{suffix}", vpc, delay)
    elbv2.create_listener(LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTP", Port=8082,
                          DefaultActions=forward((tg, 1)))
    cluster = ecs.create_cluster(clusterName=f"drain-{suffix}")["cluster"]["clusterArn"]
    td = register_hello(ecs, f"drain-{suffix}", f"{hello['remote']}@{hello['digests']['v1']}", {})
    name, bridge = f"drain-{suffix}", aws.bridge
    slowed, slow = slow_deregistration(elbv2, tg, 1.0)
    try:
        create_service(ecs, cluster, name, td, tg, subnets, group)
        bridge.wait_for(healthy(name), 120, "healthy")
        bridge.wait_for(lambda b: aws.load_balancers.serving(lb["DNSName"], 8082), 30, "served")
        assert httpx.get(f"http://{lb['DNSName']}:8082/", timeout=10).status_code == 200
        container = bridge.service(name).container_id
        ecs.delete_service(cluster=cluster, service=name, force=True)
        deleted = time.monotonic()
        assert ecs.describe_services(cluster=cluster, services=[name])["services"][0]["status"] == "DRAINING"
        # ECS deregisters the task asynchronously, within a bridge pass here; bounded well inside
        # the delay, as the checks below need the task still running.
        bridge.wait_for(lambda b: b.service(name).draining, delay - 2, "draining")
        assert slowed, "the bridge deregistered the target through another client"
        assert engine_tasks.state(container)[0] == "running"  # requests in flight may finish
        assert elbv2.describe_target_health(TargetGroupArn=tg)["TargetHealthDescriptions"] == []
        assert httpx.get(f"http://{lb['DNSName']}:8082/", timeout=10).status_code == 503  # no new ones
        with pytest.raises(ClientError) as caught:
            create_service(ecs, cluster, name, td, tg, subnets, group)
        assert "Creation of service was not idempotent" in str(caught.value)
        bridge.wait_for(lambda b: b.service(name) is None, 60, "stopped")
        assert time.monotonic() - deleted >= delay - 1  # not before the deregistration delay
        assert engine_tasks.state(container) == ("gone", None)
        assert ecs.describe_services(cluster=cluster, services=[name])["services"][0]["status"] == "INACTIVE"
    finally:
        elbv2.meta.events.unregister(DEREGISTER_EVENT, slow)
        if ecs.describe_services(cluster=cluster, services=[name])["services"][0]["status"] == "ACTIVE":
            ecs.delete_service(cluster=cluster, service=name, force=True)
        elbv2.delete_load_balancer(LoadBalancerArn=lb["LoadBalancerArn"])


def test_image_architecture_must_match_the_task_platform(aws_emulation, hello):  # noqa: F811
    """The image config's architecture against runtimePlatform.cpuArchitecture: the amd64 hello
    image does not start on ARM64; a copy whose config says arm64 does (see relabel_architecture
    for why its layers are the amd64 ones), and that copy does not start on X86_64."""
    aws = aws_emulation
    ecs = aws.client("ecs")
    vpc, subnets, group = default_network(aws.client("ec2"))
    suffix = uuid.uuid4().hex[:6]
    arm = relabel_architecture(aws.registry, hello["repository"], hello["digests"]["v1"], "arm64")
    cluster = ecs.create_cluster(clusterName=f"arch-{suffix}")["cluster"]["clusterArn"]
    cases = {"amd64-on-arm": (hello["digests"]["v1"], "ARM64"), "arm-on-arm": (arm, "ARM64"),
             "arm-on-x86": (arm, "X86_64")}
    names = {case: f"arch-{suffix}-{case}" for case in cases}
    try:
        for case, (digest, cpu) in cases.items():
            td = register_hello(ecs, names[case], f"{hello['remote']}@{digest}", {}, cpu_architecture=cpu)
            ecs.create_service(cluster=cluster, serviceName=names[case], taskDefinition=td, desiredCount=1,
                               launchType="FARGATE", networkConfiguration={"awsvpcConfiguration": {
                                   "subnets": subnets[:2], "securityGroups": [group]}})
        bridge = aws.bridge
        bridge.wait_for(healthy(names["arm-on-arm"]), 120, "the arm64 image runs on ARM64")
        for case, running, wanted in (("amd64-on-arm", "linux/amd64", "linux/arm64"),
                                      ("arm-on-x86", "linux/arm64", "linux/amd64")):
            bridge.wait_for(lambda b: bool(b.service(names[case]) and b.service(names[case]).last_error), 60, case)
            error = bridge.service(names[case]).last_error
            assert f"built for {running}" in error and f"task runs on {wanted}" in error and "exec format error" in error
            assert bridge.service(names[case]).container_id is None
    finally:
        for name in names.values():
            ecs.delete_service(cluster=cluster, service=name, force=True)


# ---- a separate, short-lived emulation: everything it made is gone after stop() -----------------

def test_stop_removes_containers_hosts_entries_and_processes(engine, hello):
    with AwsEmulation(set_env=False) as aws:
        ecs, elbv2 = aws.client("ecs"), aws.client("elbv2")
        vpc, subnets, group = default_network(aws.client("ec2"))
        aws.client("ecr").create_repository(repositoryName=hello["repository"])
        lb = elbv2.create_load_balancer(Name=f"stop-{uuid.uuid4().hex[:8]}", Subnets=subnets[:2],
                                        SecurityGroups=[group])["LoadBalancers"][0]
        tg = elbv2.create_target_group(Name="stop-tg", Protocol="HTTP", Port=PORT, VpcId=vpc,
                                       TargetType="ip")["TargetGroups"][0]["TargetGroupArn"]
        elbv2.create_listener(LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTP", Port=80,
                              DefaultActions=forward((tg, 1)))
        cluster = ecs.create_cluster(clusterName="stop")["cluster"]["clusterArn"]
        # The hello image lives in the session's stand-in registry, reachable by address.
        td = register_hello(ecs, "stop", f"{hello['remote']}@{hello['digests']['v1']}", {})
        create_service(ecs, cluster, "stop-svc", td, tg, subnets, group)
        aws.bridge.wait_for(healthy("stop-svc"), 120, "stop-svc healthy")
        aws.bridge.wait_for(lambda b: aws.load_balancers.serving(lb["DNSName"], 80), 30, "served")
        assert httpx.get(f"http://{lb['DNSName']}/", timeout=10).json()["version"] == "v1"
        owner, moto_url, registry = aws.owner, aws.endpoint_url, aws.registry
    assert engine.containers.list(all=True, filters={"label": f"{OWNER}={owner}"}) == []
    assert lb["DNSName"] not in Path("/etc/hosts").read_text()
    for url in (moto_url + "/moto-api/", f"http://{registry}/v2/"):
        with pytest.raises(httpx.ConnectError):
            httpx.get(url, timeout=2)


def test_unhealthy_task_is_not_routed(aws_emulation, hello):  # noqa: F811
    aws = aws_emulation
    ecs, elbv2 = aws.client("ecs"), aws.client("elbv2")
    vpc, subnets, group = default_network(aws.client("ec2"))
    suffix = uuid.uuid4().hex[:6]
    lb = elbv2.create_load_balancer(Name=f"sick-{suffix}", Subnets=subnets[:2],
                                    SecurityGroups=[group])["LoadBalancers"][0]
    tg = target_group(elbv2, f"sick-{suffix}", vpc, DRAIN)
    elbv2.create_listener(LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTP", Port=8081,
                          DefaultActions=forward((tg, 1)))
    cluster = ecs.create_cluster(clusterName=f"sick-{suffix}")["cluster"]["clusterArn"]
    td = register_hello(ecs, f"sick-{suffix}", f"{hello['remote']}@{hello['digests']['v1']}",
                        {"READY": "0"})
    create_service(ecs, cluster, f"sick-{suffix}", td, tg, subnets, group)
    bridge = aws.bridge
    try:
        bridge.wait_for(lambda b: bool(b.service(f"sick-{suffix}")
                                       and b.service(f"sick-{suffix}").running
                                       and b.service(f"sick-{suffix}").last_error), 120, "probed")
        status = bridge.service(f"sick-{suffix}")
        assert not status.healthy and "HTTP 503" in status.last_error
        bridge.wait_ticks(2)
        svc = ecs.describe_services(cluster=cluster, services=[f"sick-{suffix}"])["services"][0]
        assert (svc["runningCount"], svc["deployments"][0]["rolloutState"]) == (1, "IN_PROGRESS")
        assert elbv2.describe_target_health(TargetGroupArn=tg)["TargetHealthDescriptions"] == []
        bridge.wait_for(lambda b: aws.load_balancers.serving(lb["DNSName"], 8081), 30, "served")
        assert httpx.get(f"http://{lb['DNSName']}:8081/", timeout=10).status_code == 503
    finally:
        ecs.delete_service(cluster=cluster, service=f"sick-{suffix}", force=True)
        elbv2.delete_load_balancer(LoadBalancerArn=lb["LoadBalancerArn"])
    bridge.wait_for(lambda b: b.service(f"sick-{suffix}") is None, 60, "sick service gone")
    bridge.wait_for(lambda b: aws.load_balancers.address_of(lb["DNSName"]) is None, 30, "lb gone")
    assert lb["DNSName"] not in Path("/etc/hosts").read_text()


def test_circuit_breaker_fails_a_deployment_whose_tasks_stay_unhealthy(aws_emulation, hello):  # noqa: F811,E501
    aws = aws_emulation
    ecs, elbv2 = aws.client("ecs"), aws.client("elbv2")
    vpc, subnets, group = default_network(aws.client("ec2"))
    suffix = uuid.uuid4().hex[:6]
    tg = elbv2.create_target_group(Name=f"cb-{suffix}", Protocol="HTTP", Port=PORT, VpcId=vpc,
                                   TargetType="ip")["TargetGroups"][0]["TargetGroupArn"]
    cluster = ecs.create_cluster(clusterName=f"cb-{suffix}")["cluster"]["clusterArn"]
    td = register_hello(ecs, f"cb-{suffix}", f"{hello['remote']}@{hello['digests']['v1']}",
                        {"READY": "0"}, health={"interval": 5, "retries": 1, "startPeriod": 0})
    name = f"cb-{suffix}"
    create_service(ecs, cluster, name, td, tg, subnets, group, deploymentConfiguration={
        "maximumPercent": 200, "minimumHealthyPercent": 100,
        "deploymentCircuitBreaker": {"enable": True, "rollback": False}})
    try:
        def rollout():
            svc = ecs.describe_services(cluster=cluster, services=[name])["services"][0]
            return svc["deployments"][0]
        aws.bridge.wait_for(lambda b: rollout()["rolloutState"] == "FAILED", 240, "FAILED")
        deployment = rollout()
        assert deployment["failedTasks"] >= 3
        assert "circuit breaker" in deployment["rolloutStateReason"]
        svc = ecs.describe_services(cluster=cluster, services=[name])["services"][0]
        assert svc["deploymentConfiguration"]["deploymentCircuitBreaker"]["enable"] is True
        messages = [e["message"] for e in svc["events"]]
        assert "deployment failed: tasks failed to start." in messages[0]
        assert any("Task failed container health checks" in m for m in messages)
        assert any("has started 1 tasks" in m for m in messages)
        aws.bridge.wait_ticks(int(RETRY_AFTER / aws.bridge.interval) + 4)
        assert aws.bridge.service(name).container_id is None  # no new task after FAILED
    finally:
        ecs.delete_service(cluster=cluster, service=name, force=True)


def test_listener_weights_are_read_back_unchanged(aws_emulation, stack):  # noqa: F811
    """The bridge only reads: the weights a test sets are what describe_listeners returns."""
    elbv2 = aws_emulation.client("elbv2")
    elbv2.modify_listener(ListenerArn=stack["listener"],
                          DefaultActions=forward((stack["tgs"][0], 90), (stack["tgs"][1], 10)))
    aws_emulation.bridge.wait_ticks(2)
    action = elbv2.describe_listeners(ListenerArns=[stack["listener"]])["Listeners"][0]
    groups = action["DefaultActions"][0]["ForwardConfig"]["TargetGroups"]
    assert json.dumps([(g["TargetGroupArn"], g["Weight"]) for g in groups]) == json.dumps(
        [[stack["tgs"][0], 90], [stack["tgs"][1], 10]])


def test_standalone_module_prints_endpoint_and_registry_and_stops_on_sigterm(tmp_path):
    env_file = tmp_path / "aws.env"
    proc = subprocess.Popen([sys.executable, "-m", "moto_fixtures.aws", "--env-file", str(env_file)],
                            stdout=subprocess.PIPE, text=True, cwd=Path(__file__).parents[2])
    try:
        lines = []
        for line in proc.stdout:
            lines.append(line.strip())
            if line.startswith("ready"):
                break
        values = dict(line.split("=", 1) for line in lines if "=" in line)
        assert httpx.get(values["AWS_ENDPOINT_URL"] + "/moto-api/", timeout=10).status_code == 200
        assert httpx.get(f"http://{values['ECR_REGISTRY']}/v2/", timeout=10).status_code == 200
        assert "AWS_SECRET_ACCESS_KEY=" in env_file.read_text()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert not env_file.exists()
    with pytest.raises(httpx.ConnectError):
        httpx.get(values["AWS_ENDPOINT_URL"] + "/moto-api/", timeout=2)


# ---- IAM enforcement ---------------------------------------------------------------------------

def test_enforced_iam_allows_exactly_what_the_policy_grants(engine):
    with AwsEmulation(enforce_iam=True, set_env=False) as aws:
        iam = aws.client("iam")
        iam.create_user(UserName="deployer")
        iam.put_user_policy(UserName="deployer", PolicyName="list-only", PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": ["ecs:ListClusters"], "Resource": "*"}]}))
        # AWS managed policies exist, as in a real account.
        iam.attach_user_policy(UserName="deployer", PolicyArn=(
            "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"))
        key = iam.create_access_key(UserName="deployer")["AccessKey"]
        deployer = Credentials(key["AccessKeyId"], key["SecretAccessKey"])
        assert aws.client("ecs", deployer).list_clusters()["clusterArns"] == []
        with pytest.raises(ClientError) as denied:
            aws.client("ecs", deployer).create_cluster(clusterName="not-allowed")
        # moto answers JSON-protocol services' denials in XML: botocore sees code "403".
        assert denied.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
        assert "not authorized to perform: ecs:CreateCluster" in str(denied.value)
        with pytest.raises(ClientError):
            aws.client("ecs", Credentials("testing", "testing")).list_clusters()
        # The emulation's own parts run as the admin user: the mirror still records pushes.
        repo = "iam-test/tiny"
        aws.client("ecr").create_repository(repositoryName=repo)
        local = tiny_image(engine, "moto-fixtures-tiny", "iam", b"iam")
        try:
            digest = push(engine, local, f"{aws.registry}/{repo}", "1")
            assert aws.mirror.wait_for(repo, digest).outcome == "mirrored"
        finally:
            for ref in (local, f"{aws.registry}/{repo}:1"):
                engine.images.remove(ref, force=True)
        aws.bridge.wait_ticks(2)
        assert aws.bridge.last_error is None


# ---- pieces with no Docker: secrets, image references, hosts blocks --------------------------------

def test_secret_json_key_and_ssm_parameter_are_resolved(aws_emulation):  # noqa: F811
    secretsmanager, ssm = aws_emulation.client("secretsmanager"), aws_emulation.client("ssm")
    arn = secretsmanager.create_secret(Name=f"json-{uuid.uuid4().hex[:6]}",
                                       SecretString=json.dumps({"user": "u1", "pw": "p1"}))["ARN"]
    name = f"/bridge-test/{uuid.uuid4().hex[:6]}"
    ssm.put_parameter(Name=name, Value="from-ssm", Type="SecureString")
    assert resolve_secret(f"{arn}:pw::", secretsmanager, ssm) == "p1"
    assert json.loads(resolve_secret(arn, secretsmanager, ssm)) == {"user": "u1", "pw": "p1"}
    assert resolve_secret(name, secretsmanager, ssm) == "from-ssm"
    with pytest.raises(TaskStartError) as missing:
        resolve_secret(f"{arn}:nokey::", secretsmanager, ssm)
    assert "p1" not in str(missing.value)


def test_image_and_health_path_are_read_from_the_task_definition():
    registry = "127.0.0.1:5999"
    ecr = f"{ACCOUNT_ID}.dkr.ecr.us-east-1.amazonaws.com/team/model@sha256:{'a' * 64}"
    assert local_image(ecr, registry) == f"{registry}/team/model@sha256:{'a' * 64}"
    assert local_image("127.0.0.1:5000/x@sha256:" + "b" * 64, registry).startswith("127.0.0.1:5000/")
    check = {"healthCheck": {"command": [
        "CMD-SHELL", "curl -fsS http://localhost:8080/v2/health/ready || exit 1"]}}
    assert health_path(check) == "/v2/health/ready"
    assert health_path({"healthCheck": {"command": ["CMD", "python3", "-c", "pass"]}}) is None


def test_listener_rules_are_chosen_like_an_alb():
    rule = lambda priority, conditions, target: {  # noqa: E731
        "Priority": priority, "Conditions": conditions, "IsDefault": priority == "default",
        "Actions": [{"Type": "forward", "TargetGroupArn": target}]}
    rules = [
        rule("default", [], "tg-default"),
        rule("20", [{"Field": "path-pattern", "Values": ["/v2/models/*"]}], "tg-path"),
        rule("5", [{"Field": "http-header", "HttpHeaderConfig": {
            "HttpHeaderName": "X-Revision", "Values": ["r?"]}},
            {"Field": "http-request-method", "HttpRequestMethodConfig": {"Values": ["POST"]}}],
             "tg-header"),
        rule("7", [{"Field": "query-string", "QueryStringConfig": {
            "Values": [{"Key": "canary", "Value": "TRUE"}]}}], "tg-query"),
    ]

    def target(method="GET", path="/", headers=None, query=()):
        facts = RequestFacts(method, path, "lb", headers or {}, list(query), "10.0.0.1")
        return forward_weights(chosen_action(rules, facts))

    assert target() == [("tg-default", 1)]
    assert target(path="/v2/models/iris/infer") == [("tg-path", 1)]
    assert target("POST", "/v2/models/x", {"x-revision": ["R2"]}) == [("tg-header", 1)]
    assert target("GET", "/v2/models/x", {"x-revision": ["r2"]}) == [("tg-path", 1)]
    assert target(query=[("canary", "true")]) == [("tg-query", 1)]
    assert target("POST", "/", {"x-revision": ["r10"]}) == [("tg-default", 1)]


def test_hosts_block_is_owned_and_stale_blocks_are_removed(tmp_path):
    hosts = tmp_path / "hosts"
    hosts.write_text("127.0.0.1 localhost\n")
    dead = HostsBlock(hosts, pid=2**22 + 12345)  # above pid_max: never a live process
    dead.set("old-1.us-east-1.elb.amazonaws.com", "127.9.9.9")
    mine = HostsBlock(hosts)
    mine.set("lb-1.us-east-1.elb.amazonaws.com", "127.9.9.2")
    assert mine.clean_stale() == [2**22 + 12345]
    lines = hosts.read_text().splitlines()
    assert "127.9.9.2 lb-1.us-east-1.elb.amazonaws.com" in lines
    assert not any("old-1" in line for line in lines)
    mine.clear()
    assert hosts.read_text() == "127.0.0.1 localhost\n"
