"""The crash matrix machinery, shared by ``tests/crash`` and ``benchmarks/crashes.py``.

A :class:`Case` is one operation on one provider (first deploy, swap with a strategy, migrate)
on its own deployment. :meth:`Case.point` runs the operation in a subprocess (``driver.py``)
that SIGKILLs itself at an exact journal point, then checks what a user would: the next command
refuses with a message naming resume/abort, ``modelport resume``/``abort`` finish it, the
expected version answers through the endpoint, state and cloud agree, nothing is orphaned and
no lock is left. Every check reads the cloud through the provider and the endpoint over HTTP.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from modelport import api
from modelport.engine.session import Session
from modelport.errors import EXIT_UNFINISHED
from modelport.plugins import load_providers
from modelport.provider import ImageRef
from modelport.state import StateStore

from .checks import SAMPLE, SOURCES, check, served_version  # noqa: F401  (re-exported)

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
DRIVER = Path(__file__).with_name("driver.py")
#: steps whose cloud call is followed by a state record (where the ``mid`` kill point exists)
RECORDING = ("create_revision", "update_revision", "delete_revision", "record", "forget")
MODES = ("before", "after", "mid")


@dataclass
class Cloud:
    """One provider under test: its target's settings and the environment its commands need."""

    provider: str
    settings: dict[str, Any]
    env: dict[str, str] = field(default_factory=dict)

    @property
    def canary(self) -> bool:
        return self.provider in ("aws", "gcp", "azure-apps")


@dataclass
class Point:
    """The outcome of one kill point."""

    provider: str
    case: str
    mode: str
    index: int
    step: str
    resolution: str
    ok: bool
    problem: str = ""
    seconds: dict[str, float] = field(default_factory=dict)  # time spent per phase

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class Clock:
    """Seconds spent per phase of a kill point (reported, never asserted)."""

    def __init__(self) -> None:
        self.laps: dict[str, float] = {}
        self._last = time.monotonic()

    def lap(self, name: str) -> None:
        now = time.monotonic()
        self.laps[name] = round(now - self._last, 1)
        self._last = now


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return json.dumps(value) if isinstance(value, str) else str(value)


def write_project(dest: Path, name: str, version: str, targets: dict[str, dict], round_: int = 0) -> Path:
    """An iris project (version "1" or "2") with the given targets. ``round_`` goes into the env,
    so each round's revision differs from the previous ones (swapping back to a version creates
    a new revision instead of reusing the one kept from two rounds ago)."""
    dest.mkdir(parents=True)
    shutil.copy(EXAMPLES / SOURCES[version] / "model.joblib", dest / "model.joblib")
    (dest / "sample.json").write_text(json.dumps(SAMPLE))
    # Container Instances runs one instance per revision (no autoscaling): an azure target asks for 1
    most = 1 if any(t.get("provider") == "azure" for t in targets.values()) else 2
    lines = [f'name = "{name}"', "[model]", 'name = "iris"', f'version = "{version}.0.0"',
             'path = "model.joblib"', 'framework = "sklearn"', "[serving]", "port = 8080",
             'sample_input = "sample.json"', "expected_output_shape = [2]", "[build]",
             'base_image = "modelport-base:bookworm"', "[resources]", "cpu = 1", 'memory = "2Gi"',
             "[scaling]", "min_instances = 1", f"max_instances = {most}", "concurrency = 80",
             "[rollout]", "gate_timeout = 300", "keep_revisions = 1", "steps = [50, 100]",
             "[env]", f'MP_ROUND = "{round_}"']
    for target, settings in targets.items():
        lines += [f"[targets.{target}]", *(f"{k} = {_toml(v)}" for k, v in settings.items())]
    (dest / "modelport.toml").write_text("\n".join(lines) + "\n")
    return dest


_IMAGES: dict[tuple[str, str], dict[str, str]] = {}


def image_for(version: str, session: Session) -> dict[str, str]:
    """The image of iris ``version``, built once per MODELPORT_HOME and reused by every case and
    round (a build per round would only slow the matrix; the build happens before the journal
    starts, so it has no kill point). Rounds deploy it with their own spec: each round's env
    makes a new revision config while the image stays the same."""
    key = (os.environ.get("MODELPORT_HOME", ""), version)
    if key not in _IMAGES:
        folder = Path(os.environ.get("MODELPORT_HOME") or "/tmp") / "crash-images" / f"{version}-{uuid.uuid4().hex[:6]}"
        built = api.build(write_project(folder, "crashimage", version, {"dev": {"provider": "local"}}), session)
        _IMAGES[key] = {"digest": built.digest, "image_id": built.image_id}
    return _IMAGES[key]


class Runner:
    """Commands against one state store (a SQLite file unless ``state``, a
    :class:`~moto_fixtures.state_fixtures.StateTarget`, names another backend), with the cloud's
    environment."""

    def __init__(self, cloud: Cloud, root: Path, state=None) -> None:
        self.cloud, self.root = cloud, root
        self.state = state.url if state is not None else str(root / "state.db")
        self.state_env = dict(state.env) if state is not None else {}
        root.mkdir(parents=True, exist_ok=True)

    def env(self) -> dict[str, str]:
        return {**os.environ, **self.cloud.env, **self.state_env, "MODELPORT_STATE": self.state,
                "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}

    def session(self) -> Session:
        return Session(state=StateStore(self.state), providers=load_providers())

    def cli(self, *args: str, timeout: float = 900) -> subprocess.CompletedProcess:
        """``modelport ARGS --output json``."""
        return subprocess.run([sys.executable, "-m", "modelport", *args, "--output", "json"],
                              capture_output=True, text=True, env=self.env(), timeout=timeout)

    def drive(self, job: dict[str, Any], timeout: float = 900) -> subprocess.CompletedProcess:
        """Run the driver with ``job`` (plus this state file)."""
        return subprocess.run([sys.executable, str(DRIVER), json.dumps({"state": str(self.state), **job})],
                              capture_output=True, text=True, env=self.env(), timeout=timeout)


class CaseFailed(AssertionError):
    """A kill point did not recover as it should."""


class Case:
    """One operation (``deploy``, ``swap:STRATEGY`` or ``migrate``) on one provider, repeated on one
    deployment: each round kills it at a point, resolves it, checks, and returns to a known state."""

    def __init__(self, runner: Runner, kind: str) -> None:
        self.runner, self.kind = runner, kind
        self.local = runner.cloud.provider == "local"
        self.target = "dev" if self.local else "cloud"
        self.source = "dev"
        self.dest = "stage" if self.local else "cloud"
        self.name = f"c{uuid.uuid4().hex[:7]}"
        self.round = 0
        self.current: str | None = None  # the version serving on the operation's target
        self.baseline = 0  # revisions on the target when a swap round starts
        self.specs: list[Path] = []
        self.images: dict[str, dict[str, str]] = {}  # version -> built image (digest, image_id)

    # -- the projects -------------------------------------------------------------------------
    def targets(self) -> dict[str, dict]:
        out = {"dev": {"provider": "local"}, "stage": {"provider": "local"}}
        if not self.local:
            out["cloud"] = self.runner.cloud.settings
        return out

    def spec(self, version: str) -> Path:
        self.round += 1
        path = write_project(self.runner.root / f"{self.name}-{self.round}", self.name, version, self.targets(),
                             self.round)
        self.specs.append(path)
        if version not in self.images:
            self.images[version] = image_for(version, self.runner.session())
        return path

    # -- the operation ----------------------------------------------------------------------------
    @property
    def strategy(self) -> str | None:
        return self.kind.split(":", 1)[1] if ":" in self.kind else None

    def prepare(self) -> None:
        """Bring the deployment to the state every round starts from."""
        if self.kind.startswith("swap"):
            self._deploy("1", self.target)
            self._deploy("2", self.target, self.strategy, "swap")
            self.current = "2"
            self.baseline = self._revision_count()
        elif self.kind == "migrate":
            self._deploy("1", self.source)

    def _deploy(self, version: str, target: str, strategy: str | None = None, kind: str = "deploy") -> None:
        s = self.runner.session()
        spec = self.spec(version)
        image = ImageRef(self.images[version]["digest"], self.images[version]["image_id"])
        api.deploy_image(api.validate(spec, s), target, image, strategy=strategy, session=s, kind=kind)

    def job(self) -> dict[str, Any]:
        if self.kind == "deploy":
            return {"op": "deploy", "spec": str(self.spec("1")), "target": self.target, "image": self.images["1"]}
        if self.kind == "migrate":
            return {"op": "migrate", "name": self.name, "source": self.source, "target": self.dest,
                    "spec": str(self.specs[0])}
        return {"op": "swap", "spec": str(self.spec(self.other)), "target": self.target,
                "strategy": self.strategy, "image": self.images[self.other]}

    @property
    def other(self) -> str:
        return "1" if self.current == "2" else "2"

    def expect(self, resolution: str) -> dict[str, str | None]:
        """The version each target must serve after ``resolution`` (None: nothing deployed)."""
        done = resolution == "resume"
        if self.kind == "deploy":
            return {self.target: "1" if done else None}
        if self.kind == "migrate":
            return {self.source: "1", self.dest: "1" if done else None}
        return {self.target: self.other if done else self.current}

    def settle(self, resolution: str) -> None:
        """Return to the round's starting state after a checked ``resolution``."""
        if self.kind.startswith("swap"):
            if resolution == "resume":
                self.current = self.other
            # an abort after the prune step cannot bring the pruned revision back: swap once
            # more so the next round's plan has the same steps (and the same indexes)
            if self._revision_count() < self.baseline:
                self._deploy(self.other, self.target, self.strategy, "swap")
                self.current = self.other
            return
        if resolution == "resume":
            where = self.target if self.kind == "deploy" else self.dest
            api.destroy(self.name, where, session=self.runner.session())

    def _revision_count(self) -> int:
        s = self.runner.session()
        provider, t = s.target(api.validate(self.specs[-1], s, sizes=False), self.target)
        return len(provider.observe(t, self.name).revisions)

    def clean(self) -> None:
        """Delete everything the case created (used at the end and after a failed point)."""
        s = self.runner.session()
        if s.state.unfinished(self.name):
            api.abort(self.name, session=s)
        for t in {self.target, self.source, self.dest}:
            if self.specs:
                api.destroy(self.name, t, spec=self.specs[0], session=s)

    # -- one kill point ---------------------------------------------------------------------------
    def point(self, mode: str, index: int, resolution: str, probe: str) -> Point | None:
        """Kill the operation at (``mode``, ``index``), probe with the next command, resolve and
        check. Returns None when the point lies beyond the plan (the operation then completed)."""
        clock = Clock()
        job = {**self.job(), "kill": mode, "at": index}
        proc = self.runner.drive(job)
        clock.lap("kill")
        if proc.returncode == 0:
            self.settle("resume")
            return None
        if proc.returncode != -9:
            raise CaseFailed(f"the operation failed instead of being killed (exit {proc.returncode}): "
                             f"{proc.stdout[-500:]} {proc.stderr[-1500:]}")
        op = self.runner.session().state.unfinished(self.name)
        if op is None:
            raise CaseFailed("killed, but no unfinished operation is in the journal")
        step = op.plan[index]["desc"] if index < len(op.plan) else "(after the last step, before finishing)"
        if op.done != index:
            raise CaseFailed(f"the journal says {op.done} steps done, expected {index}")
        if mode == "mid" and index < len(op.plan) and op.plan[index]["op"] not in RECORDING:
            step += " (writes no state record: killed at its journal write, as in 'after')"
        self._probe(probe, job)
        clock.lap("probe")
        self._resolve(resolution)
        clock.lap(resolution)
        self.verify(self.expect(resolution))
        clock.lap("check")
        self.settle(resolution)
        clock.lap("settle")
        return Point(self.runner.cloud.provider, self.kind, mode, index, step, resolution, True, seconds=clock.laps)

    def _probe(self, probe: str, job: dict[str, Any]) -> None:
        """The next command must refuse, exit 4 (an unfinished operation) and name resume and abort."""
        if probe == "status":
            proc = self.runner.cli("status", self.name)
        else:
            spec = job["spec"]
            proc = self.runner.cli(probe, spec, "--to", job["target"])
        said = proc.stdout + proc.stderr
        if proc.returncode != EXIT_UNFINISHED or f"modelport resume {self.name}" not in said or \
                f"modelport abort {self.name}" not in said:
            raise CaseFailed(f"`{probe}` after the kill: exit {proc.returncode}, said {said[-800:]!r}")

    def _resolve(self, resolution: str) -> None:
        proc = self.runner.cli(resolution, self.name)
        if proc.returncode != 0:
            raise CaseFailed(f"`modelport {resolution}` failed (exit {proc.returncode}): {proc.stderr[-1500:]}")

    # -- the checks ---------------------------------------------------------------------------------
    def verify(self, expect: dict[str, str | None]) -> None:
        """Raise CaseFailed unless every target serves what ``expect`` says and state, cloud,
        locks and orphans are clean."""
        problems = check(self.runner.session(), self.name, self.specs[-1], expect)
        if problems:
            raise CaseFailed("; ".join(problems))


PROBES = ("status", "deploy", "swap")


def sweep(case: Case, modes: tuple[str, ...] = ("before", "after"), resolutions: tuple[str, ...] = ("resume", "abort"),
          both: bool = False, stride: int = 1, report=lambda _p: None, deadline: float | None = None) -> list[Point]:
    """Kill ``case`` at every ``stride``-th step index in each of ``modes`` until the index lies
    beyond the plan. The resolution alternates over ``resolutions`` by step (or, with ``both``,
    each point is run once per resolution). A failed point is recorded and the case rebuilt. No new
    point starts after ``deadline`` (``time.monotonic()``)."""
    points: list[Point] = []
    case.prepare()
    turn = 0
    for mode in modes:
        index = 0
        while deadline is None or time.monotonic() < deadline:
            beyond = False
            alternate = resolutions[(index // stride) % len(resolutions)]  # e.g. even steps resume, odd abort
            for resolution in (resolutions if both else (alternate,)):
                try:
                    point = _one(case, mode, index, resolution, PROBES[turn % len(PROBES)])
                except RebuildFailed as exc:  # keep the failed point, then give up on this case
                    points.append(exc.point)
                    report(exc.point)
                    raise
                turn += 1
                if point is None:
                    beyond = True
                    break
                points.append(point)
                report(point)
            if beyond:
                break
            index += stride
    return points


class RebuildFailed(Exception):
    """A point failed and the case could not be rebuilt after it (``point`` is the failure)."""

    def __init__(self, point: Point, cause: Exception) -> None:
        super().__init__(f"{point.problem} | then rebuilding the case failed: {type(cause).__name__}: {cause}")
        self.point = point


def _one(case: Case, mode: str, index: int, resolution: str, probe: str) -> Point | None:
    try:
        return case.point(mode, index, resolution, probe)
    except Exception as exc:  # a failed check, or a cloud/HTTP error while checking or settling
        problem = str(exc) if isinstance(exc, CaseFailed) else f"{type(exc).__name__}: {exc}"
        failed = Point(case.runner.cloud.provider, case.kind, mode, index, "?", resolution, False, problem[:3000])
    try:
        case.clean()  # start over from a clean deployment so one defect does not hide the next
        case.prepare()
    except Exception as exc:
        raise RebuildFailed(failed, exc) from exc
    return failed
