"""Faults at every step: run an operation on an emulated cloud with one control-plane call
failing once, then check that it either completed or rolled back to the previous serving state,
that state and cloud agree, and that no tagged resource is left that no recorded revision owns.

Operations: ``deploy`` (first deploy), ``swap-all-at-once``, ``swap-blue-green``,
``swap-canary`` (steps 25, 100; on a cloud without traffic split the refusal itself is checked:
a CapabilityError before any write call), and ``migrate`` (from the cloud to a local target,
retiring the source). Each run starts from its own state file and a fresh deployment name; the
starting point (v1 deployed, for swaps and migrate) is made without faults. Images are built
once per version and reused (``MODELPORT_HOME`` shared).

A *fault point* is one API call of the operation, named by the proxy's call key and its
occurrence, ``("ecs CreateService", 1)``. ``sites(calls, "all")`` is every call of the counting
run; ``"sites"`` every write call (each occurrence) and the first occurrence of each read (polls
repeat reads a timing-dependent number of times, so later reads are not stable points);
``"writes"`` only the write calls.
"""

from __future__ import annotations

import json
import shutil
import time
import traceback
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path

import modelport.api as mp
from modelport.engine.session import Session
from modelport.errors import CapabilityError, ModelportError
from modelport.plugins import load_providers
from modelport.provider import ImageRef
from modelport.spec import load_spec
from modelport.state import StateStore

from moto_fixtures.proxy_faults import FAULTS
from tests.providers.aws.helpers import EXAMPLES, SAMPLE, version_of

from .rigs import Rig

OPERATIONS = ("deploy", "swap-all-at-once", "swap-blue-green", "swap-canary", "migrate")
CLOUD = "c"          # the target on the emulated cloud, through the proxy
LOCAL = "local"      # the migrate destination
SIZES = {"aws": (0.5, "1Gi"), "gcp": (1, "1Gi"), "azure": (1, "1Gi"), "azure-apps": (0.5, "1Gi")}
#: max_instances: Container Instances runs one instance per revision (no autoscaling)
MAX_INSTANCES = {"aws": 2, "gcp": 2, "azure": 1, "azure-apps": 2}
READS = ("GET ", "HEAD ")
#: generous: on a loaded 2-core machine a task can take minutes to pass its health checks
GATE_TIMEOUT = 240


@dataclass
class Outcome:
    """One run of an operation with (or, for counting, without) a fault."""

    cloud: str
    operation: str
    key: str | None = None
    occurrence: int = 0
    fault: str | None = None
    reached: bool = False          # the fault was injected (the call happened)
    completed: bool = False
    error: str | None = None
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def survived(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict:
        return {**asdict(self), "survived": self.survived}


def is_read(key: str) -> bool:
    """Whether a call key names a read (AWS Describe/List/Get, HTTP GET)."""
    if key.startswith(READS):
        return True
    parts = key.split(" ", 1)
    return len(parts) == 2 and parts[1].startswith(("Describe", "List", "Get"))


def sites(calls: list[str], select: str = "sites") -> list[tuple[str, int]]:
    """The fault points of a counting run's call keys (see the module docstring)."""
    seen: dict[str, int] = {}
    out = []
    for key in calls:
        seen[key] = seen.get(key, 0) + 1
        if select == "all" or not is_read(key) or (seen[key] == 1 and select == "sites"):
            out.append((key, seen[key]))
    return out


class Harness:
    """Runs operations on one rig; ``workdir`` holds the spec folders and state files."""

    def __init__(self, rig: Rig, workdir: Path, log=None) -> None:
        self.rig, self.workdir = rig, workdir
        self.log = log or (lambda _m: None)
        self.images: dict[str, ImageRef] = {}

    # -- setup ------------------------------------------------------------------------------------
    def project(self, version: str, name: str) -> Path:
        """An iris project (``"1"``/``"2"``) named ``name`` with the cloud and a local target."""
        folder = self.workdir / f"{name}-v{version}"
        folder.mkdir(parents=True, exist_ok=True)
        source = EXAMPLES / ("iris" if version == "1" else "iris-v2")
        shutil.copy(source / "model.joblib", folder / "model.joblib")
        (folder / "sample.json").write_text(json.dumps(SAMPLE))
        cpu, memory = SIZES[self.rig.cloud]
        lines = [f'name = "{name}"', "[model]", 'name = "iris"', f'version = "{version}.0.0"',
                 'path = "model.joblib"', 'framework = "sklearn"', "[serving]", "port = 8080",
                 'sample_input = "sample.json"', "expected_output_shape = [2]", "[build]",
                 'base_image = "modelport-base:bookworm"', "[resources]", f"cpu = {cpu}", f'memory = "{memory}"',
                 "[scaling]", "min_instances = 1", f"max_instances = {MAX_INSTANCES[self.rig.cloud]}",
                 "[rollout]", f"gate_timeout = {GATE_TIMEOUT}",
                 "keep_revisions = 1", f"[targets.{CLOUD}]",
                 *[f"{k} = {json.dumps(v)}" for k, v in self.rig.settings.items()],
                 f"[targets.{LOCAL}]", 'provider = "local"']
        (folder / "modelport.toml").write_text("\n".join(lines) + "\n")
        return folder

    def image(self, version: str) -> ImageRef:
        """The image of iris ``version``, built once."""
        if version not in self.images:
            built = mp.build(self.project(version, "faultsbuild"), session=self.session(self.workdir / "build.db"))
            self.images[version] = ImageRef(built.digest, built.image_id)
        return self.images[version]

    def session(self, state: Path) -> Session:
        return Session(state=StateStore(state), providers=load_providers(), report=self.log)

    def _deploy(self, s: Session, name: str, version: str, strategy: str | None = None, steps=None):
        loaded = load_spec(self.project(version, name))
        return mp.deploy_image(loaded, CLOUD, self.image(version), strategy=strategy, steps=steps, session=s)

    # -- one run ----------------------------------------------------------------------------------
    def run(self, operation: str, point: tuple[str, int] | None = None, fault: str | None = None,
            ) -> tuple[Outcome, list[str]]:
        """Run ``operation`` from a fresh starting point, failing ``point`` once with ``fault``.
        Returns the outcome and the call keys of the operation (for a counting run)."""
        name = f"f{uuid.uuid4().hex[:7]}"
        s = self.session(self.workdir / f"{name}.db")
        out = Outcome(self.rig.cloud, operation, *(point or (None, 0)), fault)
        proxy = self.rig.proxy
        started = time.monotonic()
        try:
            if operation != "deploy":
                self._deploy(s, name, "1")
            mark = len(proxy.requests)
            faulted = len(proxy.faulted)
            if point:
                proxy.fail_call(point[0], fault, point[1])
            try:
                self._operate(operation, s, name)
                out.completed = True
            except ModelportError as exc:
                out.error = f"{type(exc).__name__}: {exc.message}"
            except Exception as exc:  # anything untyped is a defect in itself
                out.error = f"{type(exc).__name__}: {exc}"
                out.problems.append(f"untyped error {type(exc).__name__}: {traceback.format_exc(limit=3)}")
            finally:
                proxy.clear()
            calls = proxy.calls()[mark:]
            out.reached = len(proxy.faulted) > faulted
            out.problems += self.check(operation, s, name, out)
        except Exception as exc:  # the starting point or a check itself failed
            out.problems.append(f"harness: {type(exc).__name__}: {exc}")
            calls = []
        finally:
            out.problems += self.cleanup(s, name)
            out.seconds = round(time.monotonic() - started, 1)
        return out, calls

    def _operate(self, operation: str, s: Session, name: str) -> None:
        if operation == "deploy":
            self._deploy(s, name, "1")
        elif operation.startswith("swap-"):
            strategy = operation[len("swap-"):]
            self._deploy(s, name, "2", strategy, [25, 100] if strategy == "canary" else None)
        elif operation == "migrate":
            mp.migrate(name, CLOUD, LOCAL, retire_source=True, spec=self.project("1", name), session=s)
        else:
            raise ValueError(f"unknown operation {operation!r}")

    # -- checks -----------------------------------------------------------------------------------
    def check(self, operation: str, s: Session, name: str, out: Outcome) -> list[str]:
        """What is wrong after the run (empty when it completed or rolled back cleanly)."""
        if operation == "swap-canary" and not self.rig.canary:
            return [] if "CapabilityError" in (out.error or "") else [f"canary was not refused: {out.error}"]
        problems = []
        if operation == "deploy":
            serving = {CLOUD: "v1"} if out.completed else {}
        elif operation == "migrate":
            serving = {LOCAL: "v1"} if out.completed else {CLOUD: "v1"}
        else:
            serving = {CLOUD: "v2" if out.completed else "v1"}
        for target in (CLOUD, LOCAL):
            problems += self._check_target(s, name, target, serving.get(target))
        if not out.completed and "ROLLBACK INCOMPLETE" in (out.error or ""):
            problems.append(f"rollback incomplete: {out.error}")
        return problems

    def _check_target(self, s: Session, name: str, target: str, version: str | None) -> list[str]:
        rows = s.state.deployments(name, target)
        provider, t = s.target(load_spec(self.project("1", name)), target)
        observed = provider.observe(t, name)
        live = {r["revision"] for r in s.state.revisions(name, target) if not r["deleted"]}
        owned = [r for r in provider.list_resources(t) if r.deployment == name]
        problems = []
        if version is None:
            if rows:
                problems.append(f"{target}: a deployment is recorded that should not be: {rows[0]['revision']}")
            if observed.revisions or owned:
                problems.append(f"{target}: left behind: revisions {[r.name for r in observed.revisions]}, "
                                f"resources {[(r.kind, r.id) for r in owned]}")
            return problems
        if not rows:
            return [f"{target}: no deployment recorded (expected {version} serving)"]
        row = rows[0]
        if dict(observed.traffic) != row["traffic"] or observed.traffic.get(row["revision"]) != 100:
            problems.append(f"{target}: state says {row['revision']} {row['traffic']}, cloud serves "
                            f"{dict(observed.traffic)}")
        if {r.name for r in observed.revisions} != live:
            problems.append(f"{target}: state has revisions {sorted(live)}, cloud "
                            f"{sorted(r.name for r in observed.revisions)}")
        stray = [(r.kind, r.id) for r in owned if r.revision and r.revision not in live]
        if stray:
            problems.append(f"{target}: tagged resources no recorded revision owns: {stray}")
        try:
            answered = version_of(mp.predict(name, target, SAMPLE, session=s))
            if answered != version:
                problems.append(f"{target}: the endpoint answers {answered}, expected {version}")
        except Exception as exc:
            problems.append(f"{target}: predict failed: {type(exc).__name__}: {exc}")
        return problems

    def cleanup(self, s: Session, name: str) -> list[str]:
        """Destroy what the run left (recorded or not); a failure here is a problem too."""
        problems = []
        for target in (CLOUD, LOCAL):
            try:
                loaded = load_spec(self.project("1", name))
                provider, t = s.target(loaded, target)
                if s.state.deployments(name, target) or provider.observe(t, name).exists:
                    mp.destroy(name, target, spec=loaded.file, session=s)
                for res in [r for r in provider.list_resources(t) if r.deployment == name]:
                    provider.delete_resource(t, res)
            except Exception as exc:
                problems.append(f"cleanup of {target}: {type(exc).__name__}: {exc}")
        shutil.rmtree(self.workdir / f"{name}-v1", ignore_errors=True)
        shutil.rmtree(self.workdir / f"{name}-v2", ignore_errors=True)
        return problems

    # -- a matrix ---------------------------------------------------------------------------------
    def matrix(self, operation: str, select: str = "sites", every: int = 1, on_outcome=None) -> dict:
        """Count the operation's calls, then run it once per fault point (every ``every``-th),
        the fault kind rotating through FAULTS. Returns counts and every outcome."""
        base, calls = self.run(operation)
        if not base.survived:  # a starting point that failed without any fault: try once more
            base, calls = self.run(operation)
        points = sites(calls, select)[::every] if base.survived else []
        outcomes = []
        if operation == "swap-canary" and not self.rig.canary:
            points = []
            base.problems += [f"canary refused after write calls: {calls}"] if any(
                not is_read(k) for k in calls) else []
        for i, point in enumerate(points):
            outcome, _ = self.run(operation, point, FAULTS[i % len(FAULTS)])
            outcomes.append(outcome)
            if on_outcome:
                on_outcome(outcome)
        tried = [o for o in outcomes if o.reached] or ([base] if not points else [])
        return {"cloud": self.rig.cloud, "operation": operation, "select": select, "every": every,
                "calls": len(calls), "points": len(points), "baseline": base.to_dict(),
                "tried": len(tried), "survived": sum(o.survived for o in tried),
                "not_reached": sum(not o.reached for o in outcomes),
                "failures": [o.to_dict() for o in outcomes if not o.survived],
                "outcomes": [o.to_dict() for o in outcomes]}


__all__ = ["CapabilityError", "Harness", "OPERATIONS", "Outcome", "sites"]
