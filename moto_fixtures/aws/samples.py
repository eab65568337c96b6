"""Samples for tests of the AWS emulation: a tiny HTTP image (FROM modelport-base:bookworm), and
the boto3 calls that deploy it as a Fargate service behind a weighted ALB listener."""

from __future__ import annotations

import io
import json
import tarfile

import docker

BASE_IMAGE = "modelport-base:bookworm"
PORT = 8080  # the sample task definitions' container port

SERVER = r'''
import json, os, signal, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
VERSION = os.environ.get("APP_VERSION", "unknown")


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/v2/health/ready":
            ready = os.environ.get("READY", "1") == "1"
            return self.send_json(200 if ready else 503, {"ready": ready})
        if self.path.startswith("/env/"):
            return self.send_json(200, {"value": os.environ.get(self.path[5:])})
        self.send_json(200, {"version": VERSION, "host": os.environ["MODELPORT_HOST"]})

    def send_json(self, code, body):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


server = ThreadingHTTPServer((os.environ["MODELPORT_HOST"], int(os.environ["PORT"])), Handler)
print(f"hello {VERSION} listening on {os.environ['MODELPORT_HOST']}:{os.environ['PORT']}",
      flush=True)
server.serve_forever()
'''


def _context(version: str, base: str) -> bytes:
    dockerfile = (f"FROM {base}\nCOPY server.py /app/server.py\n"
                  f"ENV APP_VERSION={version}\nCMD [\"python3\", \"/app/server.py\"]\n")
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, text in (("Dockerfile", dockerfile), ("server.py", SERVER)):
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def push(client: docker.DockerClient, local: str, repository: str, tag: str) -> str:
    """Tag ``local`` as ``repository:tag``, push it and return the manifest digest."""
    client.api.tag(local, repository, tag)
    digest = None
    for line in client.api.push(repository, tag=tag, stream=True, decode=True):
        if "error" in line:
            raise RuntimeError(f"push of {repository}:{tag} failed: {line['error']}")
        digest = (line.get("aux") or {}).get("Digest", digest)
    if digest is None:
        raise RuntimeError(f"push of {repository}:{tag} reported no digest")
    return digest


def build_hello(client: docker.DockerClient, version: str, tag: str, base: str = BASE_IMAGE) -> str:
    """Build the hello image (FROM ``base``) answering ``{"version": version}``; return its tag.

    It serves on ``$MODELPORT_HOST:$PORT``: ``/v2/health/ready`` (503 when ``READY=0``),
    ``/env/NAME`` (that variable's value) and anything else with its version.
    """
    client.images.build(fileobj=io.BytesIO(_context(version, base)), custom_context=True, tag=tag,
                        rm=True, forcerm=True)
    return tag


def tiny_image(client: docker.DockerClient, repository: str, tag: str, content: bytes) -> str:
    """Import a one-file image (no base needed) as ``repository:tag``."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo("content.txt")
        info.size = len(content)
        tar.addfile(info, io.BytesIO(content))
    client.api.import_image_from_data(buf.getvalue(), repository=repository, tag=tag)
    return f"{repository}:{tag}"


# ---- boto3: deploy the sample as ECS Fargate services behind an ALB ------------------------------

def default_network(ec2) -> tuple[str, list[str], str]:
    """(vpc id, subnet ids, default security group id) of the default VPC."""
    vpc = ec2.describe_vpcs(Filters=[{"Name": "isDefault", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    subnets = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"]
    groups = ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc]},
                                                   {"Name": "group-name", "Values": ["default"]}])
    return vpc, [s["SubnetId"] for s in subnets], groups["SecurityGroups"][0]["GroupId"]


SECRETS_PATTERN = "arn:aws:secretsmanager:*:*:secret:bridge-test/*"


def execution_role(iam, name: str = "bridge-test-execution",
                   secrets: str | None = SECRETS_PATTERN) -> str:
    """A task execution role trusting ECS tasks, with AWS's managed policy and (when ``secrets``
    is a resource pattern) an inline policy to read those Secrets Manager secrets; its ARN."""
    try:
        return iam.get_role(RoleName=name)["Role"]["Arn"]
    except iam.exceptions.NoSuchEntityException:
        pass
    trust = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"},
        "Action": "sts:AssumeRole"}]}
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    iam.attach_role_policy(RoleName=name, PolicyArn=(
        "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"))
    if secrets:
        iam.put_role_policy(RoleName=name, PolicyName="read-secrets", PolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Resource": secrets,
                                                    "Action": "secretsmanager:GetSecretValue"}]}))
    return arn


def register_hello(ecs, family: str, image: str, env: dict, secrets: dict | None = None,
                   log_group: str | None = None, role: str | None = None,
                   health: dict | None = None, cpu_architecture: str | None = None) -> str:
    """A Fargate task definition for the hello image; returns its ARN."""
    container = {
        "name": "app", "image": image, "essential": True,
        "portMappings": [{"containerPort": PORT, "protocol": "tcp"}],
        "environment": [{"name": k, "value": v} for k, v in env.items()],
        "secrets": [{"name": k, "valueFrom": v} for k, v in (secrets or {}).items()],
        "healthCheck": {"command": ["CMD-SHELL",
                                    f"curl -f http://localhost:{PORT}/v2/health/ready || exit 1"],
                        **(health or {})},
    }
    if log_group:
        container["logConfiguration"] = {"logDriver": "awslogs", "options": {
            "awslogs-group": log_group, "awslogs-region": "us-east-1",
            "awslogs-stream-prefix": "hello"}}
    extra = {"executionRoleArn": role} if role else {}
    if cpu_architecture:
        extra["runtimePlatform"] = {"operatingSystemFamily": "LINUX", "cpuArchitecture": cpu_architecture}
    reply = ecs.register_task_definition(
        family=family, requiresCompatibilities=["FARGATE"], networkMode="awsvpc", cpu="256",
        memory="512", containerDefinitions=[container], **extra)
    return reply["taskDefinition"]["taskDefinitionArn"]


def create_service(ecs, cluster, name, task_definition, target_group, subnets, group,
                   **extra) -> str:
    """A Fargate service behind ``target_group``; returns its ARN."""
    return ecs.create_service(
        cluster=cluster, serviceName=name, taskDefinition=task_definition, desiredCount=1,
        launchType="FARGATE", **extra,
        networkConfiguration={"awsvpcConfiguration": {"subnets": subnets[:2],
                                                      "securityGroups": [group]}},
        loadBalancers=[{"targetGroupArn": target_group, "containerName": "app",
                        "containerPort": PORT}])["service"]["serviceArn"]


def target_group(elbv2, name: str, vpc: str, drain_seconds: int, **extra) -> str:
    """An ``ip`` target group for the sample's port whose deregistration delay is
    ``drain_seconds`` (ELB's default, 300 s, would keep a deleted service DRAINING five minutes)."""
    arn = elbv2.create_target_group(Name=name, Protocol="HTTP", Port=PORT, VpcId=vpc, TargetType="ip",
                                    **extra)["TargetGroups"][0]["TargetGroupArn"]
    elbv2.modify_target_group_attributes(TargetGroupArn=arn, Attributes=[
        {"Key": "deregistration_delay.timeout_seconds", "Value": str(drain_seconds)}])
    return arn


def relabel_architecture(registry: str, repository: str, digest: str, architecture: str) -> str:
    """Copy image ``repository@digest`` in ``registry`` (plain HTTP, no auth) to a manifest whose
    config says ``architecture``; return the new manifest's digest.

    Building a real arm64 image needs an arm64 machine or qemu, neither of which is here: the copy
    keeps the original (amd64) layers, so only its config claims arm64. That is exactly what
    Fargate and the emulation look at to decide where an image can run; the emulation then runs
    it on this amd64 engine, which real arm64 binaries could not do."""
    import hashlib

    import httpx

    base = f"http://{registry}/v2/{repository}"
    kind = "application/vnd.docker.distribution.manifest.v2+json"
    with httpx.Client(timeout=30) as http:
        manifest = http.get(f"{base}/manifests/{digest}", headers={"Accept": kind}).raise_for_status().json()
        config = http.get(f"{base}/blobs/{manifest['config']['digest']}").raise_for_status().json()
        body = json.dumps({**config, "architecture": architecture}).encode()
        config_digest = "sha256:" + hashlib.sha256(body).hexdigest()
        upload = http.post(f"{base}/blobs/uploads/").raise_for_status().headers["Location"]
        upload = upload if upload.startswith("http") else f"http://{registry}{upload}"
        # the Location keeps its own query (_state): add the digest to it, do not replace it
        http.put(f"{upload}{'&' if '?' in upload else '?'}digest={config_digest}", content=body,
                 headers={"Content-Type": "application/octet-stream"}).raise_for_status()
        manifest["config"] = {**manifest["config"], "digest": config_digest, "size": len(body)}
        data = json.dumps(manifest).encode()
        http.put(f"{base}/manifests/{architecture}", content=data,
                 headers={"Content-Type": manifest.get("mediaType", kind)}).raise_for_status()
    return "sha256:" + hashlib.sha256(data).hexdigest()


def forward(*weights: tuple[str, int]) -> list[dict]:
    """A weighted forward default action."""
    return [{"Type": "forward", "ForwardConfig": {"TargetGroups": [
        {"TargetGroupArn": arn, "Weight": weight} for arn, weight in weights]}}]
