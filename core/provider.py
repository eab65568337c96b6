"""The provider interface: what a cloud plugin implements and the neutral values it exchanges.

A provider translates the neutral :class:`~modelport.spec.Spec` into its cloud's resources and
exposes a few primitives; every strategy (deploy, swap, canary, rollback, migrate) is written once
in :mod:`modelport.engine` on top of them. The model every provider maps onto:

* **revision** — one immutable (image digest + config) unit that can serve;
* **traffic** — weights over revisions, summing to 100. A provider that cannot split traffic sets
  ``capabilities.traffic_split = False``; then every weight map the engine sends it has exactly
  one revision at 100 (the engine refuses canary there instead of faking it);
* **health** — is a revision ready, and where can a smoke request reach it.

Provider-only data goes in ``extra`` dicts, never in new top-level fields. Every cloud resource a
provider creates carries the tags :data:`TAG_DEPLOYMENT`, :data:`TAG_REVISION`, :data:`TAG_DIGEST`
(and :data:`TAG_CONFIG`) in whatever form the cloud allows, so state can be re-read from the cloud.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import Any, ClassVar, Mapping

from pydantic import BaseModel, ConfigDict


#: The provider API version this core speaks; a provider states the one it was written for.
PROVIDER_API_VERSION = 1

TAG_DEPLOYMENT = "modelport:deployment"
TAG_REVISION = "modelport:revision"
TAG_DIGEST = "modelport:digest"
TAG_CONFIG = "modelport:config"


@dataclass(frozen=True)
class Capabilities:
    """What a provider can do; the engine and ``modelport providers`` read this."""

    traffic_split: bool
    gpu: bool = False
    needs_registry: bool = True
    in_place_update: bool = False
    revision_endpoints: bool = True
    secret_schemes: tuple[str, ...] = ()  # secret reference schemes the cloud resolves itself
    #: image platforms (``build.platform`` values) the target runs; ``validate`` refuses others
    platforms: tuple[str, ...] = ("linux/amd64", "linux/arm64")
    notes: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {k: (list(v) if isinstance(v, tuple) else v)
                for k, v in ((k, getattr(self, k)) for k in self.__dataclass_fields__)}


class NoSettings(BaseModel):
    """Settings model for a provider that takes none beyond ``provider``."""

    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass(frozen=True)
class ImageRepository:
    """Where a target's images live: ``repository`` is ``host[:port]/path`` (no tag) in the OCI
    registry ``host``, and ``auth`` a :mod:`modelport.registry` credentials adapter (None =
    anonymous). What :meth:`Provider.registry` returns."""

    repository: str
    auth: Any = None

    @property
    def host(self) -> str:
        """The registry: ``host[:port]``."""
        return self.repository.split("/", 1)[0]

    def __repr__(self) -> str:  # never show credentials
        return f"ImageRepository({self.repository!r})"


#: the earlier name of :class:`ImageRepository`, kept so that plugins written with it still load
RegistryTarget = ImageRepository


@dataclass(frozen=True)
class Target:
    """A named ``[targets.NAME]`` with its provider's validated settings."""

    name: str
    provider: str
    settings: Any  # an instance of the provider's settings_model


@dataclass(frozen=True)
class ImageRef:
    """An image by identity. ``digest`` is the OCI manifest digest (the same everywhere);
    ``image_id`` the config digest (the Docker engine's image ID); ``ref`` a pullable reference
    ``host/repo@digest`` in the registry the revision pulls from (None until pushed)."""

    digest: str
    image_id: str
    ref: str | None = None

    def at(self, repo: str) -> "ImageRef":
        """The same image, referenced in repository ``repo`` (``host/path``)."""
        return ImageRef(self.digest, self.image_id, f"{repo}@{self.digest}")


@dataclass(frozen=True)
class Size:
    """cpu (vCPU), memory (MiB), gpu count/type — what a provider actually runs."""

    cpu: float
    memory_mib: int
    gpu: int = 0
    gpu_type: str | None = None


@dataclass(frozen=True)
class RevisionSpec:
    """Everything a provider needs to create one revision. ``config`` is the hash of the
    translated configuration; together with the digest it decides whether anything changed."""

    deployment: str
    revision: str
    image: ImageRef
    size: Size
    port: int
    env: Mapping[str, str]
    secrets: Mapping[str, str]  # env name -> reference (never a value)
    min_instances: int
    max_instances: int
    concurrency: int
    model_name: str
    model_version: str
    config: str
    secret_values: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)
    platform: str = "linux/amd64"  # build.platform: the OS/architecture the image is built for


#: what plans show in place of a secret value
REDACTED = "***"


def client_side_secret(rev: "RevisionSpec", name: str, reveal: bool) -> str:
    """The value a provider sends for a client-side secret (``env:``/``file:``): the resolved value
    when ``reveal`` (creating the revision), :data:`REDACTED` otherwise (plans, display)."""
    if not reveal:
        return REDACTED
    if name in rev.secret_values:
        return rev.secret_values[name]
    from .errors import UsageError
    raise UsageError(f"the value of secret {name} ({rev.secrets[name].split(':', 1)[0]}:...) "
                     "was not resolved before creating the revision")


@dataclass(frozen=True)
class Revision:
    """A revision as the cloud reports it."""

    name: str
    digest: str
    config: str
    ready: bool
    endpoint: str | None = None
    created: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Observed:
    """What a target currently runs for one deployment (read from the cloud)."""

    deployment: str
    revisions: tuple[Revision, ...] = ()
    traffic: Mapping[str, int] = field(default_factory=dict)
    endpoint: str | None = None
    infrastructure: tuple[str, ...] = ()  # shared resources that exist (cluster, load balancer, ...)
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def exists(self) -> bool:
        return bool(self.revisions) or bool(self.infrastructure)

    def revision(self, name: str) -> Revision | None:
        """The revision called ``name``, if the cloud reports it."""
        return next((r for r in self.revisions if r.name == name), None)

    @property
    def active_revision(self) -> str | None:
        """The revision holding the most traffic (None when none takes any)."""
        if not self.traffic:
            return None
        name, weight = max(self.traffic.items(), key=lambda kv: kv[1])
        return name if weight > 0 else None


@dataclass(frozen=True)
class Health:
    """Readiness of one revision and how to reach it for a smoke request."""

    ready: bool
    message: str = ""
    endpoint: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)  # e.g. a routing header for one revision
    failed: bool = False  # true when waiting longer cannot help (container exited, image missing)


@dataclass(frozen=True)
class Resource:
    """A cloud resource carrying modelport's tags."""

    kind: str
    id: str
    deployment: str | None
    revision: str | None = None
    digest: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class InfraChange:
    """A shared resource (cluster, load balancer, repository, ...) to create or delete."""

    action: str  # "create" | "delete"
    kind: str
    name: str


class Provider(abc.ABC):
    """Base class of every provider. Subclass it, set the class attributes, implement the
    abstract methods, and register an instance from the ``modelport_register_providers`` hook.

    Methods receive a :class:`Target`; a provider creates (and may cache) its SDK clients from
    ``target.settings``. Cloud SDKs are imported lazily inside methods, never at module import.
    Every method that calls the cloud raises :class:`~modelport.errors.ProviderError` on failure
    (``retryable=True`` when trying again may succeed).
    """

    name: ClassVar[str]
    api_version: ClassVar[int] = PROVIDER_API_VERSION
    capabilities: ClassVar[Capabilities]
    settings_model: ClassVar[type[BaseModel]] = NoSettings
    description: ClassVar[str] = ""

    # -- pure ---------------------------------------------------------------------------------
    def fit_size(self, size: Size, target: Target) -> tuple[Size, list[str]]:
        """The size this cloud would run for ``size``. Returns ``(size, notes)``; raise
        :class:`~modelport.errors.SpecError` naming ``resources.*`` when nothing close is valid.
        The default accepts any size."""
        return size, []

    def check_size(self, size: Size, target: Target) -> None:
        """Raise a SpecError when ``size`` is not valid as is on this cloud (default: fine)."""
        fitted, _ = self.fit_size(size, target)
        if fitted != size:
            from .errors import SpecError
            raise SpecError("", "resources", f"{self.name} cannot run {size}; nearest valid is {fitted}")

    def check_spec(self, spec: Any, target: Target) -> None:
        """Raise a :class:`~modelport.errors.SpecError` naming the field (``scaling.concurrency``,
        ``targets.NAME.KEY``, ...) when this cloud cannot run the spec's neutral settings together
        with ``target``'s settings, beyond the size alone (``check_size``) and the image platform
        (``capabilities.platforms``). ``spec`` is the validated :class:`~modelport.spec.Spec`.
        Pure, no cloud call; ``validate`` calls it with the size check. Default: nothing to refuse."""

    def translate(self, rev: RevisionSpec, target: Target) -> dict[str, Any]:
        """The cloud resources for one revision, as plain data (shown by ``plan``). Pure."""
        return {"revision": rev.revision, "image": rev.image.ref or rev.image.image_id}

    def registry(self, target: Target, deployment: str) -> ImageRepository | None:
        """Where this target's images live (the repository in an OCI registry, and credentials),
        or None when the provider runs images straight from the local engine."""
        return None

    # -- read-only cloud calls ------------------------------------------------------------------
    @abc.abstractmethod
    def observe(self, target: Target, deployment: str) -> Observed:
        """Read what the cloud runs for ``deployment`` (revisions, traffic, endpoint). Read-only."""

    def infrastructure_plan(self, target: Target, deployment: str, observed: Observed) -> list[InfraChange]:
        """Shared resources ``ensure_infrastructure`` would create. Read-only. Default: none."""
        return []

    def endpoint_headers(self, target: Target, deployment: str) -> Mapping[str, str]:
        """Headers a request to the deployment's endpoint needs (e.g. an identity token for a
        private service). Used by health gates, output comparison and ``predict``. Default: none."""
        return {}

    @abc.abstractmethod
    def health(self, target: Target, deployment: str, revision: str) -> Health:
        """Is ``revision`` ready, and where can a smoke request reach it."""

    @abc.abstractmethod
    def list_resources(self, target: Target) -> list[Resource]:
        """Every resource on the target carrying modelport's tags (any deployment)."""

    def logs(self, target: Target, deployment: str, revision: str | None, tail: int = 100) -> str:
        """Recent log lines of a revision (default: not supported)."""
        from .errors import CapabilityError
        raise CapabilityError(f"provider {self.name!r} does not offer logs")

    # -- writes ---------------------------------------------------------------------------------
    def ensure_infrastructure(self, target: Target, deployment: str) -> None:
        """Create the shared resources (idempotent). Default: nothing to create."""

    @abc.abstractmethod
    def create_revision(self, target: Target, rev: RevisionSpec) -> Revision:
        """Create one revision (not yet receiving traffic unless it is the first). Idempotent for
        the same name and config: creating an existing identical revision is not an error."""

    def update_revision(self, target: Target, current: str, rev: RevisionSpec) -> Revision:
        """Replace revision ``current`` in place (only when ``capabilities.in_place_update``)."""
        from .errors import CapabilityError
        raise CapabilityError(f"provider {self.name!r} cannot update a revision in place")

    @abc.abstractmethod
    def delete_revision(self, target: Target, deployment: str, revision: str) -> None:
        """Delete one revision. Deleting a missing revision is not an error."""

    @abc.abstractmethod
    def set_traffic(self, target: Target, deployment: str, weights: Mapping[str, int]) -> None:
        """Send traffic by ``weights`` (revision -> percent, summing to 100)."""

    def destroy(self, target: Target, deployment: str) -> None:
        """Delete every resource of ``deployment`` including shared infrastructure it owns.
        Default: delete every observed revision."""
        for rev in self.observe(target, deployment).revisions:
            self.delete_revision(target, deployment, rev.name)

    def delete_resource(self, target: Target, resource: Resource) -> None:
        """Delete one tagged resource (used by garbage collection)."""
        if resource.deployment and resource.revision:
            self.delete_revision(target, resource.deployment, resource.revision)


#: every method a provider implements or may override (wrappers delegate exactly these)
PROVIDER_METHODS = tuple(name for name, fn in vars(Provider).items()
                         if callable(fn) and not name.startswith("_") and not isinstance(fn, type))


class ProviderProxy(Provider):
    """A provider standing in for ``inner``: every provider method goes through :meth:`_call`,
    which subclasses override to act around the call (contain a plugin's bugs, inject a fault);
    anything else (provider-specific extras such as ``aws``'s ``iam_policy``) is ``inner``'s."""

    def __init__(self, inner: Provider) -> None:
        self.inner = inner
        self.name = inner.name
        self.api_version = inner.api_version
        self.capabilities = inner.capabilities
        self.settings_model = inner.settings_model
        self.description = inner.description

    def _call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """Call ``method`` of ``inner``."""
        return getattr(self.inner, method)(*args, **kwargs)

    def __getattr__(self, attr: str) -> Any:
        if attr == "inner":  # not set yet (e.g. while copying): no recursion
            raise AttributeError(attr)
        return getattr(self.inner, attr)


def _forward(method: str):
    def call(self: ProviderProxy, *args: Any, **kwargs: Any) -> Any:
        return self._call(method, *args, **kwargs)

    call.__name__, call.__qualname__ = method, f"ProviderProxy.{method}"
    call.__doc__ = getattr(Provider, method).__doc__
    return call


for _method in PROVIDER_METHODS:
    setattr(ProviderProxy, _method, _forward(_method))
abc.update_abstractmethods(ProviderProxy)
