"""The ``aws`` provider: ECS on Fargate behind an application load balancer, images in ECR.

Mapping of the neutral model (see ``translate.py`` for every name):

* image -> the ECR repository ``<repository_prefix>/<deployment>`` (created if missing), or the
  ``registry`` override ``host[:port]/path`` (+ ``registry_username``/``registry_password_env``);
  task definitions reference the image by digest;
* shared per deployment -> ECS cluster (or ``cluster``), CloudWatch log group, task execution role
  with ``AmazonECSTaskExecutionRolePolicy`` (or ``execution_role_arn``), security group (or
  ``security_groups``, ingress from ``allowed_cidrs``), application load balancer (``scheme``) +
  HTTP listener on ``listener_port``, or with ``certificate_arn`` an HTTPS listener on 443
  (``ELBSecurityPolicy-TLS13-1-2-2021-06``) and ``listener_port`` redirecting to it;
* revision rN -> a Fargate task definition (valid cpu/memory pair, ``cpuArchitecture`` from
  ``build.platform``, container health check on ``/v2/health/ready``, awslogs, environment,
  secrets as Secrets Manager ``valueFrom`` by full ARN), a target group (deregistration delay
  ``deregistration_delay``), an ECS service, an Application Auto Scaling target (at least one
  task) with a target tracking policy when it can grow (``secrets.py``, ``translate.py``), a test
  listener on ``smoke_port_base + N`` and a rule on the main listener matching
  ``X-Modelport-Revision: rN``;
* traffic -> the main listener's weighted forward (so canary works); health -> healthy targets in
  the revision's target group, smoke-tested through its test listener;
* every write survives a lost reply (read before write, ``clientToken``, "already exists" as
  done); a name whose ECS service is still DRAINING, or whose secret is still being purged, is
  waited for before it is used again (``revisions.py``);
* every resource carries ``modelport:deployment``/``revision``/``digest``/``config`` tags as they
  are (AWS allows ':'), so ``observe``/``status``/``list_resources`` ask AWS, not the state file.

Credentials come from boto3's default chain; ``region``, ``endpoint_url`` and ``ca_bundle`` are
per target. ``modelport iam-policy --to TARGET`` prints the least-privilege policy (``iam.py``).
"""
