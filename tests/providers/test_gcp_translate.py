"""translate / reading of the gcp provider as pure functions (RevisionSpec <-> Cloud Run data)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from modelport.errors import SpecError, UsageError
from modelport.provider import ImageRef, RevisionSpec, Size
from modelport_providers.gcp import reading
from modelport_providers.gcp import translate as tr
from modelport_providers.gcp.settings import GcpSettings

DIGEST = "sha256:" + "ab" * 32
SETTINGS = GcpSettings(project="my-project", region="europe-west1")
REV = RevisionSpec(deployment="iris", revision="r3", image=ImageRef(DIGEST, "sha256:" + "cd" * 32,
                   f"europe-west1-docker.pkg.dev/my-project/modelport/iris@{DIGEST}"),
                   size=Size(2, 4096), port=8080, env={"LOG_LEVEL": "info"},
                   secrets={"DB_PASSWORD": "gcp-sm:projects/p2/secrets/db/versions/3", "TOKEN": "env:TOKEN"},
                   min_instances=1, max_instances=4, concurrency=40, model_name="iris", model_version="1.0.0",
                   config="0123456789abcdef", secret_values={"TOKEN": "s3cret"})


def test_template_of_a_revision():
    assert tr.template(REV, SETTINGS) == {
        "revision": "iris-r3",
        "labels": {"modelport-deployment": "iris", "modelport-revision": "r3",
                   "modelport-digest": "ab" * 31 + "a", "modelport-config": "0123456789abcdef"},
        "annotations": {"modelport.io/digest": DIGEST, "modelport.io/model": "iris",
                        "modelport.io/model-version": "1.0.0"},
        "scaling": {"min_instance_count": 1, "max_instance_count": 4},
        "max_instance_request_concurrency": 40,
        "timeout": {"seconds": 300},
        "containers": [{
            "name": "model", "image": f"europe-west1-docker.pkg.dev/my-project/modelport/iris@{DIGEST}",
            "ports": [{"name": "http1", "container_port": 8080}],
            "env": [{"name": "DB_PASSWORD", "value_source": {"secret_key_ref": {
                        "secret": "projects/p2/secrets/db", "version": "3"}}},
                    {"name": "LOG_LEVEL", "value": "info"},
                    {"name": "TOKEN", "value": "***"}],
            "resources": {"limits": {"cpu": "2", "memory": "4096Mi"}, "cpu_idle": True, "startup_cpu_boost": True},
            "startup_probe": {"http_get": {"path": "/v2/health/ready"}, "initial_delay_seconds": 0,
                              "period_seconds": 5, "timeout_seconds": 3, "failure_threshold": 24},
            "liveness_probe": {"http_get": {"path": "/v2/health/ready"}, "period_seconds": 15,
                               "timeout_seconds": 5, "failure_threshold": 3},
        }],
    }


def test_secret_values_only_when_creating_and_never_in_repr():
    shown = tr.container(REV, SETTINGS)["env"]
    sent = tr.container(REV, SETTINGS, reveal=True)["env"]
    assert {"name": "TOKEN", "value": "***"} in shown
    assert {"name": "TOKEN", "value": "s3cret"} in sent
    assert "s3cret" not in repr(REV)
    with pytest.raises(UsageError):
        tr.container(replace(REV, secret_values={}), SETTINGS, reveal=True)


def test_service_request_pins_traffic_and_labels_the_service():
    public = GcpSettings(project="my-project", region="europe-west1", ingress="internal")
    traffic = tr.traffic("iris", {"r2": 100}, tagged=["r3"])
    body = tr.service_request(REV, public, traffic)
    assert body["labels"] == {"modelport-deployment": "iris", "modelport-managed": "true"}
    assert body["ingress"] == "INGRESS_TRAFFIC_INTERNAL_ONLY"
    assert body["traffic"] == [
        {"type_": "TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION", "revision": "iris-r2", "percent": 100, "tag": "r2"},
        {"type_": "TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION", "revision": "iris-r3", "percent": 0, "tag": "r3"}]


def test_traffic_orders_by_revision_number_and_keeps_only_live_or_tagged():
    assert [(t["revision"], t["percent"]) for t in tr.traffic("m", {"r10": 10, "r9": 90, "r1": 0})] == [
        ("m-r9", 90), ("m-r10", 10)]


@pytest.mark.parametrize("ref,expected", [
    ("gcp-sm:projects/p/secrets/s/versions/7", {"secret": "projects/p/secrets/s", "version": "7"}),
    ("gcp-sm:projects/p/secrets/s", {"secret": "projects/p/secrets/s", "version": "latest"}),
    ("gcp-sm:s", {"secret": "s", "version": "latest"}),
    ("gcp-sm:s/versions/2", {"secret": "s", "version": "2"}),
])
def test_secret_manager_references(ref, expected):
    assert tr.secret_key_ref("K", ref) == expected


@pytest.mark.parametrize("ref", ["gcp-sm:projects/p/secrets", "gcp-sm:projects/p/secrets/s/v/3", "gcp-sm:a/b",
                                 "gcp-sm:"])
def test_bad_secret_manager_references_are_spec_errors(ref):
    with pytest.raises(SpecError) as err:
        tr.secret_key_ref("K", ref)
    assert err.value.field == "secrets.K"


def test_fractional_cpu_needs_concurrency_one_and_request_billing():
    with pytest.raises(SpecError) as err:
        tr.template(replace(REV, size=Size(0.5, 1024)), SETTINGS)
    assert err.value.field == "scaling.concurrency"
    small = tr.template(replace(REV, size=Size(0.5, 512), concurrency=1), SETTINGS)
    assert small["containers"][0]["resources"]["limits"] == {"cpu": "500m", "memory": "512Mi"}
    assert small["containers"][0]["resources"]["cpu_idle"] is True
    assert small["execution_environment"] == "EXECUTION_ENVIRONMENT_GEN1"


def test_gpu_template_uses_l4_and_instance_billing():
    t = tr.template(replace(REV, size=Size(4, 16384, gpu=1, gpu_type="nvidia-l4")), SETTINGS)
    assert t["node_selector"] == {"accelerator": "nvidia-l4"}
    assert t["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == "1"
    assert t["containers"][0]["resources"]["cpu_idle"] is False


def test_always_allocated_cpu_and_service_account():
    s = GcpSettings(project="my-project", region="europe-west1", cpu_always_allocated=True,
                    service_account="runner@my-project.iam.gserviceaccount.com", request_timeout_s=60)
    t = tr.template(REV, s)
    assert t["containers"][0]["resources"]["cpu_idle"] is False
    assert t["service_account"] == "runner@my-project.iam.gserviceaccount.com"
    assert t["timeout"] == {"seconds": 60}


@pytest.mark.parametrize("name", ["PORT", "K_REVISION", "X_GOOGLE_FOO"])
def test_reserved_env_names_are_refused(name):
    with pytest.raises(SpecError) as err:
        tr.template(replace(REV, env={name: "1"}), SETTINGS)
    assert err.value.field == f"env.{name}"


def test_image_must_be_referenced_by_digest():
    with pytest.raises(UsageError):
        tr.template(replace(REV, image=ImageRef(DIGEST, "x", None)), SETTINGS)


def test_settings_anonymous_needs_an_endpoint():
    with pytest.raises(ValueError):
        GcpSettings(project="my-project", region="us-central1", credentials="anonymous")
    GcpSettings(project="my-project", region="us-central1", credentials="anonymous",
                api_endpoint="http://127.0.0.1:1")


@pytest.mark.parametrize("policy,public,expected", [
    ({"bindings": [], "etag": b"e"}, True,
     {"bindings": [{"role": "roles/run.invoker", "members": ["allUsers"]}], "etag": b"e"}),
    ({"bindings": [{"role": "roles/run.invoker", "members": ["user:a@b.c"]}]}, True,
     {"bindings": [{"role": "roles/run.invoker", "members": ["user:a@b.c", "allUsers"]}]}),
    ({"bindings": [{"role": "roles/run.invoker", "members": ["allUsers"]}]}, False, {"bindings": []}),
    ({"bindings": [{"role": "roles/run.invoker", "members": ["allUsers"]}]}, True, None),
    ({"bindings": []}, False, None),
])
def test_invoker_policy(policy, public, expected):
    assert tr.invoker_policy(policy, public) == expected


SERVICE = {
    "name": "projects/p/locations/r/services/iris", "uri": "http://127.0.0.1:4000",
    "labels": {"modelport-deployment": "iris"},
    "traffic": [{"type_": "TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION", "revision": "iris-r1", "percent": 90, "tag": "r1"},
                {"type_": "TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION", "revision": "iris-r2", "percent": 10, "tag": "r2"}],
    "traffic_statuses": [{"revision": "iris-r1", "percent": 90, "tag": "r1", "uri": ""},
                         {"revision": "iris-r2", "percent": 10, "tag": "r2", "uri": "https://r2---iris-x.a.run.app"}],
    "terminal_condition": {"type": "Ready", "state": "CONDITION_SUCCEEDED"},
}


def _revision(n: str, state: str = "CONDITION_SUCCEEDED") -> dict:
    return {"name": f"projects/p/locations/r/services/iris/revisions/iris-{n}", "create_time": f"2026-01-0{n[1]}",
            "labels": {"modelport-deployment": "iris", "modelport-revision": n, "modelport-config": "c" + n},
            "annotations": {"modelport.io/model-version": "1." + n[1]},
            "containers": [{"image": f"reg/iris@{DIGEST}"}],
            "conditions": [{"type_": "Ready", "state": state, "message": "m" + n}]}


def test_observed_from_cloud_data():
    obs = reading.observed(SERVICE, [_revision("r2"), _revision("r1"), {"name": "x/revisions/other", "labels": {}}], "iris")
    assert [r.name for r in obs.revisions] == ["r1", "r2"]
    assert obs.traffic == {"r1": 90, "r2": 10}
    assert obs.endpoint == "http://127.0.0.1:4000"
    assert obs.revision("r1").digest == DIGEST and obs.revision("r1").config == "cr1"
    assert obs.revision("r2").endpoint == "https://r2---iris-x.a.run.app"
    assert obs.revision("r1").extra["model_version"] == "1.1"
    assert reading.observed(None, [], "iris").exists is False


def test_revision_health_uses_the_tag_url_or_the_tag_host():
    assert reading.revision_health(_revision("r2"), SERVICE, "r2").endpoint == "https://r2---iris-x.a.run.app"
    health = reading.revision_health(_revision("r1"), SERVICE, "r1")
    assert (health.ready, health.endpoint, dict(health.headers)) == (
        True, "http://127.0.0.1:4000", {"Host": "r1---127.0.0.1:4000"})
    failed = reading.revision_health(_revision("r1", "CONDITION_FAILED"), SERVICE, "r1")
    assert (failed.ready, failed.failed, failed.message) == (False, True, "mr1")
    assert reading.revision_health(None, SERVICE, "r9").failed


def test_traffic_tag_and_service_name_fit_cloud_runs_46_characters():
    """Cloud Run refuses a tag that with the service name passes 46 characters (one DNS label of
    the tag URL); plan refuses it naming the deployment name, before any cloud call."""
    from modelport.provider import Target
    from modelport_providers.gcp.provider import GcpProvider

    name = "a" * 40
    assert tr.traffic(name, {"r12345": 100})[0]["tag"] == "r12345"  # 46: the most Cloud Run takes
    with pytest.raises(SpecError) as err:
        tr.traffic(name, {"r1": 100}, tagged=["r123456"])
    assert err.value.field == "name" and "46" in err.value.reason and "at most 39" in err.value.hint
    target = Target("prod", "gcp", SETTINGS)
    assert GcpProvider().translate(replace(REV, deployment=name, revision="r12345"), target)["service"]
    with pytest.raises(SpecError) as err:
        GcpProvider().translate(replace(REV, deployment=name, revision="r123456"), target)
    assert err.value.field == "name"


def test_the_template_read_back_from_a_revision_is_the_one_that_made_it():
    """What the undo of a new revision sends: the serving revision's own template, by name (a
    different configuration under that name would be refused with a 409)."""
    from google.cloud import run_v2

    made = tr.template(REV, SETTINGS, reveal=True)
    name = f"projects/my-project/locations/europe-west1/services/iris/revisions/{made['revision']}"
    fields = {k: v for k, v in made.items() if k != "revision"}
    served = run_v2.Revision({**fields, "name": name, "uid": "u", "generation": 3, "reconciling": False,
                              "labels": {**made["labels"], "run.googleapis.com/startupProbeType": "Custom"},
                              "conditions": [{"type_": "Ready", "state": "CONDITION_SUCCEEDED"}]})
    data = type(served).to_dict(served, use_integers_for_enums=False, preserving_proto_field_name=True)
    back = reading.template_of(data)
    assert back["revision"] == "iris-r3" and "run.googleapis.com/startupProbeType" not in back["labels"]
    assert run_v2.RevisionTemplate(back) == run_v2.RevisionTemplate(made)


def test_the_successor_of_a_leaving_revision_is_the_one_serving():
    def rev(short, ready=True, created="2026-01-01"):
        return {"name": f"s/revisions/{short}", "create_time": created,
                "conditions": [{"type_": "Ready", "state": reading.READY if ready else reading.FAILED}]}

    revisions = [rev("iris-r1", created="1"), rev("iris-r2", created="2"), rev("iris-r3", ready=False, created="3")]
    service = {"traffic_statuses": [{"revision": "iris-r1", "percent": 100}]}
    assert reading.successor(service, revisions, "s/revisions/iris-r3")["name"] == "s/revisions/iris-r1"
    assert reading.successor({}, revisions, "s/revisions/iris-r1")["name"] == "s/revisions/iris-r2", \
        "no traffic: the newest ready one"
    assert reading.successor({}, revisions[:1], "s/revisions/iris-r1") is None
