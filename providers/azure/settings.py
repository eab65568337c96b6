"""``[targets.NAME]`` keys for ``provider = "azure"``."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

PUBLIC_ARM = "https://management.azure.com"


class AzureSettings(BaseModel):
    """Where and how a deployment runs on Azure Container Instances."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    subscription_id: str = Field(pattern=r"^[0-9a-fA-F-]{36}$", description="Azure subscription id (a GUID).")
    resource_group: str = Field(pattern=r"^[-\w._()]{1,90}$", description="Resource group of the container groups.")
    location: str = Field(pattern=r"^[a-z0-9]+$", description="Azure region, e.g. westeurope.")
    base_url: str = Field(PUBLIC_ARM, description="Azure Resource Manager endpoint (another cloud, a proxy "
                                                  "or a local emulator).")
    ca_bundle: str | None = Field(None, description="PEM file of CAs trusted for base_url (default: the "
                                                    "system's).")
    token_env: str | None = Field(
        None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
        description="Read an ARM bearer token from this environment variable instead of using "
                    "azure-identity's DefaultAzureCredential (e.g. the output of `az account "
                    "get-access-token --query accessToken -o tsv`, or any token a local endpoint accepts).")
    acr: str | None = Field(None, pattern=r"^[a-zA-Z0-9]{5,50}$",
                            description="Azure Container Registry name: images go to <acr>.azurecr.io/<deployment>.")
    acr_username_env: str | None = Field(
        None, description="With acr_password_env: environment variables holding the ACR admin user "
                          "(`az acr credential show`). Without them the AAD identity pushes and "
                          "acr_identity pulls.")
    acr_password_env: str | None = None
    acr_identity: str | None = Field(
        None, description="Resource id of a user-assigned managed identity with AcrPull, used by the "
                          "container groups to pull from the ACR (when no admin user is given).")
    registry: str | None = Field(
        None, pattern=r"^[A-Za-z0-9.-]+(:[0-9]+)?(/[a-z0-9._/-]+)?$",
        description="Registry override 'host[:port]/path' (anonymous) replacing the ACR; images go to "
                    "<registry>/<deployment>.")
    dns_label_prefix: str | None = Field(
        None, pattern=r"^[a-z][a-z0-9-]{0,50}$",
        description="Public groups get the DNS name label <prefix>-rN (default prefix: the deployment "
                    "name); labels are unique per Azure region.")
    subnet_id: str | None = Field(None, description="Subnet resource id: the groups get a private IP there "
                                                    "instead of a public IP with a DNS label.")
    endpoint_host: Literal["fqdn", "ip"] = Field(
        "fqdn", description="Report endpoints by DNS name (public groups) or by IP address (needed when "
                            "the fqdn does not resolve from where modelport runs).")
    restart_policy: Literal["Always", "OnFailure", "Never"] = Field("Always", description="Container restart policy.")
    operation_timeout_s: float = Field(900, gt=0, le=3600, description="How long to wait for an ARM operation.")

    @model_validator(mode="after")
    def _check(self) -> "AzureSettings":
        if not (self.acr or self.registry):
            raise ValueError("set acr = \"<registry name>\" (Azure Container Registry) or a registry "
                             "override registry = \"host:port/path\"")
        if bool(self.acr_username_env) != bool(self.acr_password_env):
            raise ValueError("acr_username_env and acr_password_env go together")
        return self
