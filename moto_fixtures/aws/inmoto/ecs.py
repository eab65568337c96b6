"""ECS service lifecycle rules moto lacks: DRAINING after delete, name reuse, paging, clientToken.

Sources (ECS API reference):

* DeleteService https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_DeleteService.html
  "the service status moves from ACTIVE to DRAINING, and the service is no longer visible in
  the console or in the ListServices API operation. After all tasks have transitioned to either
  STOPPING or STOPPED status, the service status moves from DRAINING to INACTIVE" and "If you
  attempt to create a new service with the same name as an existing service in either ACTIVE or
  DRAINING status, you receive an error." The error is ``InvalidParameterException: Creation of
  service was not idempotent.`` (the text users report, e.g.
  https://github.com/hashicorp/terraform-provider-aws/issues/2283).
* How long DRAINING lasts: ECS stops a task behind a load balancer only after the target group's
  deregistration delay ("Amazon ECS waits for the deregistration delay before stopping the
  task", https://docs.aws.amazon.com/AmazonECS/latest/developerguide/load-balancer-connection-draining.html;
  ELB's default is 300 s, ``deregistration_delay.timeout_seconds``,
  https://docs.aws.amazon.com/elasticloadbalancing/latest/application/edit-target-group-attributes.html#deregistration-delay).
  Here: the longest delay of the service's target groups, plus ``TASK_STOP_SECONDS`` for the task
  to stop after SIGTERM.
* DeleteCluster https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_DeleteCluster.html
  ``ClusterContainsServicesException``: "You can't delete a cluster that contains services".
  The page does not say whether a DRAINING service counts; the stricter reading is enforced (it
  does: its tasks still run), as Terraform's retry on this error while services drain suggests.
* CreateService ``clientToken``: "An identifier that you provide to ensure the idempotency of the
  request" (API_CreateService.html): the retry of a create whose reply was lost, with the same
  token, answers the service it created; any other create of an ACTIVE name is refused.
* ListServices ``maxResults``: "If this parameter isn't used, then ListServices returns up to 10
  results and a nextToken value if applicable" (1..100), API_ListServices.html.
"""

from __future__ import annotations

import base64
import time

TASK_STOP_SECONDS = 1.0  # the emulated tasks exit about a second after SIGTERM
DEFAULT_DEREGISTRATION_DELAY = 300  # ELB's default deregistration_delay.timeout_seconds
LIST_DEFAULT, LIST_MAX = 10, 100
NOT_IDEMPOTENT = "Creation of service was not idempotent."


def drain_seconds(deregistration_delays: list[int]) -> float:
    """How long a deleted service stays DRAINING: its target groups' longest deregistration
    delay (ECS waits for it before stopping the task), plus the time the task takes to stop."""
    return max(deregistration_delays, default=0) + TASK_STOP_SECONDS


def create_decision(existing_status: str | None, existing_token: str | None,
                    token: str | None) -> str:
    """``"create"``, ``"replay"`` (the same request again: answer the existing service) or the
    error message CreateService gives for a name in ``existing_status``."""
    if existing_status in (None, "INACTIVE"):
        return "create"
    if existing_status == "ACTIVE" and token and token == existing_token:
        return "replay"
    return NOT_IDEMPOTENT  # ACTIVE (another request) or DRAINING: API_DeleteService.html


def page(items: list[str], max_results, next_token: str | None) -> tuple[list[str], str | None]:
    """One ListServices page of the sorted ``items`` after ``next_token`` (an opaque token naming
    the last item of the previous page, so deletions between pages skip nothing)."""
    size = LIST_DEFAULT if max_results in (None, "") else int(max_results)
    if not 1 <= size <= LIST_MAX:  # API_ListServices.html: maxResults "can be between 1 and 100"
        raise ValueError(f"maxResults must be between 1 and {LIST_MAX}")
    after = base64.urlsafe_b64decode(next_token.encode()).decode() if next_token else ""
    rest = [item for item in items if item > after]
    chosen = rest[:size]
    more = len(rest) > size
    token = base64.urlsafe_b64encode(chosen[-1].encode()).decode() if more else None
    return chosen, token


def settle(backend, now: float | None = None) -> None:
    """DRAINING services whose drain is over become INACTIVE (read lazily on every call)."""
    now = time.time() if now is None else now
    for service in backend.services.values():
        if service.status == "DRAINING" and now >= getattr(service, "_mf_drained_at", 0):
            service.status = "INACTIVE"
            service.running_count = service.pending_count = 0


def _deregistration_delays(backend, service) -> list[int]:
    from moto.elbv2.models import elbv2_backends

    elb = elbv2_backends[backend.account_id][backend.region_name]
    delays = []
    for lb in service.load_balancers or []:
        group = elb.target_groups.get(lb.get("targetGroupArn", ""))
        if group is not None:
            delays.append(int(group.attributes.get("deregistration_delay.timeout_seconds",
                                                   DEFAULT_DEREGISTRATION_DELAY)))
    return delays


def _error(code: str, message: str):
    from moto.core.exceptions import ServiceException

    return ServiceException(code, message)


def _patch_backend() -> None:
    from moto.ecs.models import EC2ContainerServiceBackend as Backend

    delete_service, delete_cluster = Backend.delete_service, Backend.delete_cluster
    describe_services = Backend.describe_services

    def patched_delete_service(self, cluster_name, service_name, force):
        settle(self)
        service = self._get_service(cluster_name, service_name)
        if service.status != "ACTIVE":  # API_DeleteService.html: ServiceNotActiveException
            raise _error("ServiceNotActiveException", "Service was not ACTIVE.")
        service = delete_service(self, cluster_name, service_name, force)
        service.status, service.desired_count = "DRAINING", 0
        service._mf_drained_at = time.time() + drain_seconds(_deregistration_delays(self, service))
        return service

    def patched_delete_cluster(self, cluster_str):
        settle(self)
        cluster = self._get_cluster(cluster_str)
        if any(s.cluster_name == cluster.name and s.status in ("ACTIVE", "DRAINING")
               for s in self.services.values()):  # API_DeleteCluster.html (stricter reading)
            raise _error("ClusterContainsServicesException",
                         "The Cluster cannot be deleted while Services are active.")
        return delete_cluster(self, cluster_str)

    def patched_describe_services(self, cluster_str, names):
        settle(self)
        return describe_services(self, cluster_str, names)

    Backend.delete_service = patched_delete_service
    Backend.delete_cluster = patched_delete_cluster
    Backend.describe_services = patched_describe_services


def _patch_responses() -> None:
    from moto.core.responses import ActionResult
    from moto.ecs.exceptions import InvalidParameterException
    from moto.ecs.responses import EC2ContainerServiceResponse as Response

    create_service = Response.create_service

    def patched_create_service(self):
        backend = self.ecs_backend
        settle(backend)
        cluster = self._get_param("cluster", "default").rsplit("/", 1)[-1]
        existing = backend.services.get(f"{cluster}:{self._get_param('serviceName')}")
        token = self._get_param("clientToken")
        decision = create_decision(existing.status if existing else None,
                                   getattr(existing, "_mf_client_token", None), token)
        if decision == "replay":
            return ActionResult({"service": existing})
        if decision != "create":
            raise InvalidParameterException(decision)
        result = create_service(self)
        backend.services[f"{cluster}:{self._get_param('serviceName')}"]._mf_client_token = token
        return result

    def patched_list_services(self):
        backend = self.ecs_backend
        settle(backend)
        every = backend.list_services(self._get_param("cluster", "default"),
                                      self._get_param("schedulingStrategy"),
                                      launch_type=self._get_param("launchType"))
        active = {s.arn for s in backend.services.values() if s.status == "ACTIVE"}
        try:
            arns, token = page([a for a in every if a in active], self._get_param("maxResults"),
                               self._get_param("nextToken"))
        except ValueError as exc:
            raise InvalidParameterException(str(exc)) from None
        return ActionResult({"serviceArns": arns, **({"nextToken": token} if token else {})})

    Response.create_service = patched_create_service
    Response.list_services = patched_list_services


def install() -> None:
    """Patch moto's ECS backend and responses (after ``moto_process``'s own ECS patches)."""
    _patch_backend()
    _patch_responses()
