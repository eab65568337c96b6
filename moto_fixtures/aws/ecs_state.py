"""Read what ECS and ELBv2 in moto say should run, as plain values (boto3 reads only)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class WantedService:
    """An ACTIVE ECS service that wants tasks."""

    arn: str
    cluster_arn: str
    name: str
    task_definition_arn: str
    desired_count: int
    load_balancers: tuple[dict, ...]
    running_count: int = 0
    rollout_state: str | None = None
    failed_tasks: int = 0

    @property
    def target_group_arns(self) -> tuple[str, ...]:
        """Target groups ECS registers this service's tasks in."""
        return tuple(lb["targetGroupArn"] for lb in self.load_balancers if lb.get("targetGroupArn"))


@dataclass(frozen=True)
class Listener:
    """An ALB listener the load balancer plane serves."""

    arn: str
    load_balancer_arn: str
    dns_name: str
    port: int
    protocol: str
    certificates: tuple[str, ...] = ()  # ACM ARNs of an HTTPS listener


def wanted_services(ecs) -> list[WantedService]:
    """Every ACTIVE service with ``desiredCount > 0`` in every cluster."""
    found: list[WantedService] = []
    for page in ecs.get_paginator("list_clusters").paginate():
        for cluster_arn in page["clusterArns"]:
            found.extend(_cluster_services(ecs, cluster_arn))
    return found


def _cluster_services(ecs, cluster_arn: str) -> list[WantedService]:
    arns: list[str] = []
    for page in ecs.get_paginator("list_services").paginate(cluster=cluster_arn):
        arns.extend(page["serviceArns"])
    found = []
    for start in range(0, len(arns), 10):  # DescribeServices takes at most 10
        reply = ecs.describe_services(cluster=cluster_arn, services=arns[start:start + 10])
        for svc in reply["services"]:
            if svc.get("status") == "ACTIVE" and svc.get("desiredCount", 0) > 0:
                found.append(_to_wanted(svc, cluster_arn))
    return found


def draining_services(ecs, clusters: dict[str, str]) -> set[str]:
    """Which of ``clusters`` (service ARN -> cluster ARN) are DRAINING: deleted, their task still
    stopping (ListServices no longer shows them; DescribeServices does)."""
    by_cluster: dict[str, list[str]] = {}
    for arn, cluster in clusters.items():
        by_cluster.setdefault(cluster, []).append(arn)
    found = set()
    for cluster, arns in by_cluster.items():
        for start in range(0, len(arns), 10):
            try:
                reply = ecs.describe_services(cluster=cluster, services=arns[start:start + 10])
            except Exception:  # noqa: BLE001 - cluster gone: nothing drains there
                continue
            found |= {s["serviceArn"] for s in reply["services"] if s.get("status") == "DRAINING"}
    return found


def _to_wanted(svc: dict, cluster_arn: str) -> WantedService:
    primary = next((d for d in svc.get("deployments", []) if d.get("status") == "PRIMARY"), {})
    return WantedService(
        arn=svc["serviceArn"], cluster_arn=cluster_arn, name=svc["serviceName"],
        task_definition_arn=svc["taskDefinition"], desired_count=svc["desiredCount"],
        load_balancers=tuple(svc.get("loadBalancers", [])),
        running_count=svc.get("runningCount", 0), rollout_state=primary.get("rolloutState"),
        failed_tasks=primary.get("failedTasks", 0))


def alb_listeners(elbv2) -> list[Listener]:
    """Every listener of every active application load balancer."""
    found: list[Listener] = []
    for page in elbv2.get_paginator("describe_load_balancers").paginate():
        for lb in page["LoadBalancers"]:
            if lb.get("Type", "application") != "application":
                continue
            if lb.get("State", {}).get("Code", "active") not in ("active", "provisioning"):
                continue
            reply = elbv2.describe_listeners(LoadBalancerArn=lb["LoadBalancerArn"])
            found.extend(Listener(item["ListenerArn"], lb["LoadBalancerArn"], lb["DNSName"],
                                  int(item["Port"]), item.get("Protocol", "HTTP"),
                                  tuple(c["CertificateArn"] for c in item.get("Certificates") or []))
                         for item in reply["Listeners"])
    return found
