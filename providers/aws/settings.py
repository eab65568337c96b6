"""``[targets.NAME]`` keys for ``provider = "aws"``."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

#: CloudWatch Logs retention periods PutRetentionPolicy accepts; any other is refused by AWS
#: (https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutRetentionPolicy.html)
RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192,
                  2557, 2922, 3288, 3653)


HTTPS_PORT = 443
#: the ELB TLS policy for TLS 1.3 and 1.2 with forward secrecy only, AWS's recommended policy
#: (https://docs.aws.amazon.com/elasticloadbalancing/latest/application/describe-ssl-policies.html)
TLS_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06"


class AwsSettings(BaseModel):
    """Where and how the aws provider deploys. Every key is optional: with none, it uses boto3's
    default credentials and region, the default VPC, and creates everything it needs."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    region: str | None = Field(None, description="AWS region (default: boto3's, e.g. AWS_REGION or the profile).")
    endpoint_url: str | None = Field(None, description="Endpoint URL for every AWS API (a VPC endpoint, a proxy, an emulator).")
    ca_bundle: str | None = Field(None, description="CA bundle file to verify the endpoint's TLS certificate.")
    cluster: str | None = Field(None, description="An existing ECS cluster to use (default: one created for the deployment).")
    execution_role_arn: str | None = Field(None, description="An existing task execution role (default: one created with AmazonECSTaskExecutionRolePolicy).")
    vpc_id: str | None = Field(None, description="VPC of the load balancer and tasks (default: the region's default VPC).")
    subnets: list[str] = Field(default_factory=list, description="Subnets (two or more, in different zones) for the load balancer and tasks (default: the VPC's).")
    security_groups: list[str] = Field(default_factory=list, description="Security groups for the load balancer and tasks (default: one created for the deployment).")
    assign_public_ip: bool = Field(True, description="Give tasks a public IP (needed to pull from ECR without NAT or VPC endpoints).")
    listener_port: int = Field(80, ge=1, le=65535, description="Port of the load balancer's HTTP listener (the public endpoint).")
    smoke_port_base: int = Field(9000, ge=1, le=65435, description="First of 100 ports where each revision gets its own test listener (for health gates).")
    allowed_cidr: str = Field("0.0.0.0/0", description="Who may reach the load balancer (security group ingress), when modelport creates the group; one CIDR (allowed_cidrs takes several).")
    allowed_cidrs: list[str] | None = Field(None, min_length=1, max_length=50, description="CIDRs that may reach the load balancer (security group ingress, when modelport creates the group); replaces allowed_cidr.")
    scheme: Literal["internet-facing", "internal"] = Field("internet-facing", description="'internal': the load balancer has private addresses only, reachable from inside the VPC (and what is connected to it).")
    certificate_arn: str | None = Field(None, pattern=r"^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate/[A-Za-z0-9-]+$", description="ACM certificate for an HTTPS listener on port 443 (TLS policy ELBSecurityPolicy-TLS13-1-2-2021-06); port listener_port then redirects to it.")
    domain_name: str | None = Field(None, pattern=r"^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$", description="The host name the certificate is for, pointing (CNAME/alias) at the load balancer: the endpoint is https://<domain_name> (default: the load balancer's DNS name).")
    name_prefix: str = Field("mp", pattern=r"^[a-z][a-z0-9]{0,5}$", description="Prefix of every resource name modelport creates.")
    repository_prefix: str = Field("modelport", pattern=r"^[a-z0-9][a-z0-9._/-]*$", description="ECR repository path prefix: images go to <prefix>/<deployment>.")
    log_retention_days: int = Field(30, description="CloudWatch Logs retention of the deployment's log group, in days: "
                                    "one of " + ", ".join(map(str, RETENTION_DAYS)) + ".")
    deregistration_delay: int = Field(30, ge=0, le=3600, description="Seconds a revision being removed keeps serving the requests "
                                      "it already has (its target group's deregistration delay; ECS keeps the service "
                                      "DRAINING that long, so its name is not reused meanwhile).")
    scale_on: Literal["requests", "cpu"] = Field("requests", description="What autoscaling tracks when max_instances > "
                                                 "min_instances: 'requests' (ALB requests per task: scaling.concurrency "
                                                 "per second) or 'cpu' (70% average CPU).")
    registry: str | None = Field(None, description="Registry override host[:port]/path replacing ECR (images go to <registry>/<deployment>).")
    registry_username: str | None = Field(None, description="Username for the registry override (default: anonymous).")
    registry_password_env: str | None = Field(None, description="Name of the environment variable holding the registry override's password.")
    registry_credentials_arn: str | None = Field(None, description="Secrets Manager ARN ECS uses to pull from the registry override (repositoryCredentials).")

    @field_validator("log_retention_days")
    @classmethod
    def _retention(cls, value: int) -> int:
        if value not in RETENTION_DAYS:
            nearest = min(RETENTION_DAYS, key=lambda d: (abs(d - value), d))
            raise ValueError(f"CloudWatch Logs keeps logs for one of {', '.join(map(str, RETENTION_DAYS))} days, "
                             f"not {value}; the nearest is {nearest}")
        return value

    @field_validator("allowed_cidrs", "allowed_cidr")
    @classmethod
    def _cidrs(cls, value):
        import ipaddress

        for cidr in [value] if isinstance(value, str) else value or []:
            try:
                ipaddress.ip_network(cidr, strict=True)
            except ValueError as exc:
                raise ValueError(f"{cidr!r} is not a CIDR block ({exc}); write e.g. 10.0.0.0/16") from None
        return value

    @model_validator(mode="after")
    def _tls_settings(self) -> "AwsSettings":
        if self.domain_name and not self.certificate_arn:
            raise ValueError("domain_name names the host of the HTTPS endpoint: set certificate_arn too")
        if self.certificate_arn and self.listener_port == HTTPS_PORT:
            raise ValueError("with certificate_arn, port 443 is the HTTPS listener and listener_port the "
                             "redirect to it: set listener_port to another port (default 80)")
        return self

    @property
    def cidrs(self) -> list[str]:
        """Who may reach the load balancer."""
        return list(self.allowed_cidrs or [self.allowed_cidr])

    @property
    def tls(self) -> bool:
        """Whether the endpoint is served over HTTPS (a certificate is set)."""
        return self.certificate_arn is not None

    @property
    def main_port(self) -> int:
        """Port of the listener holding the traffic weights: 443 with a certificate."""
        return HTTPS_PORT if self.tls else self.listener_port

    @field_validator("registry")
    @classmethod
    def _no_scheme(cls, value: str | None) -> str | None:
        if value and "://" in value:
            raise ValueError("write host[:port]/path without a scheme")
        return value.rstrip("/") if value else value
