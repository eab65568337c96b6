"""What the conformance suite runs against: a target under test, a tiny model in two versions, a
private state store, and a provider wrapper that fails a chosen primitive once.

Provider authors use these through :mod:`modelport.testing.conformance`; they are public so a
provider's own tests can reuse them (e.g. ``ConformanceEnv.served_version``).
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, Mapping

import httpx

from ..engine.session import Session
from ..engine.versions import answered_version
from ..errors import ModelportError, ProviderError
from ..plugins import LoadedProviders, load_providers
from ..provider import Provider, ProviderProxy, Target
from ..state import StateStore

#: the conformance model: sums each row and scales it by the model file's factor (taking
#: ``sleep`` seconds per prediction when the model file says so: a version slow under load)
PREDICT_PY = '''\
import json
import time

import numpy as np


def load(path):
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def predict(model, inputs):
    if model.get("sleep"):
        time.sleep(model["sleep"])
    rows = np.asarray(inputs, dtype=np.float64)
    return {"score": rows.sum(axis=1) * model["scale"]}
'''
SAMPLE = {"inputs": [{"name": "input", "shape": [2, 3], "datatype": "FP64",
                      "data": [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]}]}
MODEL = "conformance"
TARGET = "conf"
PEER = "peer"


@dataclass
class ConformanceTarget:
    """What a provider package hands the suite (from its ``conformance_target`` fixture).

    * ``settings`` -- the ``[targets.NAME]`` table, ``provider`` included, pointing at the
      platform or emulator the fixture started.
    * ``bad_settings`` -- a target whose calls must fail (unreachable endpoint, wrong credential);
      the suite checks the failure arrives as a modelport error. None skips that check.
    * ``base_image`` -- ``[build] base_image`` for the test model (None: the spec's default).
    * ``resources`` -- a size the platform runs as is.
    * ``impossible_resources`` -- a size it must refuse before any call (None: it accepts any).
    * ``plugins`` -- extra plugins (name -> module) when the provider is not installed through
      its entry point; None loads only the installed ones.
    * ``peer_settings`` -- a second target of the same provider that does not share names with
      the first (another region, resource group, engine); the suite migrates there and back.
      None skips the migrate test.
    * ``env`` -- extra ``[env]`` of the test model; ``gate_timeout`` -- seconds per health gate.
    * ``api_settings`` -- ``url -> settings`` of a target whose cloud API calls go to ``url`` (an
      http endpoint the suite serves, answering 429 and then 503 to everything); the suite
      requires a ``ProviderError`` with ``retryable=True`` for both. None skips that check.
    * ``runs_images`` -- the provider runs the image (the suite then checks the model's own
      predictions, not only the OIP ``model_version``); only test doubles set it False.
    """

    settings: dict[str, Any]
    bad_settings: dict[str, Any] | None = None
    base_image: str | None = None
    resources: dict[str, Any] = field(default_factory=lambda: {"cpu": 1, "memory": "2Gi"})
    impossible_resources: dict[str, Any] | None = None
    plugins: dict[str, object] | None = None
    peer_settings: dict[str, Any] | None = None
    env: dict[str, str] = field(default_factory=dict)
    gate_timeout: float = 180.0
    api_settings: Callable[[str], dict[str, Any]] | None = None
    runs_images: bool = True

    @property
    def provider_name(self) -> str:
        return self.settings["provider"]


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(k)} = {_toml(v)}" for k, v in value.items()) + "}"
    return json.dumps(str(value))


def _table(name: str, values: Mapping[str, Any]) -> list[str]:
    return [f"[{name}]", *(f"{json.dumps(k)} = {_toml(v)}" for k, v in values.items())]


def write_project(folder: Path, ct: ConformanceTarget, deployment: str, version: int, *,
                  settings: dict[str, Any] | None = None, resources: dict[str, Any] | None = None,
                  extra_env: Mapping[str, str] | None = None, targets: dict[str, dict] | None = None,
                  sleep: float = 0.0, analysis: Mapping[str, Any] | None = None) -> Path:
    """The conformance model, ``version`` 1 or 2 (scale = version), with the target under test;
    ``sleep`` seconds per prediction, and ``[rollout.analysis]`` when given."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "predict.py").write_text(PREDICT_PY)
    (folder / "model.json").write_text(json.dumps({"scale": version, **({"sleep": sleep} if sleep else {})}))
    (folder / "sample.json").write_text(json.dumps(SAMPLE))
    lines = [f'name = "{deployment}"',
             *_table("model", {"name": MODEL, "version": f"{version}.0.0", "path": "model.json",
                               "framework": "custom", "predict": "predict.py"}),
             *_table("serving", {"sample_input": "sample.json", "expected_output_shape": [2]}),
             *_table("resources", resources or ct.resources),
             *_table("scaling", {"min_instances": 1, "max_instances": 1}),
             *_table("rollout", {"gate_timeout": ct.gate_timeout, "steps": [50, 100]}),
             *_table("env", {**ct.env, **(extra_env or {})})]
    if analysis:
        lines += _table("rollout.analysis", analysis)
    if ct.base_image:
        lines += _table("build", {"base_image": ct.base_image})
    tables = targets or {TARGET: settings or ct.settings, **({PEER: ct.peer_settings} if ct.peer_settings else {})}
    for name, table in tables.items():
        lines += _table(f"targets.{name}", table)
    (folder / "modelport.toml").write_text("\n".join(lines) + "\n")
    return folder


def expected_scores(version: int) -> list[float]:
    return [sum(row) * version for row in SAMPLE["inputs"][0]["data"]]


class ConformanceEnv:
    """One deployment under test: its projects, a private state store, and read-back helpers."""

    def __init__(self, ct: ConformanceTarget, root: Path) -> None:
        self.ct = ct
        self.root = root
        self.name = f"c{uuid.uuid4().hex[:7]}"
        self.registry = load_providers(ct.plugins)
        self.session = Session(state=StateStore(root / "state.db"), providers=self.registry)
        self.provider = self.registry.get(ct.provider_name)
        self.target = Target(TARGET, ct.provider_name, self.provider.settings_model.model_validate(
            {k: v for k, v in ct.settings.items() if k != "provider"}))
        self._projects: dict[tuple, Path] = {}

    def project(self, version: int, **variant: Any) -> Path:
        """The project folder for ``version`` (a variant such as ``extra_env`` gets its own)."""
        key = (version, json.dumps(variant, sort_keys=True))
        if key not in self._projects:
            folder = self.root / f"v{version}-{len(self._projects)}"
            self._projects[key] = write_project(folder, self.ct, self.name, version, **variant)
        return self._projects[key]

    def session_with(self, provider: Provider) -> Session:
        """A session on the same state store whose provider is ``provider`` (e.g. a FaultyProvider)."""
        loaded = LoadedProviders()
        loaded.add_provider("conformance", provider)
        return Session(state=self.session.state, providers=loaded)

    def observe(self):
        return self.provider.observe(self.target, self.name)

    def recorded(self) -> dict[str, Any] | None:
        rows = self.session.state.deployments(self.name, TARGET)
        return rows[0] if rows else None

    def headers(self) -> Mapping[str, str]:
        return self.provider.endpoint_headers(self.target, self.name)

    def served_version(self, endpoint: str | None = None, headers: Mapping[str, str] | None = None,
                       attempts: int = 5) -> int:
        """Which model version answers at ``endpoint`` (default: the deployment's), read from the
        predictions themselves; retries briefly because endpoints converge after a change."""
        endpoint = endpoint or self.observe().endpoint
        assert endpoint, f"{self.name} has no endpoint: {self.observe()}"
        problem = ""
        for attempt in range(attempts):
            try:
                reply = httpx.post(f"{endpoint}/v2/models/{MODEL}/infer", json=SAMPLE, timeout=30,
                                   headers={**self.headers(), **(headers or {})})
                if reply.status_code == 200:
                    return self._version_of(endpoint, reply.json())
                problem = f"HTTP {reply.status_code}: {reply.text[:200]}"
            except httpx.HTTPError as exc:
                problem = f"{type(exc).__name__}: {exc}"
            time.sleep(1 + attempt)
        raise AssertionError(f"no prediction from {endpoint}: {problem}")

    def _version_of(self, endpoint: str, reply: dict[str, Any]) -> int:
        """The version (1 or 2) a prediction came from: the OIP ``model_version`` it names, which
        the model's own scores must confirm when the provider runs the image."""
        named = answered_version(reply)
        version = {"1.0.0": 1, "2.0.0": 2}.get(named or "")
        assert version is not None, f"{endpoint} answered model_version {named!r}, neither 1.0.0 nor 2.0.0"
        if self.ct.runs_images:
            scores = next((o["data"] for o in reply.get("outputs", []) if o.get("name") == "score"), None)
            assert scores is not None and [round(s, 6) for s in scores] == expected_scores(version), \
                f"{endpoint} names version {named} but its scores {scores} are not that model's"
        return version

    def assert_no_orphans(self) -> None:
        """Every tagged resource of this deployment belongs to a revision the cloud reports, and
        resources without a revision tag (shared infrastructure) exist only while the deployment does."""
        observed = self.observe()
        names = {r.name for r in observed.revisions}
        mine = [r for r in self.provider.list_resources(self.target) if r.deployment == self.name]
        stray = [r for r in mine if r.revision is not None and r.revision not in names]
        assert not stray, f"tagged resources of revisions that no longer exist: {stray}"
        untagged = [r for r in mine if r.revision is None]
        assert observed.exists or not untagged, \
            f"resources without a revision tag are left of a deployment that no longer exists: {untagged}"

    def cleanup(self) -> None:
        try:
            self.provider.destroy(self.target, self.name)
        except ModelportError:
            pass


class ErrorAPI:
    """A local HTTP server standing for a cloud API that answers every request with ``status``
    (429 with ``Retry-After: 1``, or a 5xx), in a JSON body most SDKs parse. A context manager."""

    def __init__(self) -> None:
        self.status = 503
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def _answer(self) -> None:
                self.rfile.read(int(self.headers.get("content-length") or 0))
                body = json.dumps({"error": {"code": api.status, "message": "conformance suite: planted error",
                                             "status": "RESOURCE_EXHAUSTED" if api.status == 429 else "UNAVAILABLE"}})
                self.send_response(api.status)
                self.send_header("content-type", "application/json")
                self.send_header("retry-after", "1")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body.encode())

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _answer

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._httpd.server_port}"

    def __enter__(self) -> "ErrorAPI":
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


class Fault(ProviderError):
    """The error a :class:`FaultyProvider` raises (not retryable, so the engine must undo)."""


#: the primitives a fault can hit, in the order an operation usually calls them
PRIMITIVES = ("ensure_infrastructure", "create_revision", "update_revision", "health", "set_traffic",
              "delete_revision")

class FaultyProvider(ProviderProxy):
    """``inner`` whose ``on_call``-th call of ``primitive`` raises :class:`Fault`; every call is
    recorded in ``calls`` (primitive names, in order)."""

    def __init__(self, inner: Provider, primitive: str, on_call: int = 1) -> None:
        super().__init__(inner)
        self.primitive, self.on_call = primitive, on_call
        self.calls: list[str] = []

    def _call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        self.calls.append(method)
        if method == self.primitive and self.calls.count(method) == self.on_call:
            raise Fault(self.name, method, f"injected fault (call {self.on_call})")
        return super()._call(method, *args, **kwargs)


def faulty(inner: Provider, primitive: str, on_call: int = 1) -> FaultyProvider:
    """``inner`` wrapped so its ``on_call``-th call of ``primitive`` raises :class:`Fault`."""
    return FaultyProvider(inner, primitive, on_call)
