"""Pure translation: a neutral RevisionSpec and the target's settings -> AWS API request bodies.

No SDK here: every function returns plain dicts (the exact keyword arguments of a boto3 call)
so plans can show them and tests can compare them with ``==``.

Names (deterministic, so ``observe`` finds everything again; ``P`` = ``name_prefix``, default
``mp``; names that would pass AWS's limit are shortened and get 4 hex digits of a hash):

* load balancer ``P-<deployment>`` (32), security group and cluster ``P-<deployment>``,
  execution role ``P-<deployment>-exec``, log group ``/modelport/<deployment>``;
* per revision: target group ``P-<deployment>-<rN>`` (32), ECS service and task definition
  family ``P-<deployment>-<rN>``, a test listener on ``smoke_port_base + N`` and a listener rule
  matching ``X-Modelport-Revision: rN`` at priority N, a target tracking policy
  ``modelport-target-tracking`` when ``max_instances`` exceeds the tasks it starts with.

Scaling on Fargate: a revision runs ``max(min_instances, 1)`` tasks at least. ``min_instances =
0`` cannot mean scale-to-zero here: a service behind a load balancer with no task answers 503 and
nothing starts one again (target tracking on requests per target has no target to count, and CPU
has no task to measure), so it runs one task, and ``plan`` says so.
"""

from __future__ import annotations

import hashlib
from typing import Any, Mapping

from modelport.provider import TAG_CONFIG, TAG_DEPLOYMENT, TAG_DIGEST, TAG_REVISION, RevisionSpec

from .settings import HTTPS_PORT, TLS_POLICY, AwsSettings
from .sizes import CPU_UNITS

SECRET_SCHEME = "aws-sm"
REVISION_HEADER = "X-Modelport-Revision"
CONTAINER = "model"
#: build.platform -> the Fargate runtimePlatform.cpuArchitecture that runs it
#: (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_RuntimePlatform.html)
CPU_ARCHITECTURE = {"linux/amd64": "X86_64", "linux/arm64": "ARM64"}
POLICY_NAME = "modelport-target-tracking"
CPU_TARGET = 70.0  # percent average CPU when scale_on = "cpu"
SCALE_COOLDOWN = {"ScaleOutCooldown": 60, "ScaleInCooldown": 300}
EXECUTION_POLICY_ARN = "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
ECS_TASKS_TRUST = {"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"}, "Action": "sts:AssumeRole"}]}


def _fit(head: str, tail: str, limit: int) -> str:
    name = f"{head}-{tail}" if tail else head
    if len(name) <= limit:
        return name
    digest = hashlib.sha256(head.encode()).hexdigest()[:4]
    room = limit - len(tail) - 6 if tail else limit - 5
    return f"{head[:room].rstrip('-')}-{digest}" + (f"-{tail}" if tail else "")


class Names:
    """Every AWS name of one deployment on one target."""

    def __init__(self, settings: AwsSettings, deployment: str) -> None:
        self.settings, self.deployment = settings, deployment
        self.base = f"{settings.name_prefix}-{deployment}"

    @property
    def load_balancer(self) -> str:
        return _fit(self.base, "", 32)

    @property
    def security_group(self) -> str:
        return self.base

    @property
    def cluster(self) -> str:
        return self.settings.cluster or self.base

    @property
    def owns_cluster(self) -> bool:
        return not self.settings.cluster

    @property
    def role(self) -> str:
        return _fit(self.base, "exec", 64)

    @property
    def log_group(self) -> str:
        return f"/modelport/{self.deployment}"

    @property
    def repository(self) -> str:
        return f"{self.settings.repository_prefix.rstrip('/')}/{self.deployment}"

    def target_group(self, revision: str) -> str:
        return _fit(self.base, revision, 32)

    def service(self, revision: str) -> str:
        return f"{self.base}-{revision}"

    def family(self, revision: str) -> str:
        return f"{self.base}-{revision}"

    def smoke_port(self, revision: str) -> int:
        return self.settings.smoke_port_base + revision_number(revision) % 100

    @staticmethod
    def rule_priority(revision: str) -> int:
        return revision_number(revision) % 50000 or 50000


def revision_number(revision: str) -> int:
    """``r12`` -> 12 (0 for a name the engine did not make)."""
    return int(revision[1:]) if revision[1:].isdigit() else 0


# -- tags -----------------------------------------------------------------------------------------

def tags(deployment: str, revision: str | None = None, digest: str | None = None,
         config: str | None = None) -> dict[str, str]:
    """modelport's tags (AWS allows ':' in keys and values, so they are used as they are)."""
    out = {TAG_DEPLOYMENT: deployment}
    for key, value in ((TAG_REVISION, revision), (TAG_DIGEST, digest), (TAG_CONFIG, config)):
        if value:
            out[key] = value
    return out


def rev_tags(rev: RevisionSpec) -> dict[str, str]:
    return tags(rev.deployment, rev.revision, rev.image.digest, rev.config)


def tag_list(values: Mapping[str, str], key: str = "Key", value: str = "Value") -> list[dict[str, str]]:
    """``{"a": "b"}`` -> ``[{"Key": "a", "Value": "b"}]`` (ECS wants ``key``/``value``)."""
    return [{key: k, value: v} for k, v in values.items()]


def from_tag_list(items: list[dict[str, str]] | None) -> dict[str, str]:
    """The inverse of :func:`tag_list` for either capitalisation."""
    return {(i.get("Key") or i.get("key")): (i.get("Value") if "Value" in i else i.get("value"))
            for i in items or []}


# -- per revision -----------------------------------------------------------------------------------

def secret_refs(rev: RevisionSpec) -> dict[str, str]:
    """Native references (``aws-sm:<arn>``) -> the ARN ECS resolves at task start."""
    return {k: v.split(":", 1)[1] for k, v in rev.secrets.items() if v.split(":", 1)[0] == SECRET_SCHEME}


def health_command(port: int) -> list[str]:
    """Container health check: GET the readiness route (the image has python3, not curl)."""
    url = f"http://localhost:{port}/v2/health/ready"
    return ["CMD-SHELL", f"python3 -c \"import urllib.request; urllib.request.urlopen('{url}', timeout=4)\" || exit 1"]


def task_definition(rev: RevisionSpec, names: Names, role_arn: str, region: str,
                    secret_arns: Mapping[str, str]) -> dict[str, Any]:
    """``ecs.register_task_definition`` arguments. ``secret_arns``: env name -> Secrets Manager ARN."""
    env = {**rev.env, "PORT": str(rev.port)}
    container: dict[str, Any] = {
        "name": CONTAINER, "image": rev.image.ref, "essential": True, "command": ["serve"],
        "memory": rev.size.memory_mib,  # container-level memory = the task's, all of it
        "portMappings": [{"containerPort": rev.port, "protocol": "tcp"}],
        "environment": [{"name": k, "value": v} for k, v in sorted(env.items())],
        "secrets": [{"name": k, "valueFrom": v} for k, v in sorted(secret_arns.items())],
        "healthCheck": {"command": health_command(rev.port), "interval": 10, "timeout": 5,
                        "retries": 3, "startPeriod": 30},
        "logConfiguration": {"logDriver": "awslogs", "options": {
            "awslogs-group": names.log_group, "awslogs-region": region,
            "awslogs-stream-prefix": rev.revision}},
        "stopTimeout": 30,
    }
    if names.settings.registry and names.settings.registry_credentials_arn:
        container["repositoryCredentials"] = {"credentialsParameter": names.settings.registry_credentials_arn}
    return {"family": names.family(rev.revision), "requiresCompatibilities": ["FARGATE"],
            "networkMode": "awsvpc", "cpu": str(int(rev.size.cpu * CPU_UNITS)),
            "memory": str(rev.size.memory_mib), "executionRoleArn": role_arn,
            "runtimePlatform": {"operatingSystemFamily": "LINUX", "cpuArchitecture": CPU_ARCHITECTURE[rev.platform]},
            "containerDefinitions": [container], "tags": tag_list(rev_tags(rev), "key", "value")}


def target_group(rev: RevisionSpec, names: Names, vpc_id: str) -> dict[str, Any]:
    """``elbv2.create_target_group`` arguments (Fargate tasks register by IP)."""
    return {"Name": names.target_group(rev.revision), "Protocol": "HTTP", "Port": rev.port,
            "VpcId": vpc_id, "TargetType": "ip", "HealthCheckProtocol": "HTTP",
            "HealthCheckPath": "/v2/health/ready", "HealthCheckIntervalSeconds": 10,
            "HealthyThresholdCount": 2, "UnhealthyThresholdCount": 3, "Matcher": {"HttpCode": "200"},
            "Tags": tag_list(rev_tags(rev))}


def target_group_attributes(settings: AwsSettings) -> list[dict[str, str]]:
    """``elbv2.modify_target_group_attributes`` Attributes: how long a target being removed keeps
    its requests in flight (ELB's default, 300 s, would keep every replaced revision DRAINING
    five minutes)."""
    return [{"Key": "deregistration_delay.timeout_seconds", "Value": str(settings.deregistration_delay)}]


def tasks(rev: RevisionSpec) -> tuple[int, int]:
    """(least, most) tasks of a revision: Fargate runs at least one (see the module docstring)."""
    least = max(rev.min_instances, 1)
    return least, max(rev.max_instances, least)


def service(rev: RevisionSpec, names: Names, target_group_arn: str, subnets: list[str],
            security_groups: list[str]) -> dict[str, Any]:
    """``ecs.create_service`` arguments: ``min_instances`` tasks behind the revision's target group."""
    return {"cluster": names.cluster, "serviceName": names.service(rev.revision),
            "taskDefinition": names.family(rev.revision), "desiredCount": tasks(rev)[0],
            "launchType": "FARGATE", "platformVersion": "LATEST",
            "networkConfiguration": {"awsvpcConfiguration": {
                "subnets": list(subnets), "securityGroups": list(security_groups),
                "assignPublicIp": "ENABLED" if names.settings.assign_public_ip else "DISABLED"}},
            "loadBalancers": [{"targetGroupArn": target_group_arn, "containerName": CONTAINER,
                               "containerPort": rev.port}],
            "healthCheckGracePeriodSeconds": 60,
            "deploymentConfiguration": {"maximumPercent": 200, "minimumHealthyPercent": 100,
                                        "deploymentCircuitBreaker": {"enable": True, "rollback": False}},
            "propagateTags": "SERVICE", "enableECSManagedTags": True,
            "tags": tag_list(rev_tags(rev), "key", "value")}


def scalable_target(rev: RevisionSpec, names: Names) -> dict[str, Any]:
    """``application-autoscaling.register_scalable_target`` arguments for min/max tasks."""
    least, most = tasks(rev)
    return {"ServiceNamespace": "ecs", "ResourceId": scaling_resource(names, rev.revision),
            "ScalableDimension": "ecs:service:DesiredCount", "MinCapacity": least, "MaxCapacity": most}


def resource_label(load_balancer_arn: str, target_group_arn: str) -> str:
    """``app/<lb name>/<lb id>/targetgroup/<tg name>/<tg id>``: the final portions of both ARNs
    (https://docs.aws.amazon.com/autoscaling/application/APIReference/API_PredefinedMetricSpecification.html)."""
    return load_balancer_arn.split(":loadbalancer/", 1)[1] + "/" + target_group_arn.split(":", 5)[5]


def scaling_policy(rev: RevisionSpec, names: Names, load_balancer_arn: str,
                   target_group_arn: str) -> dict[str, Any] | None:
    """``application-autoscaling.put_scaling_policy`` arguments, or None when the revision cannot
    scale (a scalable target without a policy never changes the task count).

    ``scale_on = "requests"``: ALBRequestCountPerTarget, counted per target per minute, with the
    target ``concurrency x 60`` (``concurrency`` requests a second per task: what ``concurrency``
    requests in flight amount to at a one-second mean latency). ``"cpu"``: 70 % average CPU."""
    least, most = tasks(rev)
    if most <= least:
        return None
    if names.settings.scale_on == "cpu":
        metric = {"PredefinedMetricType": "ECSServiceAverageCPUUtilization"}
        value = CPU_TARGET
    else:
        metric = {"PredefinedMetricType": "ALBRequestCountPerTarget",
                  "ResourceLabel": resource_label(load_balancer_arn, target_group_arn)}
        value = float(rev.concurrency * 60)
    return {"PolicyName": POLICY_NAME, "ServiceNamespace": "ecs",
            "ResourceId": scaling_resource(names, rev.revision), "ScalableDimension": "ecs:service:DesiredCount",
            "PolicyType": "TargetTrackingScaling", "TargetTrackingScalingPolicyConfiguration": {
                "TargetValue": value, "PredefinedMetricSpecification": metric, **SCALE_COOLDOWN}}


def scaling_summary(rev: RevisionSpec, settings: AwsSettings) -> str:
    """What ``plan`` says the scaling keys become on Fargate."""
    least, most = tasks(rev)
    if most <= least:
        text = f"fixed at {least} task(s): no scaling policy"
    elif settings.scale_on == "cpu":
        text = f"{least}..{most} tasks, target tracking on {CPU_TARGET:g}% average CPU"
    else:
        text = (f"{least}..{most} tasks, target tracking on {rev.concurrency * 60} ALB requests per task per minute "
                f"(concurrency {rev.concurrency} a second)")
    if rev.min_instances == 0:
        text += ("; min_instances = 0 runs 1 task: Fargate behind a load balancer cannot scale up from zero "
                 "(no task, no request or CPU metric to start one)")
    return text


def scaling_resource(names: Names, revision: str) -> str:
    return f"service/{names.cluster}/{names.service(revision)}"


def forward(weights: Mapping[str, int], groups: Mapping[str, str]) -> list[dict[str, Any]]:
    """A listener's weighted forward action; ``groups`` maps revision -> target group ARN."""
    live = [(r, w) for r, w in weights.items() if w > 0]
    return [{"Type": "forward", "ForwardConfig": {
        "TargetGroups": [{"TargetGroupArn": groups[r], "Weight": w} for r, w in live],
        "TargetGroupStickinessConfig": {"Enabled": False}}}]


NO_REVISION = [{"Type": "fixed-response", "FixedResponseConfig": {
    "StatusCode": "503", "ContentType": "text/plain", "MessageBody": "no revision is serving"}}]


def revision_rule(revision: str, target_group_arn: str, listener_arn: str,
                  rule_tags: Mapping[str, str]) -> dict[str, Any]:
    """``elbv2.create_rule`` arguments: the revision header forwards to that revision."""
    return {"ListenerArn": listener_arn, "Priority": Names.rule_priority(revision),
            "Conditions": [{"Field": "http-header", "HttpHeaderConfig": {
                "HttpHeaderName": REVISION_HEADER, "Values": [revision]}}],
            "Actions": [{"Type": "forward", "TargetGroupArn": target_group_arn}],
            "Tags": tag_list(rule_tags)}


def summary(rev: RevisionSpec, names: Names) -> dict[str, Any]:
    """What ``plan`` shows for one revision."""
    return {"ecs service": f"{names.cluster}/{names.service(rev.revision)}",
            "task definition": f"{names.family(rev.revision)} (Fargate {int(rev.size.cpu * CPU_UNITS)} cpu / "
                               f"{rev.size.memory_mib} MiB)",
            "image": rev.image.ref or rev.image.digest,
            "target group": names.target_group(rev.revision),
            "platform": f"{rev.platform} (runtimePlatform.cpuArchitecture {CPU_ARCHITECTURE[rev.platform]})",
            "tasks": "{}..{}".format(*tasks(rev)), "scaling": scaling_summary(rev, names.settings),
            "secrets": sorted(rev.secrets), "smoke route": f"{REVISION_HEADER}: {rev.revision}, "
                                                        f"port {names.smoke_port(rev.revision)}",
            "access": access_note(names.settings, keyed="MODELPORT_API_KEY" in rev.secrets)}


# -- access: TLS, scheme, who may connect ---------------------------------------------------------

#: the plain-HTTP listener's action with a certificate: 301 to the same URL over HTTPS
#: (https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-listeners.html#redirect-actions)
REDIRECT_TO_HTTPS = [{"Type": "redirect", "RedirectConfig": {"Protocol": "HTTPS", "Port": str(HTTPS_PORT),
                                                             "StatusCode": "HTTP_301"}}]


def listener_protocol(settings: AwsSettings) -> dict[str, Any]:
    """``create_listener`` arguments for the endpoint's and the test listeners' protocol."""
    if not settings.tls:
        return {"Protocol": "HTTP"}
    return {"Protocol": "HTTPS", "SslPolicy": TLS_POLICY, "Certificates": [{"CertificateArn": settings.certificate_arn}]}


def ingress(settings: AwsSettings) -> list[dict[str, Any]]:
    """Security group ingress of the load balancer: its listeners, from ``allowed_cidrs`` only."""
    ranges = lambda what: [{"CidrIp": cidr, "Description": what} for cidr in settings.cidrs]  # noqa: E731
    ports = [settings.main_port] + ([settings.listener_port] if settings.tls else [])
    base = settings.smoke_port_base
    return [*({"IpProtocol": "tcp", "FromPort": port, "ToPort": port, "IpRanges": ranges("endpoint")} for port in ports),
            {"IpProtocol": "tcp", "FromPort": base, "ToPort": base + 99, "IpRanges": ranges("per-revision test listeners")}]


def endpoint_url(settings: AwsSettings, dns_name: str, port: int) -> str:
    """The URL of a listener: https on the certificate's host name when there is a certificate."""
    scheme, default = ("https", HTTPS_PORT) if settings.tls else ("http", 80)
    host = (settings.domain_name or dns_name) if settings.tls else dns_name
    return f"{scheme}://{host}" if port == default else f"{scheme}://{host}:{port}"


def access_note(settings: AwsSettings, keyed: bool) -> str:
    """What ``plan`` says about who can reach the endpoint."""
    where = ("internal load balancer: reachable from inside the VPC only" if settings.scheme == "internal"
             else f"internet-facing load balancer, open to {', '.join(settings.cidrs)}")
    if settings.tls:
        transport = f"HTTPS on 443 ({TLS_POLICY}), port {settings.listener_port} redirects to it"
    else:
        transport = "plain HTTP: requests and predictions travel unencrypted"
        if settings.scheme != "internal":
            transport += " on the internet; set certificate_arn for HTTPS"
    key = "the runtime requires the [access] api_key" if keyed else "no API key ([access] api_key)"
    return f"{where}; {transport}; {key}"
