"""The ``azure`` provider: Azure Container Instances (ARM api-version 2023-05-01).

One container group per modelport revision, named ``<deployment>-rN``, running the image by
digest with cpu/memory requests checked against ``limits.toml`` (:mod:`.sizes`), probes on
``/v2/health/ready``, env values, secrets as ``secureValue`` (resolved client-side from
``env:``/``file:`` references), and the tags documented in :mod:`.translate`. ACI cannot split
traffic: the serving revision is the group with the highest ``modelport:active`` tag, so
``observe`` reads it back from the cloud; blue-green creates a group, smoke-tests it at its own
address and moves that tag (the reported endpoint changes); all-at-once updates the serving
group in place (its container restarts; cpu/memory/GPU changes recreate it); canary is refused.

Target settings (``[targets.NAME]``, see :class:`~.settings.AzureSettings`)::

    [targets.azure]
    provider = "azure"
    subscription_id = "00000000-0000-0000-0000-000000000000"
    resource_group = "models"
    location = "westeurope"
    acr = "myregistry"                  # images go to myregistry.azurecr.io/<deployment>
    # acr_username_env = "ACR_USER"     # admin user (else AAD push via AcrAuth, pull via acr_identity)
    # acr_password_env = "ACR_PASSWORD"
    # acr_identity = "/subscriptions/.../userAssignedIdentities/pull"
    # subnet_id = "/subscriptions/.../subnets/aci"   # private IP instead of a public DNS label
    # dns_label_prefix = "mycompany-iris"            # labels <prefix>-rN (unique per region)
    # endpoint_host = "ip"              # report http://<ip>:<port> instead of the fqdn
    # base_url = "https://127.0.0.1:8443"            # another ARM endpoint
    # ca_bundle = "/path/ca.pem"
    # token_env = "AZURE_TOKEN"         # bearer token from this variable, not DefaultAzureCredential
    # registry = "127.0.0.1:5000/models"             # instead of the ACR (anonymous pulls)

Credentials: azure-identity's ``DefaultAzureCredential`` (az login, environment, managed
identity...) unless ``token_env`` names a variable holding an ARM bearer token
(``export AZURE_TOKEN=$(az account get-access-token --query accessToken -o tsv)``).

Known limits: health and smoke requests go to a group's own address, so with ``subnet_id``
modelport must run inside that network; a GPU needs V100 quota (0 by default).
"""
