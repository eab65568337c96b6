"""Spec -> Container Apps resources (pure): the ARM JSON of a container app and its traffic.

One container app per deployment (named after it) in Multiple revision mode. Revision ``rN`` is
the Container Apps revision ``<app>--rN-<config>`` carrying the traffic label ``rN``: the label
gives it its own URL (``<app>---rN.<domain>``), used as the revision endpoint by the gates. The
config hash in the suffix makes a revision with other content a new revision (suffixes are
unique per app); the template also carries it (``MODELPORT_CONFIG``) to read back.
"""

from __future__ import annotations

from typing import Any, Mapping

from modelport.errors import SpecError
from modelport.provider import (TAG_DEPLOYMENT, RevisionSpec, client_side_secret)

from .settings import AzureAppsSettings
from .sizes import memory_text

SECRET_SCHEME = "azure-kv"
CONTAINER = "model"
ENV_REVISION, ENV_CONFIG = "MODELPORT_REVISION", "MODELPORT_CONFIG"
READY_PATH, LIVE_PATH = "/v2/health/ready", "/v2/health/live"
ACR_PASSWORD_SECRET = "acr-password"


def app_name(deployment: str) -> str:
    """The container app of a deployment (its name rules: see rules.py)."""
    return deployment


def suffix(rev: RevisionSpec) -> str:
    """The revision suffix: ``rN-<config hash>``."""
    return f"{rev.revision.lower()}-{rev.config.lower()}"


def revision_name(rev: RevisionSpec) -> str:
    """The Container Apps revision name ``<app>--<suffix>``."""
    return f"{app_name(rev.deployment)}--{suffix(rev)}"


def secret_name(env_name: str) -> str:
    """An app secret's name for an env variable (lowercase alphanumerics and '-')."""
    return env_name.lower().replace("_", "-")


def _secrets(rev: RevisionSpec, s: AzureAppsSettings, reveal: bool) -> list[dict[str, Any]]:
    out = []
    for env_name, ref in sorted(rev.secrets.items()):
        if ref.startswith(f"{SECRET_SCHEME}:"):
            out.append({"name": secret_name(env_name), "keyVaultUrl": ref.split(":", 1)[1],
                        "identity": s.key_vault_identity})
        else:
            out.append({"name": secret_name(env_name), "value": client_side_secret(rev, env_name, reveal)})
    return out


def _env(rev: RevisionSpec) -> list[dict[str, Any]]:
    env = [{"name": k, "value": v} for k, v in sorted(rev.env.items())]
    env += [{"name": k, "secretRef": secret_name(k)} for k in sorted(rev.secrets)]
    return env + [{"name": ENV_REVISION, "value": rev.revision}, {"name": ENV_CONFIG, "value": rev.config}]


def template(rev: RevisionSpec) -> dict[str, Any]:
    """The revision template: one container, probes on the serving contract, HTTP scaling."""
    probe = lambda kind, path: {"type": kind, "httpGet": {"path": path, "port": rev.port}}  # noqa: E731
    return {
        "revisionSuffix": suffix(rev),
        "containers": [{
            "name": CONTAINER, "image": rev.image.ref or rev.image.image_id, "env": _env(rev),
            "resources": {"cpu": rev.size.cpu, "memory": memory_text(rev.size.memory_mib)},
            "probes": [probe("Readiness", READY_PATH), probe("Liveness", LIVE_PATH)],
        }],
        "scale": {"minReplicas": rev.min_instances, "maxReplicas": rev.max_instances,
                  "rules": [{"name": "http-concurrency",
                             "http": {"metadata": {"concurrentRequests": str(rev.concurrency)}}}]},
    }


def registries(s: AzureAppsSettings) -> list[dict[str, Any]]:
    """How the app pulls: an ACR through a managed identity; an override registry anonymously."""
    if not s.acr:
        return []
    return [{"server": f"{s.acr.lower()}.azurecr.io", "identity": s.acr_identity or "system"}]


def identity(rev: RevisionSpec, s: AzureAppsSettings) -> dict[str, Any] | None:
    """The app's managed identities: system-assigned when Key Vault or ACR pulls use 'system'."""
    users = {i for i in (s.acr_identity, s.key_vault_identity) if i and i != "system"}
    system = (any(r.startswith(f"{SECRET_SCHEME}:") for r in rev.secrets.values()) and s.key_vault_identity == "system") \
        or (bool(registries(s)) and not s.acr_identity)
    if not users and not system:
        return None
    kind = ",".join(k for k, on in (("SystemAssigned", system), ("UserAssigned", bool(users))) if on)
    return {"type": kind, **({"userAssignedIdentities": {u: {} for u in sorted(users)}} if users else {})}


def app_body(rev: RevisionSpec, s: AzureAppsSettings, environment_id: str, traffic: list[dict[str, Any]],
             reveal: bool = False) -> dict[str, Any]:
    """The container app PUT body running ``rev`` with ``traffic`` (secret values only when ``reveal``)."""
    body: dict[str, Any] = {
        "location": s.location,
        "tags": {TAG_DEPLOYMENT: rev.deployment},
        "properties": {
            "environmentId": environment_id,
            "configuration": {
                "activeRevisionsMode": "Multiple",
                "secrets": _secrets(rev, s, reveal),
                "registries": registries(s),
                "ingress": {"external": s.ingress == "external", "targetPort": rev.port, "transport": "auto",
                            "allowInsecure": s.allow_insecure, "traffic": traffic},
            },
            "template": template(rev),
        },
    }
    ident = identity(rev, s)
    if ident:
        body["identity"] = ident
    return body


def traffic(weights: Mapping[str, int], names: Mapping[str, str]) -> list[dict[str, Any]]:
    """Traffic rules: one per modelport revision (label rN, its revision name, its weight)."""
    return [{"revisionName": names[label], "label": label, "weight": int(weights.get(label, 0))}
            for label in sorted(names)]


def check_secret_ref(env_name: str, ref: str) -> None:
    """Refuse an azure-kv: reference that is not a Key Vault secret URL."""
    url = ref.split(":", 1)[1]
    if not (url.startswith("https://") and ".vault." in url and "/secrets/" in url):
        raise SpecError("", f"secrets.{env_name}", f"{ref!r} is not a Key Vault secret reference",
                        hint="write azure-kv:https://<vault>.vault.azure.net/secrets/<name>[/<version>]")
