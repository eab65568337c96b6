"""RevisionSpec -> Cloud Run Admin API v2 request data (pure; no SDK, no network).

Dicts use the field names of the Python client (``google.cloud.run_v2`` proto-plus types, e.g.
``type_``, ``container_port``), so ``run_v2.Service(service_request(...))`` is the request.

Names: the service id is the deployment name; modelport revision ``rN`` is the Cloud Run
revision ``<deployment>-rN`` and carries the traffic tag ``rN``.

Tags (GCP labels allow only ``[a-z0-9_-]``, values <= 63 characters, so ``modelport:x`` becomes
``modelport-x``):

======================== =========================== ===========================================
modelport tag            Cloud Run label             value
======================== =========================== ===========================================
modelport:deployment     ``modelport-deployment``    deployment name (service and revision)
modelport:revision       ``modelport-revision``      ``rN`` (revision template)
modelport:digest         ``modelport-digest``        the first 63 of the 64 hex digits of the
                                                     sha256 manifest digest (no ``sha256:``)
modelport:config         ``modelport-config``        the 16-hex config hash
(managed marker)         ``modelport-managed``       ``true`` (service)
======================== =========================== ===========================================

Labels cannot hold the full digest or a model version with dots, so the revision template also
carries annotations (free text): ``modelport.io/digest`` (``sha256:<64 hex>``),
``modelport.io/model`` and ``modelport.io/model-version``. The full digest is also in the
container image reference (``...@sha256:<64 hex>``), which is what ``observe`` trusts.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping

from modelport.errors import SpecError, UsageError
from modelport.provider import RevisionSpec, client_side_secret

from . import scaling
from .settings import INGRESS, GcpSettings
from .sizes import GPU_TYPE

L_DEPLOYMENT, L_REVISION, L_DIGEST, L_CONFIG, L_MANAGED = (
    "modelport-deployment", "modelport-revision", "modelport-digest", "modelport-config", "modelport-managed")
A_DIGEST, A_MODEL, A_VERSION = "modelport.io/digest", "modelport.io/model", "modelport.io/model-version"
REVISION_TRAFFIC = "TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION"
SECRET_SCHEME = "gcp-sm"
RESERVED_ENV = ("PORT", "K_SERVICE", "K_REVISION", "K_CONFIGURATION")
READY_PATH = "/v2/health/ready"
INVOKER_ROLE, PUBLIC_MEMBER = "roles/run.invoker", "allUsers"
MAX_TAG_AND_SERVICE = 46  # see check_tag

# Startup: model loading may take a while (period 5 s x 24 = 2 minutes); liveness: a stuck
# server is restarted after 3 failed checks 15 s apart.
STARTUP_PROBE = {"http_get": {"path": READY_PATH}, "initial_delay_seconds": 0, "period_seconds": 5,
                 "timeout_seconds": 3, "failure_threshold": 24}
LIVENESS_PROBE = {"http_get": {"path": READY_PATH}, "period_seconds": 15, "timeout_seconds": 5,
                  "failure_threshold": 3}


# -- names ------------------------------------------------------------------------------------------

def parent(settings: GcpSettings) -> str:
    """projects/P/locations/R."""
    return f"projects/{settings.project}/locations/{settings.region}"


def service_name(settings: GcpSettings, deployment: str) -> str:
    """Full resource name of the deployment's service."""
    return f"{parent(settings)}/services/{deployment}"


def check_tag(deployment: str, tag: str) -> None:
    """Cloud Run refuses a traffic tag that, with the service name, passes 46 characters (they
    share the tag URL's DNS label ``TAG---SERVICE-...``): "Combined traffic tag and service name
    cannot exceed 46 characters" (the API's 400, quoted in firebase/firebase-tools#6137)."""
    if len(deployment) + len(tag) > MAX_TAG_AND_SERVICE:
        raise SpecError("", "name", f"the deployment name {deployment!r} ({len(deployment)} characters) and its "
                        f"Cloud Run traffic tag {tag!r} together pass Cloud Run's {MAX_TAG_AND_SERVICE} characters",
                        hint=f"use a deployment name (name = ...) of at most {MAX_TAG_AND_SERVICE - len(tag)} characters")


def revision_id(deployment: str, revision: str) -> str:
    """Cloud Run revision id of modelport revision ``rN`` (prefixed by the service, as required)."""
    return f"{deployment}-{revision}"


def modelport_revision(cloud_revision: str, deployment: str) -> str:
    """``rN`` from ``<deployment>-rN`` or a full revision name; foreign names are kept as they are."""
    short = cloud_revision.rsplit("/", 1)[-1]
    prefix = f"{deployment}-"
    return short[len(prefix):] if short.startswith(prefix) else short


def digest_label(digest: str) -> str:
    """The label form of a manifest digest (hex only, 63 characters)."""
    return digest.split(":", 1)[-1][:63]


# -- secrets and env --------------------------------------------------------------------------------

def secret_key_ref(key: str, ref: str) -> dict[str, str]:
    """``gcp-sm:projects/P/secrets/S/versions/V`` (or ``.../secrets/S``, or ``S`` in the same
    project, or ``S/versions/V``) -> SecretKeySelector data."""
    body = ref.split(":", 1)[1] if ref.startswith(f"{SECRET_SCHEME}:") else ref
    parts = body.split("/")
    if len(parts) in (4, 6) and parts[0] == "projects" and parts[2] == "secrets" and all(parts):
        secret = "/".join(parts[:4])
        version = parts[5] if len(parts) == 6 and parts[4] == "versions" else None
        if len(parts) == 6 and version is None:
            parts = []
    elif len(parts) in (1, 3) and all(parts):
        secret = parts[0]
        version = parts[2] if len(parts) == 3 and parts[1] == "versions" else None
        if len(parts) == 3 and version is None:
            parts = []
    else:
        parts = []
    if not parts:
        raise SpecError("", f"secrets.{key}", f"{ref!r} is not a Secret Manager reference",
                        hint="write gcp-sm:projects/PROJECT/secrets/NAME/versions/VERSION "
                             "(or gcp-sm:NAME for the latest version in the same project)")
    return {"secret": secret, "version": version or "latest"}


def env_vars(rev: RevisionSpec, reveal: bool) -> list[dict[str, Any]]:
    """Container env: plain values, Secret Manager references for ``gcp-sm:``, and the values of
    client-side secrets (``env:``/``file:``) only when ``reveal`` (shown as *** otherwise)."""
    out = []
    for name in sorted({*rev.env, *rev.secrets}):
        if name in RESERVED_ENV or name.startswith("X_GOOGLE_"):
            field = "env" if name in rev.env else "secrets"
            raise SpecError("", f"{field}.{name}", f"{name} is set by Cloud Run and cannot be set here")
        if name in rev.env:
            out.append({"name": name, "value": rev.env[name]})
        elif rev.secrets[name].startswith(f"{SECRET_SCHEME}:"):
            out.append({"name": name, "value_source": {"secret_key_ref": secret_key_ref(name, rev.secrets[name])}})
        else:
            out.append({"name": name, "value": client_side_secret(rev, name, reveal)})
    return out


# -- the revision template --------------------------------------------------------------------------

def _cpu_text(cpu: float) -> str:
    return str(int(cpu)) if cpu >= 1 else f"{int(round(cpu * 1000))}m"


def resources(rev: RevisionSpec, settings: GcpSettings) -> dict[str, Any]:
    """Container limits and billing mode (fractional cpu: request-based; GPU: instance-based)."""
    limits = {"cpu": _cpu_text(rev.size.cpu), "memory": f"{rev.size.memory_mib}Mi"}
    if rev.size.gpu:
        limits["nvidia.com/gpu"] = str(rev.size.gpu)
    return {"limits": limits, "cpu_idle": scaling.cpu_idle(rev.size, settings), "startup_cpu_boost": True}


def container(rev: RevisionSpec, settings: GcpSettings, reveal: bool = False) -> dict[str, Any]:
    """The one serving container: image by digest, port, env, limits, probes."""
    if not rev.image.ref or "@sha256:" not in rev.image.ref:
        raise UsageError(f"revision {rev.revision}: the image {rev.image.digest} has no registry "
                         "reference by digest (push it first)")
    return {"name": "model", "image": rev.image.ref,
            "ports": [{"name": "http1", "container_port": rev.port}],
            "env": env_vars(rev, reveal), "resources": resources(rev, settings),
            "startup_probe": STARTUP_PROBE, "liveness_probe": LIVENESS_PROBE}


def revision_labels(rev: RevisionSpec) -> dict[str, str]:
    """The modelport tags of a revision, as GCP labels."""
    return {L_DEPLOYMENT: rev.deployment, L_REVISION: rev.revision,
            L_DIGEST: digest_label(rev.image.digest), L_CONFIG: rev.config}


def template(rev: RevisionSpec, settings: GcpSettings, reveal: bool = False) -> dict[str, Any]:
    """The RevisionTemplate of modelport revision ``rev``."""
    scaling.check_scaling(rev.size, rev.concurrency, settings)
    fractional = rev.size.cpu < 1
    out = {"revision": revision_id(rev.deployment, rev.revision), "labels": revision_labels(rev),
           "annotations": {A_DIGEST: rev.image.digest, A_MODEL: rev.model_name, A_VERSION: rev.model_version},
           "scaling": {"min_instance_count": rev.min_instances, "max_instance_count": rev.max_instances},
           "max_instance_request_concurrency": rev.concurrency,
           "timeout": {"seconds": settings.request_timeout_s},
           "containers": [container(rev, settings, reveal)]}
    if fractional:
        out["execution_environment"] = "EXECUTION_ENVIRONMENT_GEN1"
    if rev.size.gpu:
        out["node_selector"] = {"accelerator": GPU_TYPE}
    if settings.service_account:
        out["service_account"] = settings.service_account
    return out


def service_labels(deployment: str) -> dict[str, str]:
    """Labels of the service itself."""
    return {L_DEPLOYMENT: deployment, L_MANAGED: "true"}


def service_request(rev: RevisionSpec, settings: GcpSettings, traffic: list[dict[str, Any]],
                    reveal: bool = False) -> dict[str, Any]:
    """A whole Service for CreateService / UpdateService."""
    return {"labels": service_labels(rev.deployment), "ingress": INGRESS[settings.ingress],
            "client": "modelport", "template": template(rev, settings, reveal), "traffic": traffic}


# -- traffic ----------------------------------------------------------------------------------------

def _order(name: str) -> tuple[int, str]:
    return (int(name[1:]), name) if name[1:].isdigit() else (10**9, name)


def traffic(deployment: str, weights: Mapping[str, int], tagged: Iterable[str] = ()) -> list[dict[str, Any]]:
    """TrafficTargets pinned to revisions (never LATEST): ``weights`` (rN -> percent) plus a 0%
    entry carrying the tag of each revision in ``tagged``, so every revision keeps a tag URL."""
    names = {n for n, p in weights.items() if p} | set(tagged)
    for name in names:
        check_tag(deployment, name)
    return [{"type_": REVISION_TRAFFIC, "revision": revision_id(deployment, n), "percent": int(weights.get(n, 0)),
             "tag": n} for n in sorted(names, key=_order)]


def invoker_policy(policy: Mapping[str, Any], public: bool) -> dict[str, Any] | None:
    """The IAM policy with allUsers as run.invoker added (public) or removed (private);
    None when ``policy`` already says so."""
    bindings = [dict(b, members=list(b.get("members", []))) for b in policy.get("bindings", [])]
    invoker = next((b for b in bindings if b.get("role") == INVOKER_ROLE and not b.get("condition")), None)
    has = bool(invoker and PUBLIC_MEMBER in invoker["members"])
    if has == public:
        return None
    if public and invoker is None:
        bindings.append({"role": INVOKER_ROLE, "members": [PUBLIC_MEMBER]})
    elif public:
        invoker["members"].append(PUBLIC_MEMBER)
    else:
        invoker["members"].remove(PUBLIC_MEMBER)
        bindings = [b for b in bindings if b.get("members")]
    return {**policy, "bindings": bindings}
