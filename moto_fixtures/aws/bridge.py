"""The ECS data plane: run every ACTIVE service's task as a container on the local Docker engine.

A thread polls moto (boto3 reads) every ``interval`` seconds and reconciles: one container per
service with ``desiredCount > 0``, replaced when the service's task definition changes, removed
when the service is deleted or scaled to 0, restarted when it exits (as ECS replaces a stopped
task). Each task gets its own loopback address (``MODELPORT_HOST``) and ``PORT`` = the container
port. Healthy tasks are registered in the service's ELBv2 target groups (and deregistered when
they stop being healthy), as ECS does with a task's IP address.
"""

from __future__ import annotations

import logging
import re
import threading
import time
import uuid
from dataclasses import dataclass, replace
from typing import Callable

from botocore.exceptions import ClientError

from . import awslogs
from .awslogs import LogTarget
from .containers import DockerTasks, probe
from .ecs_state import WantedService, draining_services, wanted_services
from .net import LoopbackPool
from .exec_role import check_execution_role
from .taskdef import (TaskStartError, container_port, essential_container, plan_container,
                      platform_error)

log = logging.getLogger(__name__)
# reporter(service_arn, cluster_arn, running, healthy, failed_tasks, events): the ECS agent's report
Reporter = Callable[[str, str, int, bool, int, list], object]
RETRY_AFTER = 3.0  # seconds before a task that failed to start is tried again
# ELBv2 errors after which a call needs no retry. TargetGroupNotFound: the group is gone, nothing
# can be (or stay) registered in it. InvalidTarget from DeregisterTargets: the target is not
# registered (a retry after a lost reply), where AWS itself "returns successfully" ("If the
# specified target does not exist", API_DeregisterTargets.html) but moto refuses.
_REGISTERED = frozenset({"TargetGroupNotFound"})
_DEREGISTERED = frozenset({"TargetGroupNotFound", "InvalidTarget"})


@dataclass(frozen=True)
class ServiceStatus:
    """What the bridge knows about one service's task (a snapshot)."""

    service_arn: str
    service_name: str
    cluster_arn: str
    task_definition_arn: str
    target_group_arns: tuple[str, ...]
    image: str | None = None
    address: str | None = None
    port: int | None = None
    container_id: str | None = None
    running: bool = False
    healthy: bool = False
    health_path: str | None = None
    last_error: str | None = None
    failed_tasks: int = 0
    next_attempt: float = 0.0
    task_id: str | None = None
    log_target: LogTarget | None = None
    log_cursor: int = 0  # unix ns of the last log line shipped to CloudWatch Logs
    unhealthy_since: float | None = None  # monotonic time; None while healthy
    unhealthy_after: float = 90.0
    steady: bool = False
    pending_events: tuple[str, ...] = ()  # service events not yet reported to ECS
    draining: bool = False  # deleted: out of its target groups, still running until INACTIVE


class EcsBridge:
    """Reconciles moto's ECS services with containers; ``status()`` shows the result."""

    def __init__(self, client: Callable[[str], object], registry: str, tasks: DockerTasks,
                 pool: LoopbackPool, interval: float = 0.5, reporter: Reporter | None = None):
        self._client = client
        self._reporter = reporter
        self.registry = registry
        self.tasks = tasks
        self.pool = pool
        self.interval = interval
        self._status: dict[str, ServiceStatus] = {}
        # service arn -> {(target group, address, port)} registered in ELBv2
        self._registered: dict[str, set[tuple[str, str, int]]] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.last_error: str | None = None
        self.ticks = 0

    # ---- lifecycle -------------------------------------------------------------------------
    def start(self) -> "EcsBridge":
        """Start polling in a daemon thread."""
        self._thread = threading.Thread(target=self._loop, name="ecs-bridge", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop polling, remove every task container and deregister its targets."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(30)
        for arn in list(self._status):
            self._remove(arn)
        self.tasks.remove_all()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.tick()
                self.last_error = None
            except Exception as exc:  # noqa: BLE001 - keep polling; tests can read last_error
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.warning("ECS bridge pass failed: %s", self.last_error)
            self._stop.wait(self.interval)

    # ---- one reconcile pass ----------------------------------------------------------------
    def tick(self) -> None:
        """One reconcile pass over every cluster's services."""
        wanted = {svc.arn: svc for svc in wanted_services(self._client("ecs"))}
        gone = {arn: s.cluster_arn for arn, s in self._status.items() if arn not in wanted}
        draining = draining_services(self._client("ecs"), gone)
        for arn in list(self._status):
            current = self._status[arn]
            svc = wanted.get(arn)
            if arn in draining:
                self._drain(arn)
            elif svc is None or svc.task_definition_arn != current.task_definition_arn:
                self._remove(arn)
        for svc in wanted.values():
            if svc.arn not in self._status:
                self._set(ServiceStatus(svc.arn, svc.name, svc.cluster_arn,
                                        svc.task_definition_arn, svc.target_group_arns))
            self._reconcile(svc)
        with self._lock:
            self.ticks += 1

    def _reconcile(self, svc: WantedService) -> None:
        self._reconcile_task(svc)
        self._report(svc)

    def _reconcile_task(self, svc: WantedService) -> None:
        status = self._status[svc.arn]
        if status.container_id is None:
            # A deployment the circuit breaker failed launches no more tasks.
            if time.monotonic() >= status.next_attempt and svc.rollout_state != "FAILED":
                self._start_task(svc, status)
            return
        self._ship_logs(svc.arn)
        status = self._status[svc.arn]  # shipping moved the log cursor
        state, exit_code = self.tasks.state(status.container_id)
        if state != "running":
            self._task_stopped(status, f"Essential container in task exited "
                                       f"(state {state}, exit code {exit_code})")
            return
        problem = probe(status.address, status.port, status.health_path)
        now = time.monotonic()
        since = None if problem is None else (status.unhealthy_since or now)
        if since is not None and now - since > status.unhealthy_after:
            self._task_stopped(status, f"Task failed container health checks ({problem})")
            return
        status = replace(status, running=True, healthy=problem is None, unhealthy_since=since,
                         last_error=problem if problem else status.last_error)
        if status.healthy and not status.steady:
            status = replace(status, steady=True, pending_events=status.pending_events + (
                f"(service {svc.name}) has reached a steady state.",))
        self._set(status)
        self._sync_targets(svc.arn)

    def _event(self, arn: str, message: str) -> None:
        status = self._status[arn]
        self._set(replace(status, pending_events=status.pending_events + (message,)))

    def _report(self, svc: WantedService) -> None:
        """Make the service's counts in ECS follow the task (one container stands for all)."""
        status = self._status[svc.arn]
        running = svc.desired_count if status.running else 0
        done = status.healthy and running >= svc.desired_count
        unchanged = (svc.running_count == running and svc.failed_tasks == status.failed_tasks
                     and (svc.rollout_state == "COMPLETED") == done and not status.pending_events)
        if self._reporter is None or unchanged:
            return
        try:
            self._reporter(svc.arn, svc.cluster_arn, running, status.healthy, status.failed_tasks,
                           list(status.pending_events))
        except Exception as exc:  # noqa: BLE001 - the service may be gone since this pass began
            log.info("ECS bridge: state report for %s: %s", svc.name, exc)
            return
        current = self._status[svc.arn]
        self._set(replace(current, pending_events=current.pending_events[
            len(status.pending_events):]))

    def _start_task(self, svc: WantedService, status: ServiceStatus) -> None:
        address, task_id = None, uuid.uuid4().hex
        try:
            task_definition = self._client("ecs").describe_task_definition(
                taskDefinition=svc.task_definition_arn)["taskDefinition"]
            check_execution_role(task_definition, self._client("iam"), self._client("secretsmanager"))
            port = container_port(essential_container(task_definition), list(svc.load_balancers))
            address = self.pool.allocate(port or 0)
            plan = plan_container(task_definition, list(svc.load_balancers), self.registry,
                                  self._client("secretsmanager"), self._client("ssm"), address)
            if plan.health_path is None and svc.target_group_arns:
                plan = replace(plan, health_path=self._target_group_health_path(svc))
            self._check_platform(task_definition, plan.image)
            target = self._prepare_logs(plan, task_id)
            container_id = self.tasks.run(plan, svc.arn, _container_name(self.tasks.owner, svc))
        except (TaskStartError, OSError, ClientError) as exc:
            if address:
                self.pool.release(address)
            self._set(replace(status, last_error=str(exc), failed_tasks=status.failed_tasks + 1,
                              next_attempt=time.monotonic() + RETRY_AFTER))
            self._event(svc.arn, f"(service {svc.name}) has stopped 1 running tasks: "
                                 f"(task {task_id}). Stopped reason: {exc}")
            log.warning("ECS bridge: cannot start %s: %s", svc.name, exc)
            return
        self._set(replace(status, image=plan.image, address=address, port=plan.port,
                          container_id=container_id, health_path=plan.health_path,
                          running=True, healthy=False, task_id=task_id, log_target=target,
                          log_cursor=0, unhealthy_since=time.monotonic(),
                          unhealthy_after=plan.unhealthy_after))
        self._event(svc.arn, f"(service {svc.name}) has started 1 tasks: (task {task_id}).")

    def _check_platform(self, task_definition: dict, image: str) -> None:
        """The image's architecture (from its config) must be the one the task runs on."""
        self.tasks.ensure_image(image)
        error = platform_error(task_definition, image, *self.tasks.platform(image))
        if error:
            raise TaskStartError(error)

    def _prepare_logs(self, plan, task_id: str) -> LogTarget | None:
        if plan.log_options is None:
            return None
        target = awslogs.log_target(plan.log_options, plan.container_name, task_id)
        awslogs.prepare(self._client("logs"), plan.log_options, target)
        return target

    def _ship_logs(self, arn: str) -> None:
        """Send the task's new output lines to its CloudWatch Logs stream."""
        status = self._status[arn]
        if status.log_target is None or status.container_id is None:
            return
        raw = self.tasks.logs_since(status.container_id, status.log_cursor)
        events = [e for e in awslogs.parse_docker_lines(raw) if e[0] > status.log_cursor]
        if not events:
            return
        try:
            awslogs.ship(self._client("logs"), status.log_target, events)
        except ClientError as exc:  # e.g. the group was deleted meanwhile
            log.info("ECS bridge: shipping logs of %s: %s", status.service_name, exc)
        self._set(replace(self._status[arn], log_cursor=events[-1][0]))

    def _target_group_health_path(self, svc: WantedService) -> str | None:
        """Without a container health check, the load balancer's own check decides."""
        groups = self._client("elbv2").describe_target_groups(
            TargetGroupArns=list(svc.target_group_arns))["TargetGroups"]
        for group in groups:
            if group.get("HealthCheckEnabled", True) and group.get("HealthCheckProtocol",
                                                                     "HTTP") == "HTTP":
                return group.get("HealthCheckPath") or "/"
        return None

    def _task_stopped(self, status: ServiceStatus, reason: str) -> None:
        """The task stopped (exited, or ECS stopped it as unhealthy): count it, start another."""
        self.tasks.remove(status.container_id)
        if status.address:
            self.pool.release(status.address)
        self._set(replace(status, container_id=None, address=None, running=False,
                          healthy=False, last_error=reason, failed_tasks=status.failed_tasks + 1,
                          next_attempt=time.monotonic() + RETRY_AFTER, steady=False))
        self._sync_targets(status.service_arn)
        self._event(status.service_arn, f"(service {status.service_name}) has stopped 1 running "
                                        f"tasks: (task {status.task_id}). Stopped reason: {reason}")

    def _drain(self, arn: str) -> None:
        """A deleted (DRAINING) service: ECS deregisters its task from the target groups at once,
        lets requests in flight finish, and stops the task when the service turns INACTIVE.

        ``draining`` is published only once DeregisterTargets has succeeded for every group, so
        whoever sees it also sees the target out of ELBv2 (DescribeTargetHealth). Setting it first
        left a window, as long as a DeregisterTargets call, where a deleted service showed
        ``draining`` while its target still answered ``healthy``. The order is ECS's: "When you
        want to stop traffic to a container, you notify the load balancer", then "Amazon ECS
        monitors the load balancer, and waits" out the deregistration delay before the task stops,
        https://docs.aws.amazon.com/AmazonECS/latest/developerguide/load-balancer-connection-draining.html."""
        self._ship_logs(arn)
        # Not healthy first: the load balancer plane routes no new request to it from now on
        # ("The load balancer stops sending requests to targets that are deregistering",
        # https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_DeregisterTargets.html).
        self._set(replace(self._status[arn], healthy=False))
        if self._sync_targets(arn):  # else a call failed: the next pass tries again
            self._set(replace(self._status[arn], draining=True))

    def _remove(self, arn: str) -> None:
        self._ship_logs(arn)
        status = self._status[arn]
        self._set(replace(status, healthy=False))
        self._sync_targets(arn)
        if status.container_id:
            self.tasks.remove(status.container_id)
        if status.address:
            self.pool.release(status.address)
        with self._lock:
            self._status.pop(arn, None)
        self._registered.pop(arn, None)

    # ---- ELBv2 target registration -------------------------------------------------------
    def _sync_targets(self, arn: str) -> bool:
        """Register a healthy task's address in its target groups; deregister otherwise
        (including an earlier address of a task that was replaced). True when ELBv2 now holds
        exactly those targets; a call that failed is tried again on the next pass."""
        status = self._status[arn]
        registered = self._registered.setdefault(arn, set())
        want = ({(tg, status.address, status.port or 80) for tg in status.target_group_arns}
                if status.healthy and status.address else set())
        if want == registered:
            return True
        elbv2 = self._client("elbv2")
        for target in want - registered:
            if self._call_quietly(elbv2.register_targets, target, _REGISTERED):
                registered.add(target)
        for target in registered - want:
            if self._call_quietly(elbv2.deregister_targets, target, _DEREGISTERED):
                registered.discard(target)
        return registered == want

    def _call_quietly(self, call, target: tuple[str, str, int], settled: frozenset[str]) -> bool:
        """Make one (de)registration call; True when it succeeded or failed with an error code in
        ``settled`` (nothing left to do), False when it must be tried again on the next pass."""
        group, address, port = target
        try:
            call(TargetGroupArn=group, Targets=[{"Id": address, "Port": port}])
        except Exception as exc:  # noqa: BLE001 - e.g. the group is deleted, or moto is busy
            log.info("ECS bridge: target registration in %s: %s", group, exc)
            error = exc.response.get("Error", {}) if isinstance(exc, ClientError) else {}
            return error.get("Code") in settled
        return True

    # ---- what tests and the load balancer plane read ------------------------------------
    def _set(self, status: ServiceStatus) -> None:
        with self._lock:
            self._status[status.service_arn] = status

    def status(self) -> dict[str, ServiceStatus]:
        """A snapshot of every service's task, keyed by service ARN."""
        with self._lock:
            return dict(self._status)

    def service(self, name: str) -> ServiceStatus | None:
        """The status of the service called ``name`` (any cluster), or None."""
        return next((s for s in self.status().values() if s.service_name == name), None)

    def healthy_targets(self, target_group_arn: str) -> list[tuple[str, int]]:
        """``(address, port)`` of every healthy task registered behind ``target_group_arn``."""
        return [(s.address, s.port) for s in self.status().values()
                if s.healthy and s.address and s.port and target_group_arn in s.target_group_arns]

    def wait_for(self, predicate: Callable[["EcsBridge"], bool], timeout: float = 60,
                 what: str = "condition") -> None:
        """Poll ``predicate(bridge)`` until true; on timeout raise with every service's status."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate(self):
                return
            time.sleep(0.1)
        raise TimeoutError(f"ECS bridge: {what} not reached in {timeout:.0f}s; "
                           f"services: {list(self.status().values())}; last error: {self.last_error}")

    def wait_ticks(self, count: int = 2, timeout: float = 30) -> None:
        """Wait until ``count`` more reconcile passes finished (to see a change take effect)."""
        start = self.ticks
        self.wait_for(lambda b: b.ticks >= start + count, timeout, f"{count} bridge passes")


def _container_name(owner: str, svc: WantedService) -> str:
    cluster = svc.cluster_arn.rsplit("/", 1)[-1]
    raw = f"mpaws-{owner[:8]}-{cluster}-{svc.name}-{int(time.time() * 1000) % 10**8}"
    return re.sub(r"[^a-zA-Z0-9_.-]", "-", raw)[:120]
