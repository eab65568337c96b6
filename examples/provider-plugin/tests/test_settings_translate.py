"""Pure parts: settings validation, the service a revision becomes, address choice, task states."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from modelport.errors import ProviderError, UsageError
from modelport.provider import REDACTED, TAG_CONFIG, TAG_DEPLOYMENT, TAG_DIGEST, TAG_REVISION, ImageRef, RevisionSpec, Size
from modelport_swarm import addresses, status
from modelport_swarm.settings import SwarmSettings
from modelport_swarm.translate import L_ADDRESS, L_PORT, image_for, service_name, service_spec

DIGEST, IMAGE_ID = "sha256:" + "a" * 64, "sha256:" + "b" * 64


def rev(**changes) -> RevisionSpec:
    base = dict(deployment="iris", revision="r3", image=ImageRef(DIGEST, IMAGE_ID), size=Size(0.5, 1024), port=8080,
                env={"LOG_LEVEL": "info"}, secrets={"TOKEN": "env:TOKEN"}, min_instances=2, max_instances=4,
                concurrency=80, model_name="iris", model_version="1.0.0", config="c0ffee",
                secret_values={"TOKEN": "s3cret-value"})
    return RevisionSpec(**{**base, **changes})


def test_defaults_and_unknown_keys():
    assert SwarmSettings().address == "loopback" and SwarmSettings().reserve == 1.0
    with pytest.raises(ValidationError, match="no_such"):
        SwarmSettings(no_such=1)


@pytest.mark.parametrize("bad, field", [
    ({"address": "not-an-ip"}, "address"),
    ({"address": "0.0.0.0"}, "port_range"),  # an IP needs a port per revision
    ({"address": "0.0.0.0", "port_range": [9000, 8000]}, "port_range"),
    ({"loopback_range": "10.0.0.0/8"}, "loopback_range"),
    ({"labels": {"modelport:revision": "x"}}, "labels"),
    ({"registry": "http://reg.example/x"}, "registry"),
    ({"reserve": 1.5}, "reserve"),
])
def test_bad_settings_are_refused(bad, field):
    with pytest.raises(ValidationError) as caught:
        SwarmSettings(**bad)
    assert field in str(caught.value)


def test_service_spec_maps_the_revision():
    settings = SwarmSettings(reserve=0.5, constraints=("node.role==worker",), labels={"team": "ml"})
    spec = service_spec(rev(), settings, "prod", "127.1.0.7", 8080, reveal=True)
    assert spec["name"] == "mp-prod-iris-r3"
    assert spec["image"] == IMAGE_ID, "without a registry the manager's image ID runs"
    assert spec["args"] == ["serve"] and spec["networks"] == ["host"]
    assert spec["env"]["MODELPORT_HOST"] == "127.1.0.7" and spec["env"]["PORT"] == "8080"
    assert spec["env"]["TOKEN"] == "s3cret-value" and spec["env"]["LOG_LEVEL"] == "info"
    labels = spec["labels"]
    assert {labels[TAG_DEPLOYMENT], labels[TAG_REVISION], labels[TAG_DIGEST], labels[TAG_CONFIG]} == \
        {"iris", "r3", DIGEST, "c0ffee"}
    assert labels["team"] == "ml" and labels[L_ADDRESS] == "127.1.0.7" and labels[L_PORT] == "8080"
    assert spec["container_labels"][TAG_REVISION] == "r3"
    assert spec["replicas"] == 2
    assert spec["resources"] == {"limits": {"nano_cpus": 500_000_000, "memory_bytes": 1024 * 2**20},
                                 "reservations": {"nano_cpus": 250_000_000, "memory_bytes": 512 * 2**20}}
    assert spec["placement"] == {"constraints": ["node.role==worker"], "max_replicas_per_node": 1}
    probe = spec["healthcheck"]["test"][-1]
    assert "('127.1.0.7', 8080)" in probe and "GET /v2/health/ready" in probe
    assert spec["update"]["failure_action"] == "rollback" and spec["update"]["order"] == "stop-first"
    assert any("autoscale" in n for n in spec["notes"])


def test_plans_never_show_secret_values():
    shown = service_spec(rev(), SwarmSettings(), "prod")
    assert shown["env"]["TOKEN"] == REDACTED
    assert "s3cret-value" not in json.dumps(shown)
    with pytest.raises(UsageError, match="TOKEN"):
        service_spec(rev(secret_values={}), SwarmSettings(), "prod", "127.1.0.2", 8080, reveal=True)


def test_no_limits_no_reservations_and_scale_to_zero():
    spec = service_spec(rev(min_instances=0), SwarmSettings(limit=False, reserve=0), "prod")
    assert spec["resources"] == {"limits": {}, "reservations": {}}
    assert spec["replicas"] == 1 and any("scale to zero" in n for n in spec["notes"])


def test_registry_images_are_pulled_by_digest():
    placed = rev(image=ImageRef(DIGEST, IMAGE_ID, f"127.0.0.1:5000/models/iris@{DIGEST}"))
    assert image_for(placed, SwarmSettings(registry="127.0.0.1:5000/models")) == f"127.0.0.1:5000/models/iris@{DIGEST}"
    assert image_for(placed, SwarmSettings()) == IMAGE_ID


def test_long_names_stay_valid_and_distinct():
    a = service_name("t" * 60, "deployment-" + "x" * 29, "r12")
    b = service_name("u" * 60, "deployment-" + "x" * 29, "r12")
    assert len(a) <= 63 and len(b) <= 63 and a != b and a.endswith("-r12")


def test_address_choice_skips_taken_and_bound():
    import socket

    settings = SwarmSettings(loopback_range="127.3.9.0/29")
    with socket.socket() as busy:
        busy.bind(("127.3.9.2", 0))
        busy.listen()
        port = busy.getsockname()[1]
        address, chosen = addresses.choose(settings, port, [("127.3.9.1", str(port))])
    assert (address, chosen) == ("127.3.9.3", port), "taken by a label, then bound by a process"
    with pytest.raises(ProviderError, match="no free address"):
        addresses.choose(settings, port, [(f"127.3.9.{i}", str(port)) for i in range(1, 7)])


def test_port_choice_for_a_fixed_address():
    settings = SwarmSettings(address="0.0.0.0", port_range=(18100, 18102))
    assert addresses.choose(settings, 8080, [("0.0.0.0", "18100")])[1] == 18101
    with pytest.raises(ProviderError, match="port_range"):
        addresses.choose(settings, 8080, [("0.0.0.0", str(p)) for p in (18100, 18101, 18102)])


def _task(revision: str, state: str, err: str = "", created: str = "2026-01-01T00:00:01.5Z") -> dict:
    return {"Spec": {"ContainerSpec": {"Labels": {TAG_REVISION: revision}}}, "CreatedAt": created,
            "DesiredState": "running", "Status": {"State": state, "Err": err}}


def test_task_problems():
    since = "2026-01-01T00:00:01Z"
    assert status.task_problem([], "r1", since) == (False, "no task scheduled yet")
    one = [_task("r1", "failed", "task: non-zero exit (1)")]
    assert status.task_problem(one, "r1", since)[0] is False, "one failure may be a flake"
    two = one + [_task("r1", "failed", "task: non-zero exit (1)", "2026-01-01T00:00:03.25Z")]
    failed, message = status.task_problem(two, "r1", since)
    assert failed and "2 tasks failed" in message
    assert status.task_problem(two, "r1", "2026-01-01T00:00:05Z")[0] is False, "failures before the last change"
    assert status.task_problem(two, "r2", since)[0] is False, "another revision's tasks"
    missing = [_task("r1", "rejected", "No such image: sha256:00")]
    assert status.task_problem(missing, "r1", since) == (True, "task rejected: No such image: sha256:00")
