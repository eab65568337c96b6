"""``[targets.NAME]`` keys for ``provider = "azure-apps"``."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

PUBLIC_ARM = "https://management.azure.com"
USER_ASSIGNED_IDENTITY = re.compile(
    r"^/subscriptions/[0-9a-f-]{36}/resourcegroups/[-\w.()]{1,90}"
    r"/providers/microsoft\.managedidentity/userassignedidentities/[a-z0-9][-\w]{2,127}$", re.IGNORECASE)


class AzureAppsSettings(BaseModel):
    """Where and how a deployment runs on Azure Container Apps."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    subscription_id: str = Field(pattern=r"^[0-9a-fA-F-]{36}$", description="Azure subscription id (a GUID).")
    resource_group: str = Field(pattern=r"^[-\w._()]{1,90}$", description="Resource group of the container apps.")
    location: str = Field(pattern=r"^[a-z0-9]+$", description="Azure region, e.g. westeurope.")
    environment: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9-]{0,58}[A-Za-z0-9]$",
                             description="Managed environment the apps run in (in resource_group).")
    create_environment: bool = Field(True, description="Create the managed environment (Consumption) when it "
                                                       "does not exist; false: it must exist.")
    workload_profiles: bool = Field(False, description="The environment has the Consumption workload profile "
                                                       "(sizes up to 4 vCPU / 8 GiB instead of 2 / 4).")
    ingress: Literal["external", "internal"] = Field(
        "external", description="external: reachable from the internet; internal: only inside the "
                                "environment's virtual network (<app>.internal.<domain>).")
    allow_insecure: bool = Field(False, description="Serve plain HTTP too (ingress.allowInsecure); endpoints are "
                                                    "then reported as http://. Default: HTTPS only, HTTP redirected.")
    via_static_ip: bool = Field(
        False, description="Reach the apps at the environment's static IP with their host name in the Host "
                           "header, for environments whose DNS does not resolve where modelport runs "
                           "(internal environments without a private DNS zone).")
    key_vault_identity: str = Field(
        "system", description="Identity reading Key Vault secrets (azure-kv: references): 'system' or the "
                              "resource id of a user-assigned identity attached to the app.")
    base_url: str = Field(PUBLIC_ARM, description="Azure Resource Manager endpoint.")
    ca_bundle: str | None = Field(None, description="PEM file of CAs trusted for base_url.")
    token_env: str | None = Field(None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
                                  description="Read an ARM bearer token from this environment variable instead "
                                              "of azure-identity's DefaultAzureCredential.")
    acr: str | None = Field(None, pattern=r"^[a-zA-Z0-9]{5,50}$",
                            description="Azure Container Registry the apps pull from with a managed identity "
                                        "(registries[].identity); images are pushed to `registry`.")
    acr_identity: str | None = Field(None, description="User-assigned identity (resource id) with AcrPull the "
                                                       "apps pull with (else 'system').")
    registry: str = Field(pattern=r"^[A-Za-z0-9.-]+(:[0-9]+)?(/[a-z0-9._/-]+)?$",
                          description="Where images go, 'host[:port]/path' (e.g. myregistry.azurecr.io/models), "
                                      "pushed without credentials (AAD pushes to an ACR are not offered yet); the "
                                      "apps pull anonymously, or through `acr` with a managed identity.")
    operation_timeout_s: float = Field(900, gt=0, le=3600, description="How long to wait for an ARM operation.")

    @field_validator("acr_identity")
    @classmethod
    def _identity(cls, value: str | None) -> str | None:
        if value is not None and not USER_ASSIGNED_IDENTITY.match(value):
            raise ValueError("must be the resource id of a user-assigned managed identity "
                             "(`az identity show --query id -o tsv`)")
        return value

    @field_validator("key_vault_identity")
    @classmethod
    def _kv_identity(cls, value: str) -> str:
        if value != "system" and not USER_ASSIGNED_IDENTITY.match(value):
            raise ValueError("must be 'system' or the resource id of a user-assigned managed identity")
        return value

    @model_validator(mode="after")
    def _check(self) -> "AzureAppsSettings":
        if self.acr and not self.registry.lower().startswith(f"{self.acr.lower()}.azurecr.io"):
            raise ValueError(f"registry must be in the ACR the apps pull from: {self.acr.lower()}.azurecr.io/<path>")
        return self
