"""Plan steps: one type per kind, holding everything that kind means.

A step is frozen data (what to do, on which ``target``, a ``desc`` line for people) plus the
properties of its kind, stated once here: the ``symbol`` ``plan`` shows, whether it ``writes`` to a
cloud, whether it is ``irreversible`` (no undo can bring back what it removed), the provider
``primitive`` it calls and whether repeating that call after a retryable failure is safe
(``retry_safe``), and how it runs and is undone. The executor only calls :meth:`Step.run`,
:meth:`Step.undo` and :meth:`Step.after_undo`; it never looks at a step's kind.

The journal keeps :meth:`Step.to_dict` -- ``{"op": ..., "target": ..., "desc": ..., <fields>}``,
the format journals have always had -- and :func:`from_dict` reads it back, so an operation
journaled by an older modelport can still be resumed or aborted.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields, replace
from typing import TYPE_CHECKING, Any, ClassVar

from ..errors import HealthGateFailed, ModelportError
from ..provider import Resource, RevisionSpec, Target
from . import gate as gates
from . import validation
from .bake import bake
from .revision import from_data

if TYPE_CHECKING:
    from .executor import Binding, ExecutionContext

#: step kinds by their journal name (``op``), filled by :meth:`Step.__init_subclass__`
KINDS: dict[str, type[Step]] = {}


@dataclass(frozen=True, kw_only=True)
class Step:
    """One step of a plan. Subclasses set the kind's properties and implement ``run``."""

    op: ClassVar[str]
    symbol: ClassVar[str] = " "        # shown before ``desc`` by ``Plan.render``
    writes: ClassVar[bool] = False     # changes something in a cloud (a plan without such steps is empty)
    irreversible: ClassVar[bool] = False
    primitive: ClassVar[str | None] = None
    retry_safe: ClassVar[bool] = False  # ``primitive`` may be repeated after a retryable failure
    shown: ClassVar[bool] = True       # listed by ``plan`` and in the deployment's history
    gate: ClassVar[bool] = False       # judges a revision (reported as gate.started/gate.finished events)

    target: str
    desc: str

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        KINDS[cls.op] = cls

    def run(self, ctx: ExecutionContext, deployment: str) -> None:
        """Do the step. Every step is idempotent, so a resumed operation may repeat the last one."""
        raise NotImplementedError

    def undo(self, ctx: ExecutionContext, deployment: str) -> None:
        """Reverse the step (idempotent). Default: nothing to reverse (reads, waits, gates, copies)."""

    def after_undo(self, ctx: ExecutionContext, deployment: str) -> None:
        """Called once every started step is undone, for each step that may have run."""

    @property
    def has_undo(self) -> bool:
        """Whether undoing this step reverses anything (what ``abort`` would undo lists these)."""
        return type(self).undo is not Step.undo

    def to_dict(self) -> dict[str, Any]:
        """The journal form: ``op``, ``target``, ``desc`` and the kind's fields, in that order."""
        return {"op": self.op, **{f.name: getattr(self, f.name) for f in fields(self)}}

    def public(self) -> dict[str, Any]:
        """What ``plan --output json`` shows (never a secret value)."""
        return self.to_dict()

    def event_data(self) -> dict[str, Any]:
        """What the deployment's history keeps of this step."""
        keep = ("revision", "weights", "previous", "digest", "repository", "model_version")
        return {k: v for k, v in self.to_dict().items() if k in keep}


def from_dict(data: dict[str, Any]) -> Step:
    """The step a journal entry describes (see :meth:`Step.to_dict`)."""
    kind = KINDS.get(data.get("op"))
    if kind is None:
        raise ModelportError(f"unknown step {data.get('op')!r} in the plan")
    try:
        return kind(**{k: v for k, v in data.items() if k != "op"})
    except TypeError as exc:
        raise ModelportError(f"step {data['op']!r} in the plan is malformed: {exc}") from None


def retry_safe_primitives() -> frozenset[str]:
    """The provider primitives steps call that may be repeated without changing the outcome."""
    return frozenset(k.primitive for k in KINDS.values() if k.retry_safe and k.primitive)


# -- infrastructure and images -----------------------------------------------------------------

@dataclass(frozen=True, kw_only=True)
class EnsureInfra(Step):
    """Create the target's shared resources; ``fresh`` when nothing of the deployment existed."""

    op = "ensure_infra"
    symbol, writes, primitive, retry_safe = "+", True, "ensure_infrastructure", True
    fresh: bool = False

    def run(self, ctx: ExecutionContext, deployment: str) -> None:
        provider, target = ctx.binding(self.target)
        ctx.call(self.primitive, f"ensure infrastructure on {self.target}",
                 lambda: provider.ensure_infrastructure(target, deployment))

    def undo(self, ctx: ExecutionContext, deployment: str) -> None:
        if self.fresh:  # it was all ours: remove it again
            provider, target = ctx.binding(self.target)
            ctx.call("destroy", f"remove {deployment} from {target.name}", lambda: provider.destroy(target, deployment))


@dataclass(frozen=True, kw_only=True)
class PushImage(Step):
    """Push the image from the local OCI store to the target's registry."""

    op = "push_image"
    symbol, writes = "+", True
    digest: str
    repository: str
    deployment: str

    def run(self, ctx: ExecutionContext, deployment: str) -> None:
        ctx.images.push(ctx.binding(self.target), self.deployment, self.digest)


@dataclass(frozen=True, kw_only=True)
class CopyImage(Step):
    """Copy the image from the ``source`` target's registry to this target's, by digest."""

    op = "copy_image"
    symbol, writes = "+", True
    digest: str
    repository: str
    source: str
    source_ref: str
    deployment: str

    def run(self, ctx: ExecutionContext, deployment: str) -> None:
        ctx.images.copy(ctx.binding(self.target), ctx.binding(self.source), self.deployment, self.source_ref)


# -- revisions ------------------------------------------------------------------------------------

@dataclass(frozen=True, kw_only=True)
class CreateRevision(Step):
    """Create revision ``revision`` from ``rev`` (RevisionSpec data, secrets as references)."""

    op = "create_revision"
    symbol, writes, primitive, retry_safe = "+", True, "create_revision", True
    revision: str
    rev: dict[str, Any]
    resources: dict[str, Any] = field(default_factory=dict)

    def run(self, ctx: ExecutionContext, deployment: str) -> None:
        binding = ctx.binding(self.target)
        provider, target = binding
        rev = _with_secrets(ctx, binding, from_data(self.rev))
        ctx.call(self.primitive, f"create revision {rev.revision} on {self.target}",
                 lambda: provider.create_revision(target, rev))
        _record_revision(ctx, deployment, target, rev, self.rev)

    def undo(self, ctx: ExecutionContext, deployment: str) -> None:
        _delete_revision(ctx, ctx.binding(self.target), deployment, self.revision)

    def public(self) -> dict[str, Any]:
        return _public(self.to_dict())


@dataclass(frozen=True, kw_only=True)
class UpdateRevision(Step):
    """Replace the serving revision ``current`` in place by ``rev`` (named ``revision``); the undo
    restores ``previous_rev`` and waits until it serves again."""

    op = "update_revision"
    symbol, writes, primitive, retry_safe = "~", True, "update_revision", True
    revision: str
    current: str
    rev: dict[str, Any]
    previous_rev: dict[str, Any]
    resources: dict[str, Any] = field(default_factory=dict)

    def run(self, ctx: ExecutionContext, deployment: str) -> None:
        _update(ctx, ctx.binding(self.target), deployment, self.current, self.rev)

    def undo(self, ctx: ExecutionContext, deployment: str) -> None:
        binding = ctx.binding(self.target)
        _update(ctx, binding, deployment, self.revision, self.previous_rev)
        # the container restarts: the rollback is done only once the previous revision serves again
        provider, target = binding
        previous = from_data(self.previous_rev).revision
        gates.wait_until(gates.health_probe(ctx, provider, target, deployment, previous), ctx.gate_timeout,
                         f"restored revision {previous} on {target.name}")

    def public(self) -> dict[str, Any]:
        return _public(self.to_dict())


@dataclass(frozen=True, kw_only=True)
class DeleteRevision(Step):
    """Delete revision ``revision`` (pruning beyond ``keep_revisions``)."""

    op = "delete_revision"
    symbol, writes, primitive, retry_safe = "-", True, "delete_revision", True
    revision: str

    def run(self, ctx: ExecutionContext, deployment: str) -> None:
        _delete_revision(ctx, ctx.binding(self.target), deployment, self.revision)


# -- traffic and gates --------------------------------------------------------------------------

@dataclass(frozen=True, kw_only=True)
class SetTraffic(Step):
    """Send traffic by ``weights``; the undo restores ``previous``."""

    op = "set_traffic"
    symbol, writes, primitive, retry_safe = "~", True, "set_traffic", True
    weights: dict[str, int]
    previous: dict[str, int] = field(default_factory=dict)

    def run(self, ctx: ExecutionContext, deployment: str) -> None:
        provider, target = ctx.binding(self.target)
        ctx.call(self.primitive, f"set traffic on {self.target}",
                 lambda: provider.set_traffic(target, deployment, self.weights))

    def undo(self, ctx: ExecutionContext, deployment: str) -> None:
        if self.previous:
            provider, target = ctx.binding(self.target)
            ctx.call(self.primitive, f"restore traffic on {target.name}",
                     lambda: provider.set_traffic(target, deployment, self.previous))


@dataclass(frozen=True, kw_only=True)
class WaitReady(Step):
    """Wait until ``revision`` reports ready (at most the gate timeout)."""

    op = "wait_ready"
    symbol, gate = "?", True
    revision: str

    def run(self, ctx: ExecutionContext, deployment: str) -> None:
        provider, target = ctx.binding(self.target)
        gates.wait_until(gates.health_probe(ctx, provider, target, deployment, self.revision), ctx.gate_timeout,
                         f"revision {self.revision} on {target.name}")


@dataclass(frozen=True, kw_only=True)
class Gate(Step):
    """Health gate: ``revision`` is ready, then the smoke request is answered ``via`` the
    revision's own endpoint, the target's endpoint, or both (``revision+endpoint``). With
    ``weights`` (the traffic split just asked for), the endpoint's answers must come from the
    model versions of those revisions in proportion (:mod:`~modelport.engine.versions`), waited
    for up to the gate timeout."""

    op = "gate"
    symbol, gate = "?", True
    revision: str
    via: str
    weights: dict[str, int] = field(default_factory=dict)
    analyse: bool = False  # then bake per [rollout.analysis] once the smoke checks pass

    def run(self, ctx: ExecutionContext, deployment: str) -> None:
        provider, target = ctx.binding(self.target)
        where = f"revision {self.revision} on {target.name}"
        health = gates.wait_until(gates.health_probe(ctx, provider, target, deployment, self.revision), ctx.gate_timeout, where)
        checks = self.via.split("+")
        if "revision" in checks:
            if not health.endpoint:
                raise HealthGateFailed(f"{where} reports no endpoint to test")
            gates.smoke(health.endpoint, ctx.smoke, health.headers, where=where)
        if "endpoint" in checks:
            gates.check_endpoint(ctx, provider, target, deployment, self.weights)
        if self.analyse and ctx.analysis is not None and ctx.analysis.active:
            bake(ctx, provider, target, deployment, self.revision, self.weights if "endpoint" in checks else None)

    def to_dict(self) -> dict[str, Any]:
        data = super().to_dict()
        if not self.weights:  # journals written before the version check keep their exact text
            data.pop("weights")
        if not self.analyse:  # likewise before analysis gates
            data.pop("analyse")
        return data


@dataclass(frozen=True, kw_only=True)
class Validate(Step):
    """Validation gate: the evaluation set through ``revision`` before traffic moves to it
    (:mod:`~modelport.engine.validation`); below a threshold the version is refused."""

    op = "validate"
    symbol, gate = "?", True
    revision: str

    def run(self, ctx: ExecutionContext, deployment: str) -> None:
        if ctx.validation is None:  # resumed with a spec that no longer asks for it
            return
        provider, target = ctx.binding(self.target)
        gates.wait_until(gates.health_probe(ctx, provider, target, deployment, self.revision), ctx.gate_timeout,
                         f"revision {self.revision} on {target.name}")
        validation.gate(ctx, provider, target, deployment, self.revision)


@dataclass(frozen=True, kw_only=True)
class Compare(Step):
    """The sample input gives the same outputs on ``source`` and on this target."""

    op = "compare"
    symbol, gate = "?", True
    source: str

    def run(self, ctx: ExecutionContext, deployment: str) -> None:
        if ctx.smoke.body is None:
            return
        answers = []
        for name in (self.source, self.target):
            provider, target = ctx.binding(name)
            endpoint = gates.wait_endpoint(ctx, provider, target, deployment)
            headers = provider.endpoint_headers(target, deployment)
            reply = gates.infer(endpoint, ctx.smoke.model, ctx.smoke.body, headers)
            answers.append([(o.get("name"), o.get("shape"), o.get("data")) for o in reply.get("outputs", [])])
        if not gates.same_outputs(answers[0], answers[1]):
            raise HealthGateFailed(f"outputs differ between {self.source} and {self.target} for the sample input",
                                   check="compare", expected=answers[0], actual=answers[1])


# -- the deployment as a whole ------------------------------------------------------------------

@dataclass(frozen=True, kw_only=True)
class Record(Step):
    """Record what the target now serves in the state store."""

    op = "record"
    shown = False
    revision: str
    digest: str
    model_version: str | None = None
    image_ref: str | None = None
    config: str | None = None

    def run(self, ctx: ExecutionContext, deployment: str) -> None:
        provider, target = ctx.binding(self.target)
        observed = ctx.observe(provider, target, deployment)
        ctx.state.record_deployment(deployment, target.name, provider.name, spec_file=ctx.spec_file,
                                    revision=self.revision, digest=self.digest, endpoint=observed.endpoint,
                                    traffic=dict(observed.traffic))

    def after_undo(self, ctx: ExecutionContext, deployment: str) -> None:
        """Record what the cloud serves after the undo (the record may have run before the process
        was killed, naming the revision just rolled back); forget it where nothing is left."""
        provider, target = ctx.binding(self.target)
        observed = ctx.observe(provider, target, deployment)
        active = observed.active_revision
        if not observed.revisions:
            ctx.state.forget_deployment(deployment, target.name)
        elif active is not None and ctx.state.deployments(deployment, target.name):
            ctx.state.record_deployment(deployment, target.name, provider.name, spec_file=None, revision=active,
                                        digest=observed.revision(active).digest, endpoint=observed.endpoint,
                                        traffic=dict(observed.traffic))


@dataclass(frozen=True, kw_only=True)
class Destroy(Step):
    """Delete every resource of the deployment on the target (no undo can bring it back)."""

    op = "destroy"
    symbol, writes, irreversible, primitive, retry_safe = "-", True, True, "destroy", True

    def run(self, ctx: ExecutionContext, deployment: str) -> None:
        provider, target = ctx.binding(self.target)
        ctx.call(self.primitive, f"destroy {deployment} on {self.target}", lambda: provider.destroy(target, deployment))


@dataclass(frozen=True, kw_only=True)
class Forget(Step):
    """Remove the deployment on the target from the state store."""

    op = "forget"

    def run(self, ctx: ExecutionContext, deployment: str) -> None:
        ctx.state.forget_deployment(deployment, ctx.binding(self.target)[1].name)


@dataclass(frozen=True, kw_only=True)
class DeleteResource(Step):
    """Delete one tagged resource no recorded deployment owns (``gc --delete``); ``resource`` is
    the :class:`~modelport.provider.Resource` as plain data."""

    op = "delete_resource"
    symbol, writes, irreversible, primitive = "-", True, True, "delete_resource"
    resource: dict[str, Any]

    @classmethod
    def of(cls, target: str, res: Resource) -> DeleteResource:
        """The step deleting ``res`` on ``target``."""
        data = {"kind": res.kind, "id": res.id, "deployment": res.deployment, "revision": res.revision,
                "digest": res.digest, "extra": dict(res.extra or {})}
        return cls(target=target, desc=f"delete {res.kind} {res.id} on {target}",
                   resource=json.loads(json.dumps(data, default=str)))  # journaled: plain JSON

    def run(self, ctx: ExecutionContext, deployment: str) -> None:
        provider, target = ctx.binding(self.target)
        ctx.call(self.primitive, self.desc, lambda: provider.delete_resource(target, Resource(**self.resource)))


# -- helpers of the steps above -------------------------------------------------------------------

def _public(data: dict[str, Any]) -> dict[str, Any]:
    rev = data.pop("rev")
    return {**data, "revision_spec": {k: v for k, v in rev.items() if k != "secret_values"}}


def _with_secrets(ctx: ExecutionContext, binding: Binding, rev: RevisionSpec) -> RevisionSpec:
    values = ctx.secret_values(binding, dict(rev.secrets))
    return replace(rev, secret_values=values) if values else rev


def _record_revision(ctx: ExecutionContext, deployment: str, target: Target, rev: RevisionSpec,
                     data: dict[str, Any]) -> None:
    image = json.dumps({"digest": rev.image.digest, "image_id": rev.image.image_id, "ref": rev.image.ref})
    ctx.state.record_revision(deployment, target.name, rev.revision, rev.image.digest, image, rev.config,
                              rev.model_version, spec=data)


def _delete_revision(ctx: ExecutionContext, binding: Binding, deployment: str, revision: str) -> None:
    provider, target = binding
    ctx.call("delete_revision", f"delete revision {revision} on {target.name}",
             lambda: provider.delete_revision(target, deployment, revision))
    ctx.state.mark_revision_deleted(deployment, target.name, revision)


def _update(ctx: ExecutionContext, binding: Binding, deployment: str, current: str, data: dict[str, Any]) -> None:
    """Replace revision ``current`` in place by the revision in ``data``; the state follows."""
    provider, target = binding
    rev = _with_secrets(ctx, binding, from_data(data))
    ctx.call("update_revision", f"update revision {current} on {target.name}",
             lambda: provider.update_revision(target, current, rev))
    _record_revision(ctx, deployment, target, rev, data)
    if current != rev.revision:
        ctx.state.mark_revision_deleted(deployment, target.name, current)
