"""``[targets.NAME]`` keys for ``provider = "gcp"``."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

INGRESS = {"all": "INGRESS_TRAFFIC_ALL", "internal": "INGRESS_TRAFFIC_INTERNAL_ONLY",
           "internal-and-cloud-load-balancing": "INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER"}


class GcpSettings(BaseModel):
    """Where and how a deployment runs on Cloud Run."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    project: str = Field(pattern=r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$", description="Google Cloud project id.")
    region: str = Field(pattern=r"^[a-z]+-[a-z]+[0-9]+$", description="Cloud Run region, e.g. us-central1.")
    api_endpoint: str | None = Field(
        None, description="Cloud Run Admin API endpoint override (e.g. http://127.0.0.1:8085 for a local "
                          "emulator; without a scheme https is used).")
    credentials: Literal["default", "anonymous"] = Field(
        "default", description="'default': google-auth's default chain (ADC). 'anonymous': no credentials "
                               "(only with api_endpoint, e.g. a local emulator).")
    registry: str | None = Field(
        None, pattern=r"^[A-Za-z0-9.-]+(:[0-9]+)?(/[a-z0-9._/-]+)?$",
        description="Registry override 'host[:port]/path' (anonymous) replacing Artifact Registry; "
                    "images go to <registry>/<deployment>.")
    repository: str = Field("modelport", pattern=r"^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$",
                            description="Artifact Registry repository (Docker format) in the region.")
    public: bool = Field(False, description="Grant allUsers roles/run.invoker (default: private).")
    ingress: Literal["all", "internal", "internal-and-cloud-load-balancing"] = Field(
        "all", description="Which networks may reach the service.")
    service_account: str | None = Field(None, description="Service account the revisions run as.")
    cpu_always_allocated: bool = Field(
        False, description="Instance-based billing (CPU outside requests); GPUs always use it.")
    request_timeout_s: int = Field(300, ge=1, le=3600, description="Request timeout of the service.")
    operation_timeout_s: float = Field(600, gt=0, le=3600,
                                       description="How long to wait for a Cloud Run operation.")

    @model_validator(mode="after")
    def _anonymous_needs_endpoint(self) -> "GcpSettings":
        if self.credentials == "anonymous" and not self.api_endpoint:
            raise ValueError("credentials = 'anonymous' is only allowed with an api_endpoint override "
                             "(e.g. a local emulator); Cloud Run itself needs credentials")
        return self
