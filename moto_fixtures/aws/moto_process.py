"""The moto server process: moto's own WSGI app plus the ECS agent's task-state channel.

Run as a script (``python moto_process.py --port N``) so it needs nothing but moto. In a real
account the ECS agent reports task state to the control plane over a private channel, and
``runningCount`` / ``pendingCount`` / the deployment's ``rolloutState`` follow the tasks. moto has
no tasks for services, so the bridge reports what it runs here::

    POST /moto-fixtures/ecs-agent/service-state
    {"serviceArn": ..., "clusterArn": ..., "running": 1, "healthy": true, "failedTasks": 0,
     "events": ["(service x) has started 1 tasks: (task 0123...)."]}

With ``deploymentCircuitBreaker.enable`` the PRIMARY deployment turns FAILED once ``failedTasks``
reaches ECS's threshold; events are prepended to the service's ``events``.

This path is no AWS API: product code never calls it, and IAM enforcement does not apply to it.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import sys
import threading
import time
from datetime import datetime, timezone

AGENT_PATH = "/moto-fixtures/ecs-agent/service-state"
_ECR_IMAGE = re.compile(r"^\d{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com(\.cn)?/")


def report_service_state(report: dict) -> tuple[int, dict]:
    """Apply one service-state report to moto's ECS backend; (HTTP status, reply body)."""
    from moto.ecs.models import ecs_backends

    _, _, _, region, account, resource = report["serviceArn"].split(":", 5)
    cluster = report["clusterArn"].rsplit("/", 1)[-1]
    service = ecs_backends[account][region].services.get(f"{cluster}:{resource.rsplit('/', 1)[-1]}")
    if service is None or service.status != "ACTIVE":
        return 404, {"error": "no such active service"}
    running = max(0, min(int(report["running"]), service.desired_count))
    service.running_count = running
    service.pending_count = service.desired_count - running
    done = bool(report.get("healthy")) and running >= service.desired_count
    _add_events(service, report.get("events") or [])
    state = "IN_PROGRESS"
    for deployment in service.deployments:
        if deployment.get("status") == "PRIMARY":
            state = _update_deployment(service, deployment, running, done,
                                       int(report.get("failedTasks", 0)))
    return 200, {"runningCount": running, "rolloutState": state}


def _update_deployment(service, deployment: dict, running: int, done: bool, failed: int) -> str:
    """Counts and rollout state of the PRIMARY deployment, with the circuit breaker's verdict."""
    if deployment.get("rolloutState") == "FAILED":
        state, reason = "FAILED", deployment.get("rolloutStateReason")
    elif done:
        state, reason = "COMPLETED", f"ECS deployment {deployment['id']} completed."
    elif _breaker_trips(service, failed):
        state, reason = "FAILED", "ECS deployment circuit breaker: tasks failed to start."
        _add_events(service, [f"(service {service.name}) deployment {deployment['id']} "
                              "deployment failed: tasks failed to start."])
    else:
        state, reason = "IN_PROGRESS", f"ECS deployment {deployment['id']} in progress."
    deployment.update(desiredCount=service.desired_count, runningCount=running,
                      pendingCount=service.desired_count - running, failedTasks=failed,
                      rolloutState=state, rolloutStateReason=reason,
                      updatedAt=datetime.now(timezone.utc))
    return state


def _breaker_trips(service, failed: int) -> bool:
    """ECS's deployment circuit breaker: 0.5 x desired tasks failed, at least 3, at most 200."""
    config = getattr(service, "deployment_configuration", None) or {}
    if not (config.get("deploymentCircuitBreaker") or {}).get("enable"):
        return False
    return failed >= min(200, max(3, -(-service.desired_count // 2)))


def _add_events(service, messages: list[str]) -> None:
    """Service events, newest first, as ``describe_services`` lists them (at most 100)."""
    import uuid

    now = datetime.now(timezone.utc)
    for message in messages:
        service.events.insert(0, {"id": str(uuid.uuid4()), "createdAt": now, "message": message})
    del service.events[100:]


def patch_create_service() -> None:
    """Keep ``deploymentConfiguration`` (moto drops it) so describe_services returns it and the
    circuit breaker can act on it; ECS's defaults when it is not given."""
    from moto.ecs.responses import EC2ContainerServiceResponse

    original = EC2ContainerServiceResponse.create_service

    def create_service(self):
        result = original(self)
        cluster = self._get_param("cluster", "default").rsplit("/", 1)[-1]
        service = self.ecs_backend.services[f"{cluster}:{self._get_param('serviceName')}"]
        config = {"maximumPercent": 200, "minimumHealthyPercent": 100,
                  "deploymentCircuitBreaker": {"enable": False, "rollback": False}}
        config.update(self._get_param("deploymentConfiguration") or {})
        service.deployment_configuration = config
        return result

    EC2ContainerServiceResponse.create_service = create_service


def patch_update_service() -> None:
    """Give ``UpdateService`` the deployment semantics of ECS.

    moto keeps the old deployment (and its ``rolloutState``) when the task definition changes,
    stores the task definition as given (``family:3``), and jumps ``runningCount`` to a new
    ``desiredCount``. ECS starts a new PRIMARY deployment (IN_PROGRESS, no running tasks yet),
    answers the full ARN, and counts only tasks that run; the bridge then reports them.
    """
    from moto.ecs.models import EC2ContainerServiceBackend
    from moto.moto_api._internal import mock_random

    original = EC2ContainerServiceBackend.update_service

    def update_service(self, service_properties):
        cluster = service_properties.get("cluster", "default").rsplit("/", 1)[-1]
        name = service_properties.get("service", "").rsplit("/", 1)[-1]
        before = self.services.get(f"{cluster}:{name}")
        old = (before.task_definition, before.running_count) if before else (None, 0)
        service = original(self, service_properties)
        service.task_definition = self.describe_task_definition(service.task_definition).arn
        service.running_count = min(old[1], service.desired_count)
        service.pending_count = service.desired_count - service.running_count
        new_revision = service.task_definition != old[0]
        for deployment in service.deployments:
            if deployment.get("status") == "PRIMARY":
                _restart_deployment(deployment, service, new_revision, mock_random)
        return service

    EC2ContainerServiceBackend.update_service = update_service


def _restart_deployment(deployment: dict, service, new_revision: bool, rng) -> None:
    running = 0 if new_revision else service.running_count
    deployment.update(desiredCount=service.desired_count, runningCount=running,
                      pendingCount=service.desired_count - running,
                      taskDefinition=service.task_definition, updatedAt=datetime.now(timezone.utc))
    if new_revision:
        deployment.update(id=f"ecs-svc/{rng.randint(0, 32**12)}", failedTasks=0,
                          createdAt=datetime.now(timezone.utc))
    if new_revision or running < service.desired_count:
        deployment.update(rolloutState="IN_PROGRESS",
                          rolloutStateReason=f"ECS deployment {deployment['id']} in progress.")


# Fargate task sizes: cpu units -> valid memory MiB (AWS "task-cpu-memory-error" table).
def _fargate_memory(cpu: int) -> set[int]:
    table = {256: [512, 1024, 2048], 512: range(1024, 4097, 1024), 1024: range(2048, 8193, 1024),
             2048: range(4096, 16385, 1024), 4096: range(8192, 30721, 1024),
             8192: range(16384, 61441, 4096), 16384: range(32768, 122881, 8192)}
    return set(table.get(cpu, []))


def _units(value, unit_word: str) -> int | None:
    """'256' -> 256; '0.25 vCPU' -> 256; '1GB' -> 1024 (task-level cpu/memory strings)."""
    if value is None:
        return None
    text = str(value).strip().lower().replace(" ", "")
    if text.endswith(unit_word):
        return int(float(text[: -len(unit_word)]) * 1024)
    return int(float(text))


def fargate_task_definition_errors(cpu, memory, network_mode, execution_role_arn,
                                   containers: list[dict]) -> str | None:
    """The ClientException ECS gives when registering this FARGATE task definition, or None."""
    if network_mode != "awsvpc":
        return "Fargate only supports network mode 'awsvpc'."
    if cpu is None:
        return "Fargate requires that 'cpu' be defined at the task level."
    if memory is None:
        return "Fargate requires that 'memory' be defined at the task level."
    try:
        valid = _units(memory, "gb") in _fargate_memory(_units(cpu, "vcpu"))
    except ValueError:
        valid = False
    if not valid:
        return "Invalid 'cpu' setting for task."
    if execution_role_arn:
        return None
    for container in containers:
        if container.get("secrets"):
            return ("When you are specifying container secrets, you must also specify a value "
                    "for 'executionRoleArn'.")
        if (container.get("logConfiguration") or {}).get("logDriver") == "awslogs":
            return ("Fargate requires task definition to have execution role ARN to support log "
                    "driver awslogs.")
        if _ECR_IMAGE.match(container.get("image", "")):
            return "Fargate requires task definition to have execution role ARN to support ECR images."
    return None


def patch_register_task_definition() -> None:
    """Reject FARGATE task definitions ECS rejects (moto checks almost none of these)."""
    from moto.ecs.exceptions import EcsClientException
    from moto.ecs.models import EC2ContainerServiceBackend

    original = EC2ContainerServiceBackend.register_task_definition

    def register_task_definition(self, family, container_definitions, *args, **kwargs):
        if "FARGATE" in (kwargs.get("requires_compatibilities") or []):
            error = fargate_task_definition_errors(
                kwargs.get("cpu"), kwargs.get("memory"), kwargs.get("network_mode"),
                kwargs.get("execution_role_arn"), container_definitions)
            if error:
                raise EcsClientException(error)
        # ECS stores "0.5 vCPU" / "1GB" as CPU units / MiB: "512" / "1024".
        for key, unit in (("cpu", "vcpu"), ("memory", "gb")):
            try:
                kwargs[key] = str(_units(kwargs[key], unit)) if kwargs.get(key) else kwargs.get(key)
            except ValueError:
                pass  # left as given; moto answers as it would
        return original(self, family, container_definitions, *args, **kwargs)

    EC2ContainerServiceBackend.register_task_definition = register_task_definition


def patch_response_options() -> None:
    """Make moto's per-request response options per request.

    moto 5.2's ``BaseResponse._include_in_response`` / ``_exclude_from_response`` write to
    ``RESPONSE_KEY_PATH_TO_TRANSFORMER``, a dict on the class shared by every request. On this
    threaded server, a DescribeServices without ``include=["TAGS"]`` (the bridge polls that way)
    could strip the tags from a concurrent one that asked for them, which real ECS never does
    ("If TAGS is specified, the tags are included in the response",
    https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_DescribeServices.html).
    Each request's handler (``BaseResponse.dispatch`` builds one per request) now writes to its
    own copy.
    """
    from moto.core.responses import BaseResponse, never_return

    def own(self) -> dict:
        if "RESPONSE_KEY_PATH_TO_TRANSFORMER" not in vars(self):
            self.RESPONSE_KEY_PATH_TO_TRANSFORMER = dict(type(self).RESPONSE_KEY_PATH_TO_TRANSFORMER)
        return self.RESPONSE_KEY_PATH_TO_TRANSFORMER

    def include(self, response_key_path: str) -> None:
        own(self)[response_key_path] = lambda x: x

    def exclude(self, response_key_path: str) -> None:
        own(self)[response_key_path] = never_return

    BaseResponse._include_in_response = include
    BaseResponse._exclude_from_response = exclude


def install_rules() -> None:
    """Install the ``inmoto`` package's API rules. It is loaded by path under its own name: this
    process has only moto on ``sys.path`` (the folder is dropped so ``server``/``net`` cannot
    shadow moto's modules)."""
    import importlib.util
    from pathlib import Path

    folder = Path(__file__).resolve().with_name("inmoto")
    spec = importlib.util.spec_from_file_location("moto_fixtures_inmoto", folder / "__init__.py",
                                                  submodule_search_locations=[str(folder)])
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    module.install()


def with_agent_channel(app):
    """Wrap moto's WSGI app so ``AGENT_PATH`` reaches ``report_service_state``."""
    def wsgi(environ, start_response):
        if environ.get("PATH_INFO") != AGENT_PATH or environ.get("REQUEST_METHOD") != "POST":
            return app(environ, start_response)
        length = int(environ.get("CONTENT_LENGTH") or 0)
        try:
            status, body = report_service_state(json.loads(environ["wsgi.input"].read(length)))
        except (KeyError, ValueError) as exc:
            status, body = 400, {"error": f"bad report: {exc}"}
        data = json.dumps(body).encode()
        start_response(f"{status} {'OK' if status == 200 else 'Error'}",
                       [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
        return [data]
    return wsgi


def _exit_with_parent(pid: int) -> None:
    def watch() -> None:
        while True:
            time.sleep(1)
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                os._exit(0)
            except PermissionError:
                pass
    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def main() -> None:
    """Serve moto (threaded, like ``moto_server``) with the agent channel on 127.0.0.1."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--parent-pid", type=int, default=None,
                        help="exit when this process is gone (no orphan after a crashed run)")
    args = parser.parse_args()
    if args.parent_pid:
        _exit_with_parent(args.parent_pid)
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication, MotoRequestHandler, create_backend_app,
    )
    from werkzeug.serving import run_simple

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    patch_response_options()
    patch_update_service()
    patch_register_task_definition()
    patch_create_service()
    install_rules()
    app = with_agent_channel(DomainDispatcherApplication(create_backend_app))
    run_simple(args.host, args.port, app, threaded=True, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    # Run as a script: drop this package's folder from sys.path so its module names
    # (server, net, ...) cannot shadow what moto imports.
    if sys.path and os.path.abspath(sys.path[0]) == os.path.dirname(os.path.abspath(__file__)):
        sys.path.pop(0)
    main()
