"""What the secret-scan tests share: the seeded secrets, a project writer, a CLI runner that scans
everything a command prints, and collectors for files, containers and recorded requests."""

from __future__ import annotations

import base64
import gzip
import io
import json
import subprocess
import sys
import tarfile
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from tests.providers.gcp.helpers import write_project

from .seeds import Hit, Scanner, Secret, random_value, url_safe_value

REPO = Path(__file__).resolve().parents[2]

# Environment variables the seeded values travel in (the spec names the first two).
ENV_SECRET_VAR = "MP_SCAN_API_TOKEN"
REGISTRY_PASSWORD_VAR = "MP_SCAN_REGISTRY_PASSWORD"
REGISTRY_USER_VAR = "MP_SCAN_REGISTRY_USER"  # the auth registry's user (not a secret; azure names it by env)
WRONG_PASSWORD_VAR = "MP_SCAN_WRONG_PASSWORD"
AZURE_TOKEN_VAR = "MP_SCAN_AZURE_TOKEN"
MODEL_KEY_VAR = "MP_SCAN_MODEL_API_KEY"  # [access] api_key: the key the deployed runtime enforces
SECRET_FILE = "db-password.txt"

# Run the real CLI with every library's logging at DEBUG on stderr (botocore, urllib3, azure-core,
# httpx, google-auth): a user debugging a failure turns this on, so it must not leak either.
DEBUG_CLI = ("import logging, sys; logging.basicConfig(level=logging.DEBUG, stream=sys.stderr); "
             "from modelport.cli import main; main(prog_name='modelport')")


def seed_secrets(registry_password: str) -> dict[str, Secret]:
    """Fresh values for every kind of secret modelport handles, by kind (the registry password is
    the one the ``auth_registry`` fixture was started with, itself random per session)."""
    kinds = {
        "env: secret": random_value(), "file: secret": random_value(),
        "registry password": registry_password, "wrong registry password": random_value(),
        "aws secret access key": url_safe_value(), "aws session token": url_safe_value(),
        "azure arm token": url_safe_value(), "azure client secret": url_safe_value(),
        "model api key": url_safe_value(),  # travels in Authorization / X-API-Key headers
    }
    return {kind: Secret(kind, value) for kind, value in kinds.items()}


def secret_env(seeds: dict[str, Secret]) -> dict[str, str]:
    """The environment a user has: the values the spec and settings name, and cloud credentials
    that sit in the environment whether or not modelport uses them."""
    return {ENV_SECRET_VAR: seeds["env: secret"].value,
            REGISTRY_PASSWORD_VAR: seeds["registry password"].value,
            WRONG_PASSWORD_VAR: seeds["wrong registry password"].value,
            "AWS_SECRET_ACCESS_KEY": seeds["aws secret access key"].value,
            "AWS_SESSION_TOKEN": seeds["aws session token"].value,
            AZURE_TOKEN_VAR: seeds["azure arm token"].value,
            "AZURE_CLIENT_SECRET": seeds["azure client secret"].value,
            MODEL_KEY_VAR: seeds["model api key"].value}


SPEC_SECRETS = {"API_TOKEN": f"env:{ENV_SECRET_VAR}", "DB_PASSWORD": f"file:{SECRET_FILE}"}


def make_project(dest: Path, seeds: dict[str, Secret], name: str, targets: dict[str, dict],
                 version: str = "1", **options) -> Path:
    """An iris project whose spec references the env: and file: secrets (the file in the folder)."""
    options.setdefault("cpu", 1)
    options.setdefault("memory", "2Gi")  # valid as is on Fargate, Cloud Run and ACI
    folder = write_project(dest, version, name, targets, secrets={**SPEC_SECRETS, **options.pop("secrets", {})},
                           **options)
    (folder / SECRET_FILE).write_text(seeds["file: secret"].value + "\n")
    spec = folder / "modelport.toml"  # the machine is shared: give health gates room
    text = spec.read_text().replace("gate_timeout = 120", "gate_timeout = 400")
    # every deployment enforces an API key: modelport's gates, predict and comparisons send it
    text += f'[access]\napi_key = "env:{MODEL_KEY_VAR}"\n'
    if any(t.get("provider") == "azure" for t in targets.values()):  # ACI has no autoscaling (validate)
        text = text.replace("max_instances = 2", "max_instances = 1")
    spec.write_text(text)
    return folder


@dataclass
class Leaks:
    """Scans sources as they come and collects every hit, for one assertion per test."""

    scanner: Scanner
    hits: list[Hit] = field(default_factory=list)

    def scan(self, place: str, data: bytes | str, source: str, allow: frozenset[str] = frozenset()) -> None:
        self.hits.extend(self.scanner.scan(place, data, source, allow))

    def check(self) -> None:
        """Fail naming every place a secret was found (context redacted)."""
        hits, self.hits = self.hits, []
        assert not hits, f"{len(hits)} secret leak(s):\n" + "\n".join(str(h) for h in hits[:40])


@dataclass
class Cli:
    """Runs ``modelport`` in a subprocess with the user's environment and scans its output."""

    leaks: Leaks
    env: dict[str, str]
    cwd: Path
    ran: list[tuple[str, int, float]] = field(default_factory=list)
    #: (place, text) of everything the commands printed, to scan again for secrets a cloud hands
    #: out while they run (ID tokens)
    printed: list[tuple[str, str]] = field(default_factory=list)

    def __call__(self, *args: str, ok: bool = True, debug: bool = True, extra_env: dict | None = None,
                 stdin: str | None = None) -> subprocess.CompletedProcess:
        """Run one command; ``ok`` asserts exit 0 (False: asserts it failed)."""
        argv = [sys.executable, "-c", DEBUG_CLI] if debug else [sys.executable, "-m", "modelport"]
        env = {**self.env, **(extra_env or {})}
        started = time.monotonic()
        proc = subprocess.run([*argv, *args], env=env, cwd=self.cwd, capture_output=True, input=stdin,
                              text=True, timeout=600)
        shown = "modelport " + " ".join(args)
        self.ran.append((shown, proc.returncode, round(time.monotonic() - started, 1)))
        self.leaks.scan(f"`{shown}` stdout", proc.stdout, "cli stdout")
        self.leaks.scan(f"`{shown}` stderr", proc.stderr, "cli stderr")
        self.printed += [(f"`{shown}` stdout", proc.stdout), (f"`{shown}` stderr", proc.stderr)]
        if ok:
            assert proc.returncode == 0, f"{shown} exited {proc.returncode}: {_tail(proc.stderr)}"
        else:
            assert proc.returncode != 0, f"{shown} should have failed"
        return proc

    def json(self, *args: str, **kwargs) -> dict:
        """Run with ``--output json`` and parse stdout."""
        proc = self(*args, "--output", "json", **kwargs)
        return json.loads(proc.stdout)


def _tail(text: str, lines: int = 15) -> str:
    # the tail of stderr goes into an assertion message: keep only non-debug lines
    kept = [line for line in text.splitlines() if not line.startswith(("DEBUG:", "INFO:"))]
    return "\n".join(kept[-lines:])


# -- files ------------------------------------------------------------------------------------------

def _expanded(data: bytes) -> list[tuple[str, bytes]]:
    """Decompressed views of ``data`` (gzip/zlib streams, tar members) next to the raw bytes."""
    out = []
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
            out.append(("gunzip", data))
        except (OSError, EOFError, zlib.error):
            return out
    if len(data) > 512 and data[257:262] == b"ustar":
        try:
            with tarfile.open(fileobj=io.BytesIO(data)) as tar:
                for member in tar.getmembers():
                    f = tar.extractfile(member) if member.isfile() else None
                    if f is not None:
                        out.append((f"tar:{member.name}", f.read()))
        except tarfile.TarError:
            pass
    return out


def scan_tree(leaks: Leaks, root: Path, source: str, skip: tuple[Path, ...] = ()) -> None:
    """Every file under ``root`` as raw bytes, plus decompressed gzip/tar content (image layers)."""
    if not root.exists():
        return
    for path in sorted(p for p in root.rglob("*") if p.is_file() and not p.is_symlink()):
        if any(path == s or s in path.parents for s in skip):
            continue
        data = path.read_bytes()
        leaks.scan(str(path), data, source)
        for inner, content in _expanded(data):
            leaks.scan(f"{path} [{inner}]", content, source + " (decompressed)")


def scan_state(leaks: Leaks, state: Path) -> None:
    """The SQLite state file and its WAL/SHM/journal as raw bytes (free pages included)."""
    for path in sorted(state.parent.glob(state.name + "*")):
        leaks.scan(str(path), path.read_bytes(), "state db (raw bytes)")


# -- containers ---------------------------------------------------------------------------------------

def scan_containers(leaks: Leaks, docker_client, marker: str, env_holds: list[Secret] | None = None) -> int:
    """Logs and inspect data (without Config.Env, the secrets' destination) of every container
    whose name or labels mention ``marker``; returns how many. ``env_holds``: seeds that must be
    in some container's env (proves the scan looked at the deployed model)."""
    import docker.errors

    found = 0
    env_text = ""
    for c in _containers_of(docker_client, marker):
        try:
            logs = c.logs(stdout=True, stderr=True, tail=5000)
        except docker.errors.NotFound:  # removed meanwhile (an emulator replacing it)
            continue
        found += 1
        leaks.scan(f"container {c.name} logs", logs, "container logs")
        attrs = json.loads(json.dumps(c.attrs))
        env_text += "\n".join(attrs.get("Config", {}).pop("Env", None) or [])
        leaks.scan(f"container {c.name} inspect (without Env)", json.dumps(attrs), "container inspect")
    for seed in env_holds or []:
        assert leaks.scanner.contains(env_text, seed), f"no container of {marker} got {seed.kind} in its env"
    return found


def remove_containers(docker_client, marker: str) -> None:
    """Remove every container whose name or labels mention ``marker`` (gone ones are fine)."""
    import docker.errors

    for c in _containers_of(docker_client, marker):
        try:
            c.remove(force=True)
        except docker.errors.NotFound:
            pass


def _containers_of(docker_client, marker: str) -> list:
    """The containers whose name or labels mention ``marker``, inspected one by one.

    The engine is shared by the suite's workers: ``containers.list()`` inspects every container
    it lists and fails when another worker's container is removed in between, so the listing is
    the engine's own (no inspect) and only this marker's containers are looked up; one gone
    meanwhile is skipped."""
    import docker.errors

    found = []
    for entry in docker_client.api.containers(all=True):
        names = [n.lstrip("/") for n in entry.get("Names") or []]
        labels = entry.get("Labels") or {}
        if any(marker in n for n in names) or any(marker in str(v) for v in labels.values()):
            try:
                found.append(docker_client.containers.get(entry["Id"]))
            except docker.errors.NotFound:
                continue
    return found


# -- recorded requests ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Allowed:
    """A request that IS a secret's destination: ``method`` + a ``path`` substring, the JSON
    ``field`` (a function of the parsed body returning the values there) or a header name."""

    method: str
    path: str
    kind: str
    where: str
    pick: object = None  # callable(body_json) -> list[str], or None for a header named ``where``


def _credential_text(value: str) -> str:
    """A header value, with HTTP Basic credentials decoded (``Basic base64(user:password)``)."""
    scheme, _, rest = value.partition(" ")
    if scheme.lower() == "basic":
        try:
            return base64.b64decode(rest).decode("utf-8", "replace")
        except ValueError:
            return value
    return value


def scan_requests(leaks: Leaks, requests, allowed: list[Allowed], label: str) -> dict[str, int]:
    """Scan every recorded request's path, headers and body. A request matching an ``Allowed``
    rule is scanned with that value removed from exactly that field/header, and the value must
    be there. Returns, per allowed rule, how many requests carried the secret there."""
    proven: dict[str, int] = {f"{a.kind} in {a.method} {a.path} {a.where}": 0 for a in allowed}
    for n, req in enumerate(requests):
        place = f"{label} request #{n} {req.method} {req.path.split('?')[0]}"
        headers = dict(req.headers)
        body = req.body or b""
        target = next((v for k, v in headers.items() if k.lower() == "x-amz-target"), "")
        route = f"{req.path} {target}"  # AWS JSON APIs name the operation in X-Amz-Target
        for rule in allowed:
            if req.method != rule.method or rule.path not in route:
                continue
            key = f"{rule.kind} in {rule.method} {rule.path} {rule.where}"
            seed = next(s for s in leaks.scanner.seeds if s.kind == rule.kind)
            if rule.pick is None:
                name = next((h for h in headers if h.lower() == rule.where.lower()), None)
                if name and seed.value in _credential_text(headers[name]):
                    headers[name] = "<destination>"
                    proven[key] += 1
            else:
                values = rule.pick(json.loads(body)) if body[:1] in (b"{", b"[") else []
                times = sum(1 for v in values if v == seed.value)
                if times:
                    # remove exactly as many copies as the field holds: any other copy is a leak
                    raw = json.dumps(seed.value)[1:-1].encode()
                    body = body.replace(raw if raw in body else seed.value.encode(), b"<destination>", times)
                    proven[key] += 1
        leaks.scan(place + " path", req.path, "emulator request paths")
        leaks.scan(place + " headers", json.dumps(headers), "emulator request headers")
        leaks.scan(place + " body", body, "emulator request bodies")
    return proven
