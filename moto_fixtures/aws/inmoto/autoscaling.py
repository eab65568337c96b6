"""Application Auto Scaling: policies belong to a registered target; request-count tracking
names a target group of the service behind that load balancer.

Sources (Application Auto Scaling API reference):

* PutScalingPolicy https://docs.aws.amazon.com/autoscaling/application/APIReference/API_PutScalingPolicy.html
  "You cannot create a scaling policy until you have registered the resource as a scalable
  target." (``ObjectNotFoundException``)
* PredefinedMetricSpecification https://docs.aws.amazon.com/autoscaling/application/APIReference/API_PredefinedMetricSpecification.html
  ``ResourceLabel``: "You can't specify a resource label unless the metric type is
  ALBRequestCountPerTarget and there is a target group attached to the Spot Fleet or ECS
  service", in the format ``app/<load-balancer-name>/<load-balancer-id>/targetgroup/
  <target-group-name>/<target-group-id>`` (the final portions of the two ARNs). Without a label
  AWS cannot tell which target group to count, so ALBRequestCountPerTarget requires one.
* TargetTrackingScalingPolicyConfiguration ``TargetValue``: a positive number (minimum
  8.515920e-109), API_TargetTrackingScalingPolicyConfiguration.html.
* DeregisterScalableTarget (API_DeregisterScalableTarget.html): "Deregistering a scalable target
  deletes the scaling policies and the scheduled actions that are associated with it."; a target
  that is not registered is ``ObjectNotFoundException``.

moto stores any policy, keeps policies of a deregistered target, and answers a missing target
with ``ValidationException``.
"""

from __future__ import annotations

import re

LABEL = re.compile(r"^app/([^/]+)/([^/]+)/targetgroup/([^/]+)/([^/]+)$")


def resource_label_error(label: str | None, load_balancer_arns: list[str],
                         groups: dict[str, list[str]], service_groups: list[str]) -> str | None:
    """Why an ALBRequestCountPerTarget ``label`` is refused, or None.

    ``groups``: target group ARN -> ARNs of the load balancers it is attached to;
    ``service_groups``: the target group ARNs of the scalable ECS service.
    """
    if not label:
        return "ResourceLabel is required for predefined metric type ALBRequestCountPerTarget"
    match = LABEL.match(label)
    if not match:
        return (f"Invalid ResourceLabel {label!r}: expected app/<load-balancer-name>/<load-balancer-id>"
                "/targetgroup/<target-group-name>/<target-group-id>")
    lb_part, tg_part = label.split("/targetgroup/", 1)
    lb = next((arn for arn in load_balancer_arns if arn.endswith(":loadbalancer/" + lb_part)), None)
    tg = next((arn for arn in groups if arn.endswith(":targetgroup/" + tg_part)), None)
    if lb is None or tg is None:
        return f"ResourceLabel {label!r} names no existing load balancer and target group"
    if lb not in groups[tg]:
        return f"Target group {match.group(3)} is not attached to load balancer {match.group(1)}"
    if tg not in service_groups:
        return f"Target group {match.group(3)} is not attached to the scalable ECS service"
    return None


def target_value_error(config: dict) -> str | None:
    """Why a target tracking configuration's TargetValue is refused, or None."""
    try:
        value = float(config.get("TargetValue"))
    except (TypeError, ValueError):
        return "TargetValue is required"
    return None if value > 0 else f"TargetValue must be positive, got {value:g}"


def _not_found(namespace: str, resource_id: str, dimension: str):
    from moto.core.exceptions import JsonRESTError

    return JsonRESTError("ObjectNotFoundException", f"No scalable target registered for service namespace: "
                         f"{namespace}, resource ID: {resource_id}, scalable dimension: {dimension}")


def _label_error(backend, resource_id: str, label: str | None) -> str | None:
    from moto.ecs.models import ecs_backends
    from moto.elbv2.models import elbv2_backends

    elb = elbv2_backends[backend.account_id][backend.region_name]
    parts = resource_id.split("/")
    service = (ecs_backends[backend.account_id][backend.region_name].services.get(f"{parts[1]}:{parts[2]}")
               if len(parts) == 3 and parts[0] == "service" else None)
    service_groups = [lb.get("targetGroupArn") for lb in (service.load_balancers if service else [])]
    groups = {arn: list(tg.load_balancer_arns) for arn, tg in elb.target_groups.items()}
    return resource_label_error(label, list(elb.load_balancers), groups, service_groups)


def install() -> None:
    """Patch moto's Application Auto Scaling backend."""
    from moto.applicationautoscaling.exceptions import AWSValidationException
    from moto.applicationautoscaling.models import ApplicationAutoscalingBackend as Backend

    put_scaling_policy = Backend.put_scaling_policy

    def patched_put(self, policy_name, service_namespace, resource_id, scalable_dimension, policy_body,
                    policy_type):
        if not self._scalable_target_exists(resource_id, scalable_dimension):
            raise _not_found(service_namespace, resource_id, scalable_dimension)
        if policy_type == "TargetTrackingScaling":
            config = policy_body or {}
            metric = config.get("PredefinedMetricSpecification") or {}
            error = target_value_error(config)
            if not error and metric.get("PredefinedMetricType") == "ALBRequestCountPerTarget":
                error = _label_error(self, resource_id, metric.get("ResourceLabel"))
            if error:
                raise AWSValidationException(error)
        return put_scaling_policy(self, policy_name, service_namespace, resource_id, scalable_dimension,
                                  policy_body, policy_type)

    def patched_deregister(self, namespace, r_id, dimension):
        if not self._scalable_target_exists(r_id, dimension):
            raise _not_found(namespace, r_id, dimension)
        del self.targets[dimension][r_id]
        for key in [k for k, p in self.policies.items()
                    if (p.service_namespace, p.resource_id, p.scalable_dimension) == (namespace, r_id, dimension)]:
            del self.policies[key]

    Backend.put_scaling_policy = patched_put
    Backend.deregister_scalable_target = patched_deregister
