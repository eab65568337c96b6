"""``[targets.NAME]`` keys for ``provider = "swarm"``, validated before any Docker call."""

from __future__ import annotations

import ipaddress
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

#: label keys modelport sets itself; user labels may not use this prefix
RESERVED_LABEL_PREFIX = "modelport:"

Port = Annotated[int, Field(ge=1, le=65535)]


class SwarmSettings(BaseModel):
    """Where the swarm is, how revisions are reached, and how tasks are placed and sized."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    docker_host: str | None = Field(
        None, description="URL of a swarm manager's Docker API (default: DOCKER_HOST or the default socket).")
    address: str = Field(
        "loopback", description="What each revision binds on its node (services use host networking): "
        "'loopback' = its own 127.x address on the serving port (a single-node swarm on this machine); "
        "an IP such as '0.0.0.0' = that address on every node, each revision on its own port from port_range.")
    loopback_range: str = Field(
        "127.1.0.0/16", description="Network the 'loopback' scheme picks revision addresses from "
        "(kept apart from the local provider's 127.0.x addresses).")
    port_range: tuple[Port, Port] | None = Field(
        None, description="[first, last] ports given to revisions when address is an IP; "
        "None = every revision uses the spec's serving port.")
    endpoint_host: str | None = Field(
        None, description="Host name clients use to reach the revisions (a node, DNS round robin or an "
        "external load balancer); default: the bound address, 127.0.0.1 for 0.0.0.0.")
    constraints: tuple[str, ...] = Field(
        (), description="Swarm placement constraints, e.g. 'node.role==worker', 'node.labels.gpu==no'.")
    limit: bool = Field(True, description="Apply resources.cpu/memory as the tasks' hard limits.")
    reserve: float = Field(
        1.0, ge=0, le=1, description="Fraction of resources.cpu/memory reserved for scheduling (0 = none).")
    registry: str | None = Field(
        None, description="Registry repository prefix (host[:port]/path) images are pushed to and every "
        "node pulls from by digest; needed on multi-node swarms. None = run the local engine's image.")
    labels: dict[str, str] = Field(
        default_factory=dict, description="Extra labels on every service (team, cost centre, ...).")
    restart_attempts: int = Field(
        3, ge=0, le=100, description="Restarts of a failing task before Swarm gives up (0 = unlimited).")
    start_period: int = Field(
        120, ge=0, le=3600, description="Seconds a task may take to load its model before failing "
        "health checks count.")
    stop_grace_period: int = Field(
        30, ge=0, le=3600, description="Seconds a task gets to drain after SIGTERM.")

    @field_validator("address")
    @classmethod
    def _address(cls, value: str) -> str:
        if value != "loopback":
            ipaddress.ip_address(value)  # ValueError names the field through pydantic
        return value

    @field_validator("loopback_range")
    @classmethod
    def _loopback(cls, value: str) -> str:
        net = ipaddress.ip_network(value, strict=False)
        if not net.is_loopback or net.version != 4:
            raise ValueError(f"{value} is not an IPv4 loopback network (127.0.0.0/8)")
        return str(net)

    @field_validator("labels")
    @classmethod
    def _labels(cls, value: dict[str, str]) -> dict[str, str]:
        taken = [k for k in value if k.startswith(RESERVED_LABEL_PREFIX)]
        if taken:
            raise ValueError(f"label keys starting with {RESERVED_LABEL_PREFIX!r} belong to modelport: {taken}")
        return value

    @field_validator("registry")
    @classmethod
    def _registry(cls, value: str | None) -> str | None:
        if value is not None and ("://" in value or "@" in value or not value.strip("/")):
            raise ValueError("give host[:port]/path without scheme, tag or digest")
        return value.strip("/") if value else value

    @model_validator(mode="after")
    def _ports(self) -> "SwarmSettings":
        if self.port_range and self.port_range[0] > self.port_range[1]:
            raise ValueError("port_range: the first port is above the last")
        if self.address != "loopback" and self.port_range is None:
            raise ValueError("port_range is required when address is an IP: revisions of every "
                             "deployment bind that address on each node, so each needs its own port")
        return self
