"""The ``azure-apps`` provider: Azure Container Apps (ARM api-version 2026-07-01).

One container app per deployment (named after it) in Multiple revision mode, in a managed
environment that is given or created (Consumption). Revision ``rN`` is the Container Apps
revision ``<app>--rN-<config>`` labelled ``rN``; traffic is the app's weighted traffic list (one
rule per modelport revision, with its label), so canary works natively; each revision's label URL
``https://<app>---rN.<environment domain>`` is where the gates smoke-test it. Ingress is external or
internal, HTTPS (plain HTTP redirected unless ``allow_insecure``). Secrets become app secrets
(``env:``/``file:`` values, resolved client-side) or Key Vault references (``azure-kv:<secret
URL>``, read by the app's managed identity). ``[scaling]`` becomes min/max replicas (0 allowed:
scale to zero) and an HTTP concurrency scale rule. Sizes: the documented Consumption cpu/memory
pairs (``limits.toml``: 0.25 vCPU / 0.5 GiB up to 2 / 4, or 4 / 8 with ``workload_profiles``).

Target settings (``[targets.NAME]``, see :class:`~.settings.AzureAppsSettings`)::

    [targets.aca]
    provider = "azure-apps"
    subscription_id = "00000000-0000-0000-0000-000000000000"
    resource_group = "models"
    location = "westeurope"
    environment = "models-env"        # created when missing (create_environment = true)
    registry = "myregistry.azurecr.io/models"
    # ingress = "internal"            # only inside the environment's VNet
    # via_static_ip = true            # reach apps at the environment's static IP + Host header
    # allow_insecure = true           # also serve plain HTTP (endpoints reported as http://)
    # base_url / ca_bundle / token_env: another ARM endpoint, as for the azure provider

Known limits: health and smoke requests use the app's and labels' host names, so they must
resolve where modelport runs (or use ``via_static_ip``); revisions are never deleted, only
deactivated (Container Apps keeps up to ``maxInactiveRevisions``); no GPU; logs not read yet.
"""
