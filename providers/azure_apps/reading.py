"""Container Apps replies (``as_dict``: the ARM JSON) -> modelport's neutral values (pure)."""

from __future__ import annotations

from typing import Any, Mapping

from modelport.provider import Health, Observed, Revision

from . import translate as tr
from .settings import AzureAppsSettings


def _props(resource: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return (resource or {}).get("properties") or {}


def _ingress(app: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return (_props(app).get("configuration") or {}).get("ingress") or {}


def traffic_rules(app: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """The app's traffic rules (ARM JSON)."""
    return list(_ingress(app).get("traffic") or [])


def static_ip(environment: Mapping[str, Any] | None) -> str | None:
    """The managed environment's static IP."""
    return _props(environment).get("staticIp")


def labelled(app: Mapping[str, Any]) -> dict[str, str]:
    """modelport revision (label) -> Container Apps revision name."""
    return {t["label"]: t["revisionName"] for t in traffic_rules(app) if t.get("label") and t.get("revisionName")}


def weights(app: Mapping[str, Any]) -> dict[str, int]:
    """modelport revision -> percent, for revisions taking traffic."""
    return {t["label"]: int(t.get("weight") or 0) for t in traffic_rules(app) if t.get("label") and t.get("weight")}


def env_value(revision: Mapping[str, Any], name: str) -> str | None:
    """A plain env value of the revision's container."""
    containers = (_props(revision).get("template") or {}).get("containers") or [{}]
    return next((e.get("value") for e in containers[0].get("env") or [] if e.get("name") == name), None)


def digest(revision: Mapping[str, Any]) -> str:
    """The image digest the revision runs."""
    containers = (_props(revision).get("template") or {}).get("containers") or [{}]
    image = containers[0].get("image") or ""
    return image.split("@", 1)[1] if "@" in image else ""


def host(app: Mapping[str, Any], label: str | None = None) -> str:
    """The app's host name, or a label's (``<app>---<label>.<domain>``)."""
    fqdn = _ingress(app).get("fqdn") or ""
    if label is None:
        return fqdn
    name = app["name"].lower()
    return fqdn.replace(f"{name}.", f"{name}---{label}.", 1)


def url(host_name: str, s: AzureAppsSettings, static_ip: str | None) -> str:
    """Where a request for ``host_name`` goes (the static IP when ``via_static_ip``)."""
    scheme = "http" if s.allow_insecure else "https"
    return f"{scheme}://{static_ip if s.via_static_ip and static_ip else host_name}"


def headers(host_name: str, s: AzureAppsSettings) -> dict[str, str]:
    """The Host header a request needs when it goes to the static IP."""
    return {"Host": host_name} if s.via_static_ip else {}


def is_active(revision: Mapping[str, Any]) -> bool:
    """Whether the revision is active (has replicas or may scale them)."""
    return bool(_props(revision).get("active"))


def ready(revision: Mapping[str, Any]) -> bool:
    """Provisioned, active and healthy."""
    props = _props(revision)
    return bool(props.get("active")) and props.get("provisioningState") == "Provisioned" \
        and props.get("healthState") in ("Healthy", None)


def to_revision(label: str, revision: Mapping[str, Any], app: Mapping[str, Any], s: AzureAppsSettings,
                static_ip: str | None) -> Revision:
    """One modelport revision from its labelled Container Apps revision."""
    return Revision(label, digest(revision), env_value(revision, tr.ENV_CONFIG) or "", ready(revision),
                    url(host(app, label), s, static_ip), _props(revision).get("createdTime"),
                    {"revision_name": revision["name"], "running_state": _props(revision).get("runningState")})


def observed(app: Mapping[str, Any] | None, revisions: list[Mapping[str, Any]], deployment: str,
             s: AzureAppsSettings, static_ip: str | None) -> Observed:
    """What the cloud runs for ``deployment``: the labelled revisions and their weights."""
    if app is None:
        return Observed(deployment)
    by_name = {r["name"].lower(): r for r in revisions}
    found = tuple(to_revision(label, by_name[name.lower()], app, s, static_ip)
                  for label, name in sorted(labelled(app).items()) if name.lower() in by_name)
    return Observed(deployment, found, weights(app), url(host(app), s, static_ip),
                    extra={"app": app["name"], "fqdn": host(app)})


def health(app: Mapping[str, Any] | None, revisions: list[Mapping[str, Any]], label: str,
           s: AzureAppsSettings, static_ip: str | None) -> Health:
    """Readiness of revision ``label`` and its label URL."""
    name = labelled(app or {}).get(label)
    revision = next((r for r in revisions if name and r["name"].lower() == name.lower()), None)
    if app is None or revision is None:
        return Health(False, f"revision {label} does not exist", failed=True)
    props = _props(revision)
    if props.get("provisioningState") == "Failed":
        return Health(False, props.get("provisioningError") or "the revision failed to provision", failed=True)
    endpoint = url(host(app, label), s, static_ip)
    if not ready(revision):
        return Health(False, f"revision {revision['name']} is {props.get('runningState') or 'not ready'}",
                      endpoint, headers(host(app, label), s))
    return Health(True, "", endpoint, headers(host(app, label), s))
