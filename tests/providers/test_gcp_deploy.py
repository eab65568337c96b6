"""gcp provider against the Cloud Run emulator, driven through modelport's public API; what the
cloud holds is read back with the official google-cloud-run client.

The engine's endpoint gate sends no identity token, so deployments that go through gates are
public (``public = true``); a private service is exercised at the provider level.
"""

from __future__ import annotations

import httpx
import pytest
from google.api_core import exceptions as gexc

import modelport.api as mp
from modelport.errors import ProviderError, SpecError, SpecErrors
from tests.providers.gcp.helpers import (cloud, gcp_target, modelport_home, read_service, revision_ids,  # noqa: F401
                                         served_version, service_containers, service_name, services_client,
                                         unique, write_project)

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.timeout(600)]


def test_deploy_status_noop_destroy(tmp_path, session, cloud, registry):
    name = unique()
    project = write_project(tmp_path / "v1", "1", name, {"gcp": gcp_target(cloud, registry)})
    # plan says what each scaling key becomes on Cloud Run
    planned = mp.plan(project, "gcp", session=session)
    shown = planned.render()
    assert "scaling.min_instances: 1 -> template.scaling.min_instance_count = 1 (1 instance(s) kept warm" in shown
    assert "scaling.max_instances: 2 -> template.scaling.max_instance_count = 2" in shown
    assert "scaling.concurrency: 80 -> template.max_instance_request_concurrency = 80" in shown
    assert "billing: request-based" in shown
    [create] = [st for st in planned.to_dict()["steps"] if st["op"] == "create_revision"]
    assert create["resources"]["template"]["scaling"] == {"min_instance_count": 1, "max_instance_count": 2}
    result = mp.deploy(project, "gcp", session=session)
    service = read_service(cloud, name)
    assert result.status == "succeeded" and result.revision == "r1"
    assert result.endpoint == service.uri
    assert served_version(result.endpoint) == "1"

    # what Cloud Run holds, read with the official client
    template = service.template
    box = template.containers[0]
    digest = result.outputs["image"]["digest"]
    assert template.revision == f"{name}-r1"
    assert box.image == f"{registry.host}/gcp/{name}@{digest}"
    assert dict(box.resources.limits) == {"cpu": "1", "memory": "1024Mi"}
    assert box.startup_probe.http_get.path == "/v2/health/ready"
    assert box.liveness_probe.http_get.path == "/v2/health/ready"
    assert box.ports[0].container_port == 8080
    assert (template.scaling.min_instance_count, template.scaling.max_instance_count) == (1, 2)
    assert template.max_instance_request_concurrency == 80
    assert dict(template.labels) == {"modelport-deployment": name, "modelport-revision": "r1",
                                     "modelport-digest": digest[7:70],
                                     "modelport-config": template.labels["modelport-config"]}
    assert dict(service.labels) == {"modelport-deployment": name, "modelport-managed": "true"}
    assert [(t.revision, t.percent, t.tag) for t in service.traffic] == [(f"{name}-r1", 100, "r1")]
    policy = services_client(cloud).get_iam_policy(request={"resource": service.name})
    assert [(b.role, list(b.members)) for b in policy.bindings] == [("roles/run.invoker", ["allUsers"])]

    [status] = mp.status(name, session=session)
    assert status["traffic"] == {"r1": 100} and status["endpoint"] == service.uri
    assert [(r["name"], r["digest"], r["ready"], r["model_version"]) for r in status["revisions"]] == [
        ("r1", digest, True, "1.0.0")]
    assert status["drift"] == []

    # a second deploy of the same spec plans nothing and writes nothing
    generation = service.generation
    again = mp.plan(project, "gcp", session=session)
    assert again.empty, again.render()
    assert mp.deploy(project, "gcp", session=session).status == "unchanged"
    assert read_service(cloud, name).generation == generation

    mp.destroy(name, "gcp", session=session)
    with pytest.raises(gexc.NotFound):
        read_service(cloud, name)
    assert service_containers(cloud, name) == []
    assert mp.status(session=session) == []


def test_private_service_refuses_anonymous_calls_and_public_flips_iam(tmp_path, session, cloud, registry):
    """IAM and ingress at the provider level (with anonymous credentials the gates send no identity
    token, so a private service is driven here without gates; tests/access deploys one with
    google-auth's default chain through every gate)."""
    name = unique()
    project = write_project(tmp_path / "v1", "1", name, {
        "private": gcp_target(cloud, registry, public=False, ingress="internal"),
        "public": gcp_target(cloud, registry, public=True)})
    loaded = mp.validate(project, session)
    provider, private = session.target(loaded, "private")
    _, public = session.target(loaded, "public")
    image = mp.build(project, session)
    from modelport.engine.images import ImageMover
    from modelport.engine.revision import revision_spec, size_of
    from modelport.provider import ImageRef

    placed = ImageRef(image.digest, image.image_id).at(provider.registry(private, name).repository)
    ImageMover().push((provider, private), name, image.digest)
    # another machine (its own empty image store) resuming after the push: nothing to push again;
    # an image in neither place is an error naming the local store
    said: list[str] = []
    with pytest.MonkeyPatch.context() as other_machine:
        other_machine.setenv("MODELPORT_HOME", str(tmp_path / "other-machine"))
        ImageMover(report=said.append).push((provider, private), name, image.digest)
        assert said and "already in the registry" in said[0], said
        with pytest.raises(ProviderError, match="not in the local image store"):
            ImageMover().push((provider, private), name, "sha256:" + "0" * 64)
    rev = revision_spec(loaded.spec, placed, "r1", size_of(loaded.spec), private.settings)
    provider.create_revision(private, rev)
    service = read_service(cloud, name)
    policy = services_client(cloud).get_iam_policy(request={"resource": service.name})
    assert all("allUsers" not in b.members for b in policy.bindings)
    assert service.ingress.name == "INGRESS_TRAFFIC_INTERNAL_ONLY"
    assert httpx.get(f"{service.uri}/v2/health/ready").status_code == 403
    assert httpx.get(f"{service.uri}/v2/health/ready", headers={"Authorization": "Bearer any-token"}).status_code == 401
    assert served_version(service.uri, {"Authorization": f"Bearer {cloud.emulator.id_token(service.uri)}"}) == "1"
    assert provider.create_revision(private, rev).name == "r1", "creating it again changes nothing"
    assert read_service(cloud, name).generation == service.generation

    # the same deployment made public: a new revision, allUsers may invoke
    rev2 = revision_spec(loaded.spec, placed, "r2", size_of(loaded.spec), public.settings)
    provider.create_revision(public, rev2)
    provider.set_traffic(public, name, {"r2": 100})
    policy = services_client(cloud).get_iam_policy(request={"resource": service.name})
    assert [list(b.members) for b in policy.bindings if b.role == "roles/run.invoker"] == [["allUsers"]]
    assert served_version(service.uri) == "1"
    provider.delete_revision(public, name, "r1")
    provider.delete_revision(public, name, "r1")  # a missing revision is not an error
    assert revision_ids(cloud, name) == [f"{name}-r2"]
    mine = [(r.kind, r.revision, r.digest) for r in provider.list_resources(public) if r.deployment == name]
    assert mine == [("cloud-run-service", None, None), ("cloud-run-revision", "r2", image.digest)]
    service_resource = next(r for r in provider.list_resources(public) if r.deployment == name)
    provider.delete_resource(public, service_resource)
    with pytest.raises(gexc.NotFound):
        read_service(cloud, name)
    assert service_containers(cloud, name) == []


def test_secret_manager_reference_reaches_the_container(tmp_path, session, cloud, registry):
    name = unique()
    cloud.emulator.add_secret(f"projects/{cloud.project}/secrets/{name}-db", "hunter2-value", version="3")
    secrets = {"DB_PASSWORD": f"gcp-sm:projects/{cloud.project}/secrets/{name}-db/versions/3"}
    project = write_project(tmp_path / "v1", "1", name, {"gcp": gcp_target(cloud, registry)}, secrets=secrets)
    plan = mp.plan(project, "gcp", session=session)
    assert "hunter2" not in plan.render()
    mp.deploy(project, "gcp", session=session)
    env = read_service(cloud, name).template.containers[0].env
    ref = next(e for e in env if e.name == "DB_PASSWORD").value_source.secret_key_ref
    assert (ref.secret, ref.version) == (f"projects/{cloud.project}/secrets/{name}-db", "3")
    [box] = [c for c in service_containers(cloud, name) if c.status == "running"]
    assert "DB_PASSWORD=hunter2-value" in box.attrs["Config"]["Env"]
    mp.destroy(name, "gcp", session=session)


def test_impossible_size_is_refused_before_any_cloud_call(tmp_path, session, cloud, registry):
    name = unique()
    project = write_project(tmp_path / "big", "1", name, {"gcp": gcp_target(cloud, registry)}, memory="8Gi")
    with pytest.raises((SpecError, SpecErrors)) as err:
        mp.plan(project, "gcp", session=session)
    assert "resources.memory" in str(err.value) and "needs at least 2 vCPU" in str(err.value)
    with pytest.raises(gexc.NotFound):
        read_service(cloud, name)


def test_fractional_cpu_needs_concurrency_one(tmp_path, session, cloud, registry):
    name = unique()
    target = {"gcp": gcp_target(cloud, registry)}
    with pytest.raises(SpecErrors, match="scaling.concurrency"):  # at validate, before the build
        mp.plan(write_project(tmp_path / "a", "1", name, target, cpu=0.5, memory="512Mi"), "gcp", session=session)
    result = mp.deploy(write_project(tmp_path / "b", "1", name, target, cpu=0.5, memory="512Mi", concurrency=1),
                       "gcp", session=session)
    box = read_service(cloud, name).template.containers[0]
    assert dict(box.resources.limits) == {"cpu": "500m", "memory": "512Mi"} and box.resources.cpu_idle
    assert served_version(result.endpoint) == "1"
    mp.destroy(name, "gcp", session=session)


def test_foreign_service_with_the_same_name_is_not_touched(tmp_path, session, cloud, registry):
    from google.cloud import run_v2

    name = unique()
    foreign = run_v2.Service(template=run_v2.RevisionTemplate(containers=[run_v2.Container(
        image="modelport-base:bookworm", command=["sh", "-c", "exec python3 -m http.server $PORT --bind $MODELPORT_HOST"])]))
    services_client(cloud).create_service(parent=cloud.parent, service=foreign, service_id=name).result(timeout=120)
    project = write_project(tmp_path / "v1", "1", name, {"gcp": gcp_target(cloud, registry)})
    with pytest.raises(ProviderError, match="not created by modelport"):
        mp.deploy(project, "gcp", session=session)
    assert revision_ids(cloud, name) and read_service(cloud, name).template.revision == ""
    services_client(cloud).delete_service(name=service_name(cloud, name)).result(timeout=120)
