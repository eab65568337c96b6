"""The Cloud Run emulator, driven only through the official google-cloud-run client (REST).

Control-plane tests run revisions from `modelport-base:bookworm` (a python3 http.server that
honours $PORT/$MODELPORT_HOST); validation tests use validate_only so the neighbour that must be
accepted is checked without starting containers.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import docker
import httpx
import pytest
from google.api_core import exceptions as gexc
from google.api_core.client_options import ClientOptions
from google.auth.credentials import AnonymousCredentials
from google.cloud import run_v2
from google.iam.v1 import iam_policy_pb2, policy_pb2
from google.protobuf import duration_pb2, field_mask_pb2

from moto_fixtures.gcp import CloudRunEmulator
from moto_fixtures.gcp.runtime import LABEL_INSTANCE, LABEL_SERVICE

pytestmark = [pytest.mark.docker, pytest.mark.timeout(300)]

BASE_IMAGE = os.environ.get("MODELPORT_BASE_IMAGE", "modelport-base:bookworm")
SERVE = ["sh", "-c", "exec python3 -m http.server $PORT --bind $MODELPORT_HOST"]
LATEST = run_v2.TrafficTargetAllocationType.TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST
REVISION = run_v2.TrafficTargetAllocationType.TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION
_counter = iter(range(1, 10_000))


@pytest.fixture(scope="module")
def clients(gcp_emulator, base_image):
    """Services and Revisions clients pointed at the emulator (base image on the engine)."""
    assert base_image == BASE_IMAGE
    ID_TOKEN.emulator = gcp_emulator.emulator
    kwargs = gcp_emulator.client_kwargs()
    return run_v2.ServicesClient(**kwargs), run_v2.RevisionsClient(**kwargs), gcp_emulator


def sid(prefix: str = "svc") -> str:
    """A fresh service id (the emulator is shared by the session)."""
    return f"{prefix}-{next(_counter)}"


def container(image: str = BASE_IMAGE, env: dict | None = None, **kwargs) -> run_v2.Container:
    """A container that serves HTTP on $PORT."""
    env_vars = [run_v2.EnvVar(name=k, value=v) for k, v in (env or {}).items()]
    kwargs.setdefault("command", SERVE)
    return run_v2.Container(image=image, env=env_vars, **kwargs)


def service(revision: str = "", env: dict | None = None, **kwargs) -> run_v2.Service:
    """A one-container service."""
    template = run_v2.RevisionTemplate(revision=revision, containers=[container(env=env)])
    return run_v2.Service(template=template, **kwargs)


def create(clients, service_id: str, svc: run_v2.Service) -> run_v2.Service:
    """Create through the LRO and return the finished service."""
    services, _, emu = clients
    op = services.create_service(parent=emu.parent, service=svc, service_id=service_id)
    return op.result(timeout=120)


def update(clients, svc: run_v2.Service, **fields) -> run_v2.Service:
    """Update through the LRO and return the finished service."""
    request = run_v2.UpdateServiceRequest(service=svc, **fields)
    return clients[0].update_service(request=request).result(timeout=120)


def revision_names(clients, name: str) -> set[str]:
    """Short names of a service's revisions."""
    return {r.name.rsplit("/", 1)[-1] for r in clients[1].list_revisions(parent=name)}


def emulator_containers(emu, service_name: str) -> list:
    """Running containers the emulator started for one service."""
    engine = docker.DockerClient(base_url=emu.emulator.docker_host)
    try:
        labels = [f"{LABEL_INSTANCE}={emu.emulator.runtime.instance_id}",
                  f"{LABEL_SERVICE}={service_name}"]
        return engine.containers.list(filters={"label": labels})
    finally:
        engine.close()


# -- lifecycle -----------------------------------------------------------------------------
def test_create_get_list_delete_through_long_running_operations(clients):
    services, _, emu = clients
    service_id = sid("life")
    svc = service(labels={"team": "ml"}, annotations={"example.com/owner": "me"},
                  ingress=run_v2.IngressTraffic.INGRESS_TRAFFIC_INTERNAL_ONLY)
    op = services.create_service(parent=emu.parent, service=svc, service_id=service_id)
    assert op.operation.done is False  # the client has to poll operations.get
    created = op.result(timeout=120)
    assert op.metadata.name == created.name

    got = services.get_service(name=created.name)
    assert got.labels["team"] == "ml" and got.annotations["example.com/owner"] == "me"
    assert got.ingress == run_v2.IngressTraffic.INGRESS_TRAFFIC_INTERNAL_ONLY
    assert got.uid and got.etag and got.generation == 1 and got.observed_generation == 1
    assert got.terminal_condition.type_ == "Ready"
    assert got.terminal_condition.state == run_v2.Condition.State.CONDITION_SUCCEEDED
    assert got.reconciling is False
    assert got.latest_ready_revision == got.latest_created_revision
    assert got.latest_ready_revision.startswith(f"{created.name}/revisions/{service_id}-")
    [status] = got.traffic_statuses
    assert status.type_ == LATEST and status.percent == 100
    assert status.revision == got.latest_ready_revision.rsplit("/", 1)[-1]
    assert got.uri.startswith("http://127.0.0.1:")
    assert created.name in [s.name for s in services.list_services(parent=emu.parent)]
    assert len(emulator_containers(emu, created.name)) == 1

    deleted = services.delete_service(name=created.name).result(timeout=120)
    assert deleted.name == created.name
    with pytest.raises(gexc.NotFound):
        services.get_service(name=created.name)
    assert emulator_containers(emu, created.name) == []


def test_create_twice_is_a_conflict(clients):
    service_id = sid("dup")
    create(clients, service_id, service())
    with pytest.raises(gexc.Conflict) as err:
        clients[0].create_service(parent=clients[2].parent, service=service(),
                                  service_id=service_id)
    assert err.value.response.json()["error"]["status"] == "ALREADY_EXISTS"


def test_lists_are_paged_and_revisions_listed_across_services(clients):
    services, revisions, emu = clients
    names = {create(clients, sid("page"), service()).name for _ in range(2)}
    pager = services.list_services(request=run_v2.ListServicesRequest(parent=emu.parent,
                                                                      page_size=1))
    first_page = next(iter(pager.pages))
    assert len(first_page.services) == 1 and first_page.next_page_token
    assert names <= {s.name for s in pager}  # the pager follows the page tokens
    everywhere = {r.service for r in revisions.list_revisions(parent=f"{emu.parent}/services/-")}
    assert names <= everywhere
    with pytest.raises(gexc.BadRequest):
        list(services.list_services(parent=f"projects/{emu.project}/locations/-"))


def test_update_missing_service_needs_allow_missing(clients):
    name = f"{clients[2].parent}/services/{sid('missing')}"
    svc = service()
    svc.name = name
    with pytest.raises(gexc.NotFound):
        clients[0].update_service(service=svc)
    created = update(clients, svc, allow_missing=True)
    assert created.name == name and created.generation == 1


def test_new_revision_per_template_change_and_none_when_unchanged(clients):
    first = create(clients, sid("rev"), service(env={"V": "1"}))
    assert len(revision_names(clients, first.name)) == 1

    first.labels["stage"] = "two"  # not a template change
    relabelled = update(clients, first)
    assert relabelled.generation == 2
    assert relabelled.latest_created_revision == first.latest_created_revision
    assert len(revision_names(clients, first.name)) == 1

    relabelled.template.containers[0].env[0].value = "2"
    changed = update(clients, relabelled)
    assert changed.generation == 3
    assert changed.latest_created_revision != first.latest_created_revision
    assert changed.latest_ready_revision == changed.latest_created_revision
    assert len(revision_names(clients, first.name)) == 2

    same = update(clients, changed)  # identical spec: nothing new
    assert same.generation == 3 and same.latest_created_revision == changed.latest_created_revision
    assert len(revision_names(clients, first.name)) == 2


def test_explicit_revision_names_and_duplicates(clients):
    service_id = sid("named")
    svc = create(clients, service_id, service(revision=f"{service_id}-blue", env={"V": "1"}))
    assert svc.latest_created_revision.endswith(f"/revisions/{service_id}-blue")
    svc.template.containers[0].env[0].value = "2"  # same name, other configuration
    with pytest.raises(gexc.Conflict) as err:
        clients[0].update_service(service=svc)
    assert "already exists" in err.value.message
    svc.template.revision = f"{service_id}-green"
    assert update(clients, svc).latest_ready_revision.endswith(f"{service_id}-green")


def test_update_mask_changes_only_the_named_fields(clients):
    svc = create(clients, sid("mask"), service(labels={"a": "1"}, env={"V": "1"}))
    svc.labels = {"b": "2"}
    svc.template.containers[0].env[0].value = "2"  # not in the mask: ignored
    after = update(clients, svc, update_mask=field_mask_pb2.FieldMask(paths=["labels"]))
    assert dict(after.labels) == {"b": "2"}
    assert after.template.containers[0].env[0].value == "1"
    assert after.latest_created_revision == svc.latest_created_revision


def test_reapplying_an_earlier_revision_makes_it_latest_again(clients):
    service_id = sid("back")
    first = create(clients, service_id, service(revision=f"{service_id}-a", env={"V": "1"}))
    template_type = run_v2.RevisionTemplate
    template_a = template_type.deserialize(template_type.serialize(first.template))
    first.template.revision = f"{service_id}-b"
    first.template.containers[0].env[0].value = "2"
    second = update(clients, first)
    assert second.latest_ready_revision.endswith(f"{service_id}-b")
    second.template = template_a  # roll back: same name, same configuration as before
    back = update(clients, second)
    assert back.latest_created_revision.endswith(f"{service_id}-a")
    assert back.latest_ready_revision.endswith(f"{service_id}-a")
    assert [s.revision for s in back.traffic_statuses] == [f"{service_id}-a"]
    assert revision_names(clients, back.name) == {f"{service_id}-a", f"{service_id}-b"}


def test_stale_etag_is_aborted(clients):
    svc = create(clients, sid("etag"), service())
    stale = svc.etag
    svc.labels["a"] = "b"
    fresh = update(clients, svc)
    assert fresh.etag != stale
    fresh.etag = stale
    with pytest.raises(gexc.Conflict) as err:
        clients[0].update_service(service=fresh)
    assert err.value.response.json()["error"]["status"] == "ABORTED"


# -- traffic -------------------------------------------------------------------------------
def _two_revisions(clients, prefix: str) -> tuple[run_v2.Service, str, str]:
    service_id = sid(prefix)
    one, two = f"{service_id}-one", f"{service_id}-two"
    svc = create(clients, service_id, service(revision=one, env={"V": "1"}))
    svc.template.revision = two
    svc.template.containers[0].env[0].value = "2"
    return update(clients, svc), one, two


def test_traffic_split_is_kept_and_reported(clients):
    svc, one, two = _two_revisions(clients, "split")
    svc.traffic = [run_v2.TrafficTarget(type_=REVISION, revision=one, percent=10),
                   run_v2.TrafficTarget(type_=REVISION, revision=two, percent=90, tag="canary")]
    update(clients, svc)
    got = clients[0].get_service(name=svc.name)
    assert [(t.revision, t.percent, t.tag) for t in got.traffic] == [
        (one, 10, ""), (two, 90, "canary")]
    assert sorted((s.revision, s.percent) for s in got.traffic_statuses) == [(one, 10), (two, 90)]
    assert len(emulator_containers(clients[2], svc.name)) == 2


def test_traffic_to_unknown_revision_fails_the_operation(clients):
    svc = create(clients, sid("ghost"), service())
    svc.traffic = [run_v2.TrafficTarget(type_=REVISION, revision="ghost-nope", percent=100)]
    with pytest.raises(gexc.GoogleAPICallError) as err:
        update(clients, svc)
    assert "does not exist" in err.value.message
    got = clients[0].get_service(name=svc.name)
    assert got.terminal_condition.state == run_v2.Condition.State.CONDITION_FAILED
    serving = svc.latest_ready_revision.rsplit("/", 1)[-1]
    assert [s.revision for s in got.traffic_statuses] == [serving]  # still the old route


def test_revision_serving_traffic_cannot_be_deleted(clients):
    svc, one, two = _two_revisions(clients, "del")
    revisions = clients[1]
    with pytest.raises(gexc.BadRequest) as err:  # `two` is LATEST and serves 100%
        revisions.delete_revision(name=f"{svc.name}/revisions/{two}")
    assert err.value.response.json()["error"]["status"] == "FAILED_PRECONDITION"
    deleted = revisions.delete_revision(name=f"{svc.name}/revisions/{one}").result(timeout=60)
    assert deleted.name.endswith(one)
    assert revision_names(clients, svc.name) == {two}
    with pytest.raises(gexc.NotFound):
        revisions.get_revision(name=f"{svc.name}/revisions/{one}")


def test_latest_created_revision_is_not_retired_until_the_template_moves_on(clients):
    """DeleteRevision deletes only retired revisions (revision.proto, DeleteRevisionRequest): the
    latest created one is refused even with no traffic and no tag; re-applying an earlier
    revision's template by name makes that one the latest again, and the other one retired."""
    service_id = sid("retire")
    one, two = f"{service_id}-one", f"{service_id}-two"
    first = create(clients, service_id, service(revision=one, env={"V": "1"}))
    template_one = run_v2.RevisionTemplate.deserialize(run_v2.RevisionTemplate.serialize(first.template))
    first.template.revision = two
    first.template.containers[0].env[0].value = "2"
    first.traffic = [run_v2.TrafficTarget(type_=REVISION, revision=one, percent=100)]
    pinned = update(clients, first)
    assert pinned.latest_created_revision.endswith(two)
    assert [(s.revision, s.percent) for s in pinned.traffic_statuses] == [(one, 100)]
    revisions = clients[1]
    with pytest.raises(gexc.BadRequest) as err:
        revisions.delete_revision(name=f"{pinned.name}/revisions/{two}")
    assert err.value.response.json()["error"]["status"] == "FAILED_PRECONDITION"
    assert "latest created revision" in err.value.message
    pinned.template = template_one
    back = update(clients, pinned)
    assert back.latest_created_revision.endswith(one) and back.generation == pinned.generation + 1
    assert revision_names(clients, back.name) == {one, two}, "re-applied by name: no new revision"
    revisions.delete_revision(name=f"{back.name}/revisions/{two}").result(timeout=60)
    assert revision_names(clients, back.name) == {one}
    with pytest.raises(gexc.BadRequest):  # the only revision is the latest created one too
        revisions.delete_revision(name=f"{back.name}/revisions/{one}")


# -- IAM -----------------------------------------------------------------------------------
def test_iam_policy_get_and_set_with_etag(clients):
    services = clients[0]
    svc = create(clients, sid("iam"), service())
    empty = services.get_iam_policy(request=iam_policy_pb2.GetIamPolicyRequest(resource=svc.name))
    assert list(empty.bindings) == [] and empty.etag
    policy = policy_pb2.Policy(etag=empty.etag, bindings=[policy_pb2.Binding(
        role="roles/run.invoker", members=["serviceAccount:ci@p.iam.gserviceaccount.com"])])
    stored = services.set_iam_policy(request=iam_policy_pb2.SetIamPolicyRequest(
        resource=svc.name, policy=policy))
    assert stored.etag != empty.etag
    again = services.get_iam_policy(request=iam_policy_pb2.GetIamPolicyRequest(resource=svc.name))
    assert [(b.role, list(b.members)) for b in again.bindings] == [
        ("roles/run.invoker", ["serviceAccount:ci@p.iam.gserviceaccount.com"])]
    with pytest.raises(gexc.Conflict):  # the etag read before the change is stale now
        services.set_iam_policy(request=iam_policy_pb2.SetIamPolicyRequest(
            resource=svc.name, policy=policy))
    bad = policy_pb2.Policy(bindings=[policy_pb2.Binding(role="run.invoker", members=["allUsers"])])
    with pytest.raises(gexc.BadRequest):
        services.set_iam_policy(request=iam_policy_pb2.SetIamPolicyRequest(
            resource=svc.name, policy=bad))


def test_service_url_is_private_until_all_users_may_invoke(clients):
    services = clients[0]
    svc = create(clients, sid("private"), service())
    assert httpx.get(svc.uri).status_code == 403  # no credentials
    assert httpx.get(svc.uri, headers={"Authorization": "Bearer x"}).status_code == 401  # not a token it signed
    assert httpx.get(svc.uri, auth=ID_TOKEN).status_code == 200  # the deployer's ID token for this URL
    public = policy_pb2.Policy(bindings=[policy_pb2.Binding(role="roles/run.invoker",
                                                            members=["allUsers"])])
    services.set_iam_policy(request=iam_policy_pb2.SetIamPolicyRequest(resource=svc.name,
                                                                      policy=public))
    assert httpx.get(svc.uri).status_code == 200


# -- validation: one rule per test, each with a valid neighbour -----------------------------
def sized(cpu: str = "1", memory: str = "512Mi", concurrency: int = 0, cpu_idle: bool = True,
          gpu: str = "", accelerator: str = "", env: str = "") -> run_v2.Service:
    """A service with the given size settings."""
    limits = {"cpu": cpu, "memory": memory}
    if gpu:
        limits["nvidia.com/gpu"] = gpu
    box = container(resources=run_v2.ResourceRequirements(limits=limits, cpu_idle=cpu_idle))
    template = run_v2.RevisionTemplate(containers=[box],
                                       max_instance_request_concurrency=concurrency)
    if accelerator:
        template.node_selector = run_v2.NodeSelector(accelerator=accelerator)
    return run_v2.Service(template=template)


def with_template(**fields) -> run_v2.Service:
    """A service whose template has extra fields."""
    svc = service()
    for key, value in fields.items():
        setattr(svc.template, key, value)
    return svc


def with_container(**fields) -> run_v2.Service:
    """A service whose container has extra fields."""
    svc = service()
    for key, value in fields.items():
        setattr(svc.template.containers[0], key, value)
    return svc


def with_env(*names: str) -> run_v2.Service:
    """A service with these environment variable names."""
    svc = service()
    svc.template.containers[0].env = [run_v2.EnvVar(name=n, value="x") for n in names]
    return svc


def with_traffic(*targets: tuple) -> run_v2.Service:
    """A service with traffic targets given as (type, revision, percent) tuples."""
    svc = service()
    svc.traffic = [run_v2.TrafficTarget(type_=t, revision=r, percent=p) for t, r, p in targets]
    return svc


def probed(timeout: int, period: int) -> run_v2.Service:
    """A service with a TCP startup probe of this timeout and period."""
    return with_container(startup_probe=run_v2.Probe(tcp_socket=run_v2.TCPSocketAction(port=8080),
                                                     timeout_seconds=timeout, period_seconds=period))


def tagged(tag: str) -> run_v2.Service:
    """A service whose LATEST traffic target carries this tag."""
    svc = service()
    svc.traffic = [run_v2.TrafficTarget(type_=LATEST, percent=100, tag=tag)]
    return svc


def gpu(**overrides) -> run_v2.Service:
    """A valid GPU service (nvidia-l4, 4 cpu, 16 GiB, instance billing) with overrides."""
    settings = dict(cpu="4", memory="16Gi", gpu="1", cpu_idle=False, accelerator="nvidia-l4")
    return sized(**{**settings, **overrides})


def scaling(low: int, high: int) -> run_v2.Service:
    """A service with template scaling min/max."""
    return with_template(scaling=run_v2.RevisionScaling(min_instance_count=low,
                                                        max_instance_count=high))


def ports(*numbers: int) -> run_v2.Service:
    """A service whose container declares these ports."""
    return with_container(ports=[{"container_port": n} for n in numbers])


def image(ref: str) -> run_v2.Service:
    """A service running this image reference."""
    return with_container(image=ref)


def timeout(seconds: int) -> run_v2.Service:
    """A service with this request timeout."""
    return with_template(timeout=duration_pb2.Duration(seconds=seconds))


DIGEST = "sha256:" + "ab" * 32
REG = "127.0.0.1:5000"
SIDECARS = with_template(containers=[container(ports=[{"container_port": 8080}]),
                                     container(ports=[{"container_port": 9090}])])
# rule: (service id + service the API rejects, the valid neighbour, what the error must say)
RULES = {
    "service_id_format": (("Rule", service()), ("rule", service()), "for service_id"),
    "service_id_starts_with_letter": (("1rule", service()), ("r1ule", service()),
                                      "for service_id"),
    "service_id_no_trailing_hyphen": (("rule-", service()), ("rule-1", service()),
                                      "for service_id"),
    "service_id_under_50_chars": (("r" * 50, service()), ("r" * 49, service()), "for service_id"),
    "one_container": (("rule", with_template(containers=[])), ("rule", service()),
                      "at least one container"),
    "sidecars_need_one_ingress_port": (("rule", SIDECARS), ("rule", service()), "exactly one"),
    "container_port_range": (("rule", ports(65536)), ("rule", ports(65535)),
                             "Invalid container port"),
    "single_port": (("rule", ports(80, 81)), ("rule", ports(80)), "single port"),
    "cpu_whole_values": (("rule", sized(cpu="3", memory="2Gi")),
                         ("rule", sized(cpu="4", memory="2Gi")), "Supported values are"),
    "cpu_fraction_minimum": (("rule", sized(cpu="0.05", memory="128Mi", concurrency=1)),
                             ("rule", sized(cpu="0.083", memory="128Mi", concurrency=1)),
                             "The minimum is"),
    # The stricter of the CPU page and the memory page (limits.toml, cpu_memory_table):
    "fractional_cpu_below_the_smallest_memory_tier": (
        ("rule", sized(cpu="0.08", memory="128Mi", concurrency=1)),
        ("rule", sized(cpu="0.083", memory="128Mi", concurrency=1)), "needs at least 0.083 cpu"),
    "fractional_cpu_memory_tiers": (("rule", sized(cpu="0.2", memory="512Mi", concurrency=1)),
                                    ("rule", sized(cpu="0.333", memory="512Mi", concurrency=1)),
                                    "needs at least 0.333 cpu"),
    "fractional_cpu_one_gib_needs_0_583": (("rule", sized(cpu="0.5", memory="1Gi", concurrency=1)),
                                           ("rule", sized(cpu="0.583", memory="1Gi", concurrency=1)),
                                           "needs at least 0.583 cpu"),
    "memory_max_per_cpu": (("rule", sized(cpu="1", memory="8Gi")),
                           ("rule", sized(cpu="2", memory="8Gi")), "must be at most 4096Mi"),
    "memory_min_per_cpu": (("rule", sized(cpu="4", memory="1Gi")),
                           ("rule", sized(cpu="4", memory="2Gi")), "at least 2048Mi"),
    "memory_absolute_max": (("rule", sized(cpu="8", memory="33Gi")),
                            ("rule", sized(cpu="8", memory="32Gi")), "exceeds the maximum"),
    "fractional_cpu_memory": (("rule", sized(cpu="0.999", memory="1025Mi", concurrency=1)),
                              ("rule", sized(cpu="0.999", memory="1Gi", concurrency=1)),
                              "needs at least 1 cpu"),
    "fractional_cpu_concurrency_1": (("rule", sized(cpu="0.5", concurrency=80)),
                                     ("rule", sized(cpu="0.5", concurrency=1)), "concurrency > 1"),
    "fractional_cpu_request_billing": (("rule", sized(cpu="0.5", concurrency=1, cpu_idle=False)),
                                       ("rule", sized(cpu="0.5", concurrency=1, cpu_idle=True)),
                                       "request-based"),
    "concurrency_max": (("rule", sized(concurrency=1001)), ("rule", sized(concurrency=1000)),
                        "must be between 1 and"),
    "gpu_needs_accelerator": (("rule", gpu(accelerator="")), ("rule", gpu()), "nvidia-l4"),
    "gpu_min_cpu": (("rule", gpu(cpu="2", memory="8Gi")), ("rule", gpu()), "at least 4 cpu"),
    "gpu_min_memory": (("rule", gpu(memory="8Gi")), ("rule", gpu()), "at least 16384Mi"),
    "gpu_one_per_instance": (("rule", gpu(gpu="2")), ("rule", gpu()), "At most 1 GPU"),
    "gpu_instance_billing": (("rule", gpu(cpu_idle=True)), ("rule", gpu()), "instance-based"),
    "scaling_min_le_max": (("rule", scaling(3, 2)), ("rule", scaling(2, 2)), "less than or equal"),
    "label_key_lowercase": (("rule", service(labels={"Team": "ml"})),
                            ("rule", service(labels={"team": "ml"})), "Invalid label key"),
    "label_value_length": (("rule", service(labels={"team": "m" * 64})),
                           ("rule", service(labels={"team": "m" * 63})),
                           "Invalid value for label"),
    "annotation_system_namespace": (("rule", service(annotations={"run.googleapis.com/x": "1"})),
                                    ("rule", service(annotations={"example.com/x": "1"})),
                                    "namespace"),
    "env_reserved_name": (("rule", with_env("PORT")), ("rule", with_env("MODEL_PORT")),
                          "reserved env names"),
    "env_name_no_equals": (("rule", with_env("A=B")), ("rule", with_env("A_B")),
                           "Invalid environment"),
    "env_name_unique": (("rule", with_env("A", "A")), ("rule", with_env("A", "B")),
                        "more than once"),
    "image_reference": (("rule", image(f"{REG}/Model@{DIGEST}")),
                        ("rule", image(f"{REG}/model@{DIGEST}")), "Invalid image reference"),
    "image_digest_length": (("rule", image(f"{REG}/model@sha256:abc")),
                            ("rule", image(f"{REG}/model:v1")), "Invalid image reference"),
    "timeout_max": (("rule", timeout(3601)), ("rule", timeout(3600)), "timeout must be"),
    "revision_name_prefix": (("rule", service(revision="other-v1")),
                             ("rule", service(revision="rule-v1")), "must be prefixed"),
    "traffic_sums_to_100": (("rule", with_traffic((LATEST, "", 90))),
                            ("rule", with_traffic((LATEST, "", 100))), "add up to 100"),
    "traffic_percent_range": (("rule", with_traffic((LATEST, "", 101), (REVISION, "rule-a", -1))),
                              ("rule", with_traffic((LATEST, "", 100), (REVISION, "rule-a", 0))),
                              "between 0 and 100"),
    "traffic_no_duplicate_revision": (
        ("rule", with_traffic((REVISION, "rule-a", 50), (REVISION, "rule-a", 50))),
        ("rule", with_traffic((REVISION, "rule-a", 50), (LATEST, "", 50))), "more than once"),
    "traffic_revision_target_names_revision": (("rule", with_traffic((REVISION, "", 100))),
                                               ("rule", with_traffic((LATEST, "", 100))),
                                               "must name a revision"),
    "probe_timeout_not_above_period": (("rule", probed(timeout=5, period=4)), ("rule", probed(timeout=4, period=4)),
                                       "not greater than period_seconds"),
    "startup_probe_period_at_most_240": (("rule", probed(timeout=1, period=241)),
                                         ("rule", probed(timeout=1, period=240)), "at most 240 seconds"),
    "traffic_tag_and_service_name_at_most_46": (("s" * 40, tagged("r123456")), ("s" * 40, tagged("r12345")),
                                                "cannot exceed 46 characters"),
}


def validate_only(clients, service_id: str, svc: run_v2.Service):
    """Create with validate_only: nothing is stored or started."""
    request = run_v2.CreateServiceRequest(parent=clients[2].parent, service=svc,
                                          service_id=service_id, validate_only=True)
    return clients[0].create_service(request=request).result(timeout=30)


@pytest.mark.parametrize("rule", sorted(RULES))
def test_validation_rule(clients, rule):
    (bad_id, bad), (good_id, good), reason = RULES[rule]
    with pytest.raises(gexc.GoogleAPICallError) as err:
        validate_only(clients, bad_id, bad)
    error = err.value.response.json()["error"]
    assert (err.value.code, error["status"]) == (400, "INVALID_ARGUMENT")
    assert reason in error["message"]
    assert validate_only(clients, good_id, good).name.endswith(f"/services/{good_id}")
    with pytest.raises(gexc.NotFound):  # validate_only stored nothing
        clients[0].get_service(name=f"{clients[2].parent}/services/{good_id}")


# -- data plane: real images from a local registry, pulled by digest -----------------------
APP = '''
import os, json, http.server
class Handler(http.server.BaseHTTPRequestHandler):
    frozen = False

    def do_GET(self):
        if self.path == "/crash":
            os._exit(7)
        if self.path == "/freeze":  # from now on the health check fails
            Handler.frozen = True
        if self.path == "/healthz" and Handler.frozen:
            self.send_error(500)
            return
        body = b"ok" if self.path == "/healthz" else json.dumps(
            {"version": os.environ["VERSION"], "revision": os.environ["K_REVISION"]}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
address = (os.environ["MODELPORT_HOST"], int(os.environ["PORT"]))
server = http.server.ThreadingHTTPServer(address, Handler)
server.serve_forever()
'''


@pytest.fixture(scope="module")
def echo_image(docker_client, base_image, registry, tmp_path_factory):
    """A tiny HTTP server image in the local registry, referenced by digest, absent locally."""
    context = tmp_path_factory.mktemp("echo")
    (context / "app.py").write_text(APP)
    (context / "Dockerfile").write_text(
        f'FROM {base_image}\nCOPY app.py /app.py\nCMD ["python3", "-u", "/app.py"]\n')
    repo = f"{registry.host}/modelport-test/gcp-echo"
    image, _ = docker_client.images.build(path=str(context), tag=f"{repo}:v1", rm=True)
    for line in docker_client.images.push(repo, tag="v1", stream=True, decode=True):
        assert "error" not in line, line
    digest_ref = next(d for d in docker_client.images.get(image.id).attrs["RepoDigests"]
                      if d.startswith(repo + "@"))
    docker_client.images.remove(f"{repo}:v1")  # the emulator must pull it by digest
    yield digest_ref
    try:
        docker_client.images.remove(digest_ref, force=True)
    except docker.errors.ImageNotFound:
        pass


def echo_service(image: str, revision: str, version: str, **template) -> run_v2.Service:
    """A service running the echo image with a startup probe on /healthz."""
    probe = run_v2.Probe(http_get=run_v2.HTTPGetAction(path="/healthz"), period_seconds=2,
                         failure_threshold=15)
    box = run_v2.Container(image=image, env=[run_v2.EnvVar(name="VERSION", value=version)],
                           startup_probe=probe)
    return run_v2.Service(template=run_v2.RevisionTemplate(revision=revision, containers=[box],
                                                           **template))


class IdToken(httpx.Auth):
    """An ID token for the URL each request goes to, minted by the session's emulator for its
    deployer account (services are private by default); set up by the ``clients`` fixture."""

    emulator: CloudRunEmulator | None = None

    def auth_flow(self, request):
        audience = f"{request.url.scheme}://{request.url.netloc.decode()}"
        request.headers["Authorization"] = f"Bearer {self.emulator.id_token(audience)}"
        yield request


ID_TOKEN = IdToken()


def versions_seen(uri: str, requests: int = 60) -> dict[str, int]:
    """How many of `requests` GETs on the service URL each version answered."""
    seen: dict[str, int] = {}
    with httpx.Client(timeout=10, auth=ID_TOKEN) as http:
        for _ in range(requests):
            version = http.get(uri).json()["version"]
            seen[version] = seen.get(version, 0) + 1
    return seen


def test_two_revisions_split_50_50_both_answer_through_the_service_uri(clients, echo_image):
    service_id = sid("echo")
    one, two = f"{service_id}-one", f"{service_id}-two"
    svc = create(clients, service_id, echo_service(echo_image, one, "one"))
    assert versions_seen(svc.uri, 5) == {"one": 5}

    svc.template = echo_service(echo_image, two, "two").template
    svc.traffic = [run_v2.TrafficTarget(type_=REVISION, revision=one, percent=50),
                   run_v2.TrafficTarget(type_=REVISION, revision=two, percent=50)]
    svc = update(clients, svc)
    assert sorted((s.revision, s.percent) for s in svc.traffic_statuses) == [(one, 50), (two, 50)]
    assert set(versions_seen(svc.uri)) == {"one", "two"}

    svc.traffic = [run_v2.TrafficTarget(type_=LATEST, percent=100),
                   run_v2.TrafficTarget(type_=REVISION, revision=one, percent=0, tag="old")]
    svc = update(clients, svc)
    assert versions_seen(svc.uri, 10) == {"two": 10}
    [tagged] = [s for s in svc.traffic_statuses if s.tag == "old"]
    assert versions_seen(tagged.uri, 3) == {"one": 3}  # the tag URL reaches the 0% revision

    svc.traffic = [run_v2.TrafficTarget(type_=LATEST, percent=100)]
    svc = update(clients, svc)
    running = _wait_for_containers(clients[2], svc.name, 1)
    revisions = {c.labels["modelport.gcp.revision"] for c in running}
    assert revisions == {two}  # `one` lost its traffic and was stopped after the grace period
    clients[0].delete_service(name=svc.name).result(timeout=60)


def push_arm64_image(registry) -> str:
    """An image whose config says linux/arm64, made by hand (no emulation of another CPU here):
    one layer with one file, config and OCI manifest pushed with the registry's HTTP API.
    Returns its reference by digest."""
    import gzip
    import hashlib
    import io
    import json
    import tarfile

    def sha(data: bytes) -> str:
        return "sha256:" + hashlib.sha256(data).hexdigest()

    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        info = tarfile.TarInfo("serve.txt")
        body = b"an arm64 image\n"
        info.size = len(body)
        tar.addfile(info, io.BytesIO(body))
    layer = gzip.compress(raw.getvalue(), mtime=0)
    config = json.dumps({"architecture": "arm64", "os": "linux", "config": {"Cmd": ["/serve"]},
                         "rootfs": {"type": "layers", "diff_ids": [sha(raw.getvalue())]}}).encode()
    repo = f"modelport-test/arm64-{next(_counter)}"
    with httpx.Client(base_url=registry.url, timeout=30) as http:
        for blob in (layer, config):
            start = http.post(f"/v2/{repo}/blobs/uploads/")
            assert start.status_code == 202, start.text
            location = start.headers["Location"]  # carries the upload's state in its query
            done = http.put(f"{location}{'&' if '?' in location else '?'}digest={sha(blob)}", content=blob,
                            headers={"Content-Type": "application/octet-stream"})
            assert done.status_code == 201, done.text
        manifest = json.dumps({
            "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": sha(config),
                       "size": len(config)},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": sha(layer),
                        "size": len(layer)}]}).encode()
        put = http.put(f"/v2/{repo}/manifests/{sha(manifest)}", content=manifest,
                       headers={"Content-Type": "application/vnd.oci.image.manifest.v1+json"})
        assert put.status_code == 201, put.text
    return f"{registry.host}/{repo}@{sha(manifest)}"


def test_image_built_for_arm64_does_not_start(clients, registry, echo_image):
    """Cloud Run runs linux/amd64 executables only (container runtime contract): a revision of
    an arm64 image fails and the one before keeps serving."""
    service_id = sid("arch")
    svc = create(clients, service_id, echo_service(echo_image, f"{service_id}-amd64", "amd64"))
    svc.template = run_v2.RevisionTemplate(revision=f"{service_id}-arm64",
                                           containers=[run_v2.Container(image=push_arm64_image(registry))])
    with pytest.raises(gexc.FailedPrecondition) as err:
        update(clients, svc)
    assert "built for linux/arm64" in err.value.message and "linux/amd64" in err.value.message
    failed = clients[1].get_revision(name=f"{svc.name}/revisions/{service_id}-arm64")
    ready = next(c for c in failed.conditions if c.type_ == "Ready")
    assert ready.state == run_v2.Condition.State.CONDITION_FAILED
    assert ready.revision_reason == run_v2.Condition.RevisionReason.HEALTH_CHECK_CONTAINER_ERROR
    assert versions_seen(clients[0].get_service(name=svc.name).uri, 3) == {"amd64": 3}
    clients[0].delete_service(name=svc.name).result(timeout=60)


def _wait_for_containers(emu, name: str, count: int, deadline_s: float = 30.0) -> list:
    end = time.monotonic() + deadline_s
    while True:
        running = emulator_containers(emu, name)
        if len(running) == count or time.monotonic() > end:
            return running
        time.sleep(0.5)


def test_revision_that_exits_is_not_ready_and_keeps_the_old_one_serving(clients, echo_image):
    service_id = sid("crash")
    good = create(clients, service_id, echo_service(echo_image, f"{service_id}-good", "good"))
    crashing = echo_service(echo_image, f"{service_id}-bad", "bad")
    crashing.template.containers[0].command = ["sh", "-c", "echo starting; exit 3"]
    good.template = crashing.template
    with pytest.raises(gexc.FailedPrecondition) as err:
        update(clients, good)
    assert "is not ready and cannot serve traffic" in err.value.message

    after = clients[0].get_service(name=good.name)
    assert after.latest_ready_revision.endswith(f"{service_id}-good")
    assert after.latest_created_revision.endswith(f"{service_id}-bad")
    assert after.terminal_condition.state == run_v2.Condition.State.CONDITION_FAILED
    bad = clients[1].get_revision(name=after.latest_created_revision)
    ready = next(c for c in bad.conditions if c.type_ == "Ready")
    assert ready.state == run_v2.Condition.State.CONDITION_FAILED
    assert ready.revision_reason == run_v2.Condition.RevisionReason.HEALTH_CHECK_CONTAINER_ERROR
    assert "exited with code 3" in ready.message
    assert versions_seen(after.uri, 5) == {"good": 5}


def test_env_from_secret_manager_reference(clients, echo_image):
    emu = clients[2].emulator
    emu.add_secret("model-version", "from-secret")
    service_id = sid("secret")
    svc = echo_service(echo_image, f"{service_id}-a", "unused")
    ref = run_v2.SecretKeySelector(secret="model-version", version="latest")
    svc.template.containers[0].env = [
        run_v2.EnvVar(name="VERSION", value_source=run_v2.EnvVarSource(secret_key_ref=ref))]
    created = create(clients, service_id, svc)
    assert versions_seen(created.uri, 2) == {"from-secret": 2}

    created.template.revision = f"{service_id}-b"
    created.template.containers[0].env[0].value_source.secret_key_ref.secret = "no-such-secret"
    with pytest.raises(gexc.FailedPrecondition):
        update(clients, created)
    failed = clients[1].get_revision(name=f"{created.name}/revisions/{service_id}-b")
    ready = next(c for c in failed.conditions if c.type_ == "Ready")
    assert ready.reason == run_v2.Condition.CommonReason.SECRETS_ACCESS_CHECK_FAILED
    assert "no-such-secret" in ready.message


def test_standalone_module_prints_its_endpoint_and_serves(docker_host, tmp_path):
    repo = str(Path(__file__).resolve().parents[2])
    env = {**os.environ, "DOCKER_HOST": docker_host, "PYTHONPATH": repo}
    log = (tmp_path / "emulator.log").open("w")
    proc = subprocess.Popen([sys.executable, "-m", "moto_fixtures.gcp", "--port", "0"],
                            stdout=subprocess.PIPE, stderr=log, text=True, env=env)
    try:
        endpoint = proc.stdout.readline().strip()
        assert endpoint.startswith("http://127.0.0.1:")
        services = run_v2.ServicesClient(
            credentials=AnonymousCredentials(), transport="rest",
            client_options=ClientOptions(api_endpoint=endpoint))
        assert list(services.list_services(parent="projects/demo/locations/us-central1")) == []
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
        log.close()


def test_size_rules_come_from_the_limits_table(docker_host, tmp_path):
    from moto_fixtures.gcp.limits import find_limits_file

    table = find_limits_file().read_text()
    assert "whole_options = [1, 2, 4, 6, 8]" in table
    edited = tmp_path / "limits.toml"
    edited.write_text(table.replace("whole_options = [1, 2, 4, 6, 8]",
                                    "whole_options = [1, 2, 4, 8]"))
    six_cpu = sized(cpu="6", memory="8Gi")
    with CloudRunEmulator(docker_host=docker_host, limits_file=str(edited)) as emulator:
        services = run_v2.ServicesClient(
            credentials=AnonymousCredentials(), transport="rest",
            client_options=ClientOptions(api_endpoint=emulator.endpoint))
        request = run_v2.CreateServiceRequest(parent="projects/p/locations/us-central1",
                                              service=six_cpu, service_id="six",
                                              validate_only=True)
        with pytest.raises(gexc.BadRequest) as err:
            services.create_service(request=request)
        assert "Supported values are 1, 2, 4, 8" in err.value.response.json()["error"]["message"]


def answer_within(url: str, seconds: float) -> httpx.Response:
    """GET `url` until it answers 200 or `seconds` pass; the last reply."""
    deadline = time.monotonic() + seconds
    while True:
        reply = httpx.get(url, auth=ID_TOKEN, timeout=10)
        if reply.status_code == 200 or time.monotonic() > deadline:
            return reply
        time.sleep(0.5)


def test_instance_that_crashes_after_start_is_replaced(clients, echo_image):
    service_id = sid("phoenix")
    svc = create(clients, service_id, echo_service(echo_image, f"{service_id}-a", "a"))
    with pytest.raises(httpx.HTTPError):  # the process dies mid-request
        httpx.get(f"{svc.uri}/crash", auth=ID_TOKEN, timeout=10).raise_for_status()
    reply = answer_within(svc.uri, 60)
    assert reply.json()["version"] == "a"
    [box] = emulator_containers(clients[2], svc.name)
    assert box.attrs["RestartCount"] >= 1


def test_instance_failing_its_liveness_probe_is_restarted(clients, echo_image):
    service_id = sid("alive")
    svc = echo_service(echo_image, f"{service_id}-a", "a")
    svc.template.containers[0].liveness_probe = run_v2.Probe(
        http_get=run_v2.HTTPGetAction(path="/healthz"), period_seconds=1, failure_threshold=2)
    svc = create(clients, service_id, svc)
    [box] = emulator_containers(clients[2], svc.name)
    started_at = box.attrs["State"]["StartedAt"]
    assert httpx.get(f"{svc.uri}/freeze", auth=ID_TOKEN, timeout=10).status_code == 200
    deadline = time.monotonic() + 60
    while box.attrs["State"]["StartedAt"] == started_at and time.monotonic() < deadline:
        time.sleep(0.5)
        box.reload()
    assert box.attrs["State"]["StartedAt"] != started_at  # a new process
    reply = answer_within(f"{svc.uri}/healthz", 30)
    assert (reply.status_code, reply.text) == (200, "ok")  # not frozen any more
