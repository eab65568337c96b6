"""A local AWS account for tests and the demo: moto (control plane) plus the data planes moto lacks.

Quick start::

    from moto_fixtures.aws import AwsEmulation

    with AwsEmulation() as aws:             # DOCKER_HOST is used for the task containers
        ecs = aws.client("ecs")             # or boto3.client("ecs", endpoint_url=aws.endpoint_url)
        ...                                  # push images to aws.registry/<ecr repository name>
        aws.bridge.wait_for(lambda b: b.service("svc") and b.service("svc").healthy)
        httpx.get(f"http://{lb['DNSName']}:{port}/")   # the ALB answers through /etc/hosts

``python -m moto_fixtures.aws`` runs it standalone and prints the endpoint and the registry.
Pytest: ``pytest_plugins = ["moto_fixtures.aws.fixtures"]`` gives the session fixture ``aws_emulation``.

What a real account adds, and how it is emulated here (generic: only AWS API state is read):

* Control plane: moto server (a separate process, ``MotoAws``, run from ``moto_process.py``:
  moto's own WSGI app, threaded, as ``moto_server`` runs it) on 127.0.0.1, region us-east-1,
  account 123456789012, AWS managed policies loaded (``MOTO_IAM_LOAD_MANAGED_POLICIES``).
  ``enforce_iam=True`` starts it with ``INITIAL_NO_AUTH_ACTION_COUNT`` so only the bootstrap of an
  administrator user (``AwsEmulation.admin``) runs unauthenticated; afterwards every call must be
  signed by an IAM user whose policies allow the action.
* ECR: pushes go to a real registry (``AwsEmulation.registry``, CNCF distribution); its push
  notifications make ``EcrMirror`` call moto's ``ecr.put_image`` with the exact manifest bytes
  and digest, so ``describe_images`` / ``batch_get_image`` report the pushed digest. Only
  repositories that already exist in moto are mirrored (``mirror.events`` records the others as
  ``no-repository``). The mirror is asynchronous: the digest shows in moto a few milliseconds
  after the push returns (``mirror.wait_for(repo, digest)``). A task definition may reference
  the image either through the registry address or through the ECR URI
  (``123456789012.dkr.ecr.us-east-1.amazonaws.com/repo@sha256:...``), which is pulled from the
  stand-in.
* ECS: ``EcsBridge`` runs ONE container per ACTIVE service with ``desiredCount > 0`` (host
  networking), from its task definition's essential container: image, entryPoint, command,
  environment, ``secrets[].valueFrom`` resolved from Secrets Manager (incl. ``:json-key``) or SSM,
  plus ``PORT`` (the container port the load balancer uses, else the first port mapping) and
  ``MODELPORT_HOST`` (a distinct 127.A.B.x address per task). Health = HTTP GET (< 400 is
  healthy) of the path in the container health check command (``curl http://localhost:PORT/
  PATH``), else of the target group's ``HealthCheckPath``, else a TCP connect. A task whose
  definition changes is stopped, then started again (no overlap); an exited task is restarted.
  The task's ``executionRoleArn`` must name an IAM role that trusts ``ecs-tasks.amazonaws.com``
  (else "ECS was unable to assume the role ...") and whose policies (managed and inline,
  evaluated with moto's IAM policy engine, resource ARNs included) allow
  ``secretsmanager:GetSecretValue`` / ``ssm:GetParameters`` on each secret
  (``exec_role.py``; a secret by its full ARN, IAM wildcards as IAM matches them); ECR-pull
  and logs permissions are not evaluated. The image's architecture (from its config) must be the
  task definition's ``runtimePlatform.cpuArchitecture`` (X86_64 unless ARM64). With the
  ``awslogs`` log driver the log group must exist (or ``awslogs-create-group: "true"``) and the
  container's output is shipped to stream ``PREFIX/CONTAINER/TASK_ID`` (``ServiceStatus.task_id``).
  A task that cannot start keeps ``ServiceStatus.last_error`` (the stoppedReason ECS would give)
  and is retried every few seconds; a task unhealthy for longer than its health check's
  ``startPeriod + interval x retries`` is stopped ("Task failed container health checks") and
  replaced. Service ``events`` get ECS-style messages ("has started 1 tasks", "has stopped 1
  running tasks ... Stopped reason: ...", "has reached a steady state"); with
  ``deploymentCircuitBreaker.enable`` the deployment turns FAILED once failed tasks reach ECS's
  threshold (half the desired count, 3 to 200) and no more tasks start for it.
  Healthy tasks are registered as ``ip`` targets (address, container port) in the service's
  target groups and deregistered when they stop or turn unhealthy, as ECS does.
* ALB: ``LoadBalancerPlane`` serves each application load balancer's ``DNSName`` (an /etc/hosts
  line in a block marked with the owner pid) on each HTTP listener port. Every request reads the
  listener's current rules (``describe_rules``), takes the first matching rule by priority
  (conditions: path-pattern, host-header, http-header, http-request-method, query-string,
  source-ip; the default rule last) and picks a target group by its forward weights;
  ``fixed-response`` is answered as configured, other actions with 503.

Gaps (moto 5.2.5 server mode) found while building this, for the provider author:

* ``RegisterTaskDefinition`` in moto checks almost nothing for Fargate. The moto process adds
  ECS's rules (``ClientException``): ``networkMode`` must be ``awsvpc``; task-level ``cpu`` and
  ``memory`` must be a valid Fargate pair ("Invalid 'cpu' setting for task."); ``secrets``,
  the ``awslogs`` driver and ECR images each require ``executionRoleArn``. ``"0.5 vCPU"`` /
  ``"1GB"`` are stored as ``"512"`` / ``"1024"``, as ECS does.
* ECS ``runningCount``/``pendingCount`` and the deployment's ``rolloutState`` do not follow any
  task in moto (``create_service`` answers ``runningCount=0``, ``rolloutState IN_PROGRESS``
  forever; ``update_service(desiredCount=N)`` sets ``runningCount=N`` at once). Here the moto
  process (``moto_process.py``) has a private channel standing for the ECS agent's reports: the
  bridge sets ``runningCount`` = ``desiredCount`` while the service's container runs (0
  otherwise), ``rolloutState`` = ``COMPLETED`` once it is also healthy, and ``failedTasks`` =
  task starts that failed or exited (the patched ``update_service`` no longer jumps
  ``runningCount`` to a new ``desiredCount``; the next bridge pass, ~0.5 s, sets it). One
  container stands for all ``desiredCount`` tasks.
* Application Auto Scaling only records scalable targets and policies in moto: nothing scales,
  and ``desiredCount`` is never changed by it (the policies are checked: ``inmoto/autoscaling.py``).
* ECS ``list_tasks``/``describe_tasks`` show no tasks for services (moto creates none); Fargate
  ``run_task`` answers HTTP 500 unless each container has ``memory`` (and needs
  ``securityGroups``). Services need ``networkConfiguration.awsvpcConfiguration`` with existing
  subnets and security groups (the default VPC's subnets and ``default`` group work; DNS
  hostnames are on there).
* ``create_service`` drops ``deploymentConfiguration`` in moto; the moto process keeps it (ECS
  defaults 200/100, breaker off) so ``describe_services`` returns it. ``update_service`` with a
  new task definition starts a new PRIMARY deployment (IN_PROGRESS) and stores the full ARN.
* ``delete_service`` needs ``force=True`` or ``desiredCount=0`` first, as in AWS. moto marks the
  service INACTIVE at once and keeps listing it; the moto process (``inmoto/ecs.py``) makes it
  DRAINING for its target groups' deregistration delay (not listed, name not reusable, cluster
  not deletable), then INACTIVE, and the bridge keeps its task running, out of the target groups,
  until then. ``inmoto/`` holds the other API rules moto lacks (CreateService ``clientToken``,
  ListServices paging by 10, the asynchronous purge of force-deleted secrets, log retention
  values, idempotent ELB creates, scaling policy checks), each with its source.
* ELBv2 target health is ``healthy`` for any registered target (moto does no health checks), and
  a target group with no targets reports an empty list; the bridge only registers healthy tasks.
  HTTPS listeners are served with the certificate the emulation imported into ACM at start-up
  (``certificate_arn``; clients trust ``ca_pem``), others are not; redirect actions are answered,
  authenticate actions are not emulated.
  Load balancer DNS names are ``<name>-1.us-east-1.elb.amazonaws.com``: two emulations running
  at the same time must not use the same load balancer name.
* ``ecr.put_image`` into a missing repository is an HTTP 500 in moto (the mirror checks first).
  ECR has no ``/v2/`` registry API and ``get_authorization_token`` returns a token the stand-in
  registry does not need (it has no auth).
* IAM enforcement (``enforce_iam``) checks actions only: moto evaluates every request against
  resource ``"*"``, so a statement scoped to resource ARNs never matches (the call is denied).
  A policy proven here must grant its actions on ``"Resource": "*"``. Denials are HTTP 403; for
  JSON-protocol services (ECS, ECR, Logs, Secrets Manager, Application Auto Scaling) moto
  answers in XML, so botocore reports ``Error.Code == "403"`` (the message holds
  ``is not authorized to perform: ecs:CreateCluster``); query-protocol services (IAM, ELBv2, EC2)
  give ``AccessDenied``. Catch on the HTTP status.
* moto 5.2 keeps a request's response options (``describe_services(include=["TAGS"])``) on a
  class shared by all requests, so a concurrent call without them stripped the tags from this
  one's reply; the moto process makes them per request (``patch_response_options``).
* Unimplemented operations answer HTTP 500 (botocore retries them, then raises ``ClientError``
  with code ``500``).
"""

from .emulation import AwsEmulation
from .server import ACCOUNT_ID, REGION, Credentials, MotoAws

__all__ = ["AwsEmulation", "MotoAws", "Credentials", "REGION", "ACCOUNT_ID"]
