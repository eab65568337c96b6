"""Serving benchmark: OIP v2 infer on the iris model at concurrency 1, 16 and 64 — the modelport
runtime with adaptive batching on, with it off, and the bare route, req/s and p99 in one run.

(a) the runtime in two containers (``--image``: an image built by ``modelport build``; or
    ``--dev``: the base image with this checkout's runtime and the pinned wheels mounted, as the
    tests do): one as built (batching off, the default), one with MODELPORT_MAX_BATCH_SIZE set
    (``--max-batch-size``, rows; ``--max-batch-delay-ms``);
(b) the bare route in the same run: the same model called directly behind one plain starlette
    route on uvicorn (httptools + uvloop, one worker), in a container of the same base image with
    the same pinned wheels (plus starlette), on the same host. All in containers, because on a
    busy host Docker's cgroup gives a container far less CPU than a host process gets;
(c) with ``--host-runtime``, also this checkout's runtime (batching off) as a plain host process.

At each concurrency the servers are measured in alternating rounds so background load hits each
alike; the table gives throughput, latency percentiles and the server's own CPU time per request
(from /proc). The goal of batching: at concurrency 64, at least 2x the bare route's req/s with a
p99 no worse than the runtime's without batching.

Every server gets the same request body (examples/iris/sample.json, 2 rows), the same fixed
number of requests at the same concurrency, from the same client: a small asyncio HTTP/1.1
keep-alive client in this file (one connection per concurrent stream; it costs far less CPU than
an HTTP library, so on a 2-core machine it measures the servers rather than itself). Only
127.0.0.x addresses are used; every process and container started here is stopped before exit.
The runtimes run with their defaults otherwise (the JSON access log on).

    python benchmarks/serving.py --image modelport/iris@sha256:... [--requests 3000] [--concurrency 1,16,64]
    python benchmarks/serving.py --dev --output json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "iris"
BASE_IMAGE = "modelport-base:bookworm"
# the tests' helper that lays out the runtime and the pinned wheels in a base-image container
sys.path.insert(0, str(REPO / "tests" / "runtime"))

REFERENCE_APP = '''
import os
import joblib, numpy as np, orjson
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route

model = joblib.load(os.environ["REFERENCE_MODEL"])

async def infer(request):
    body = orjson.loads(await request.body())
    rows = np.asarray(body["inputs"][0]["data"], dtype=np.float32)
    outputs = [{"name": "predict", "data": model.predict(rows).tolist()},
               {"name": "predict_proba", "data": model.predict_proba(rows).ravel().tolist()}]
    return Response(orjson.dumps({"outputs": outputs}), media_type="application/json")

app = Starlette(routes=[Route("/infer", infer, methods=["POST"])])
'''


@dataclass
class Result:
    """One server's measurement."""

    server: str
    requests: int
    concurrency: int
    errors: int
    seconds: float
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    rounds_requests_per_second: list[float]
    server_cpu_ms_per_request: float


def free_address() -> tuple[str, int]:
    """A random 127.0.0.x address and a free port on it."""
    host = f"127.0.0.{random.randint(2, 250)}"
    with socket.socket() as probe:
        probe.bind((host, 0))
        return host, probe.getsockname()[1]


# ---------------------------------------------------------------- the client


async def _stream(host: str, port: int, request: bytes, count: int, latencies: list[float]) -> int:
    reader, writer = await asyncio.open_connection(host, port)
    errors = 0
    try:
        for _ in range(count):
            started = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - started)
            if head[9:12] != b"200":
                errors += 1
    finally:
        writer.close()
    return errors


async def _load(host: str, port: int, path: str, body: bytes, total: int, concurrency: int) -> tuple[list[float], int, float]:
    request = (f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
               f"Content-Length: {len(body)}\r\n\r\n").encode() + body
    latencies: list[float] = []
    shares = [total // concurrency + (1 if i < total % concurrency else 0) for i in range(concurrency)]
    started = time.perf_counter()
    errors = await asyncio.gather(*(_stream(host, port, request, n, latencies) for n in shares if n))
    return latencies, sum(errors), time.perf_counter() - started


def measure(url: str, path: str, body: bytes, total: int, concurrency: int) -> tuple[list[float], int, float]:
    """Send ``total`` requests at ``concurrency``; returns (latencies in s, errors, wall seconds)."""
    host, port = url.removeprefix("http://").split(":")
    return asyncio.run(_load(host, int(port), path, body, total, concurrency))


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` (all its threads) so far, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def summarize(name: str, rounds: list[tuple[list[float], int, float]], concurrency: int, cpu: float) -> Result:
    """One Result over all rounds: total requests / total time, percentiles of all latencies."""
    latencies = sorted(t for r in rounds for t in r[0])
    seconds = sum(r[2] for r in rounds)
    pick = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000  # noqa: E731
    return Result(name, len(latencies), concurrency, sum(r[1] for r in rounds), round(seconds, 3),
                  round(len(latencies) / seconds, 1), round(pick(0.50), 3), round(pick(0.99), 3),
                  [round(len(r[0]) / r[2], 1) for r in rounds], round(cpu * 1000 / len(latencies), 3))


# ---------------------------------------------------------------- the servers


REFERENCE_EXTRA = ("starlette==1.10.0", "anyio==4.16.0", "idna==3.20", "typing_extensions==4.16.0")


def start_reference(engine, args: argparse.Namespace, tmp: Path) -> tuple[object, str]:
    """The reference app on uvicorn in a container of the base image (same Python, same cgroup
    treatment as the runtime's container), with the runtime's sklearn wheels plus starlette."""
    from runtime_container import run_runtime, site_packages

    (tmp / "reference").mkdir()
    (tmp / "reference" / "reference_app.py").write_text(REFERENCE_APP)
    host, port = free_address()
    command = ("python3", "-m", "uvicorn", "reference_app:app", "--host", host, "--port", str(port),
               "--loop", "uvloop", "--http", "httptools", "--no-access-log", "--log-level", "warning")
    env = {"REFERENCE_MODEL": "/opt/model/model.joblib", "PYTHONPATH": "/opt/reference:/opt/site"}
    site = site_packages(("sklearn",), REFERENCE_EXTRA)
    container = run_runtime(engine, args.base_image, site, env,
                            {EXAMPLE: "/opt/model", tmp / "reference": "/opt/reference"}, command)
    return container, f"http://{host}:{port}"


def start_host_runtime(tmp: Path) -> tuple[subprocess.Popen, str]:
    """The same runtime as a host process of this Python (separates the runtime from the image's Python)."""
    link = tmp / "pythonpath" / "modelport_runtime"
    link.parent.mkdir()
    link.symlink_to(REPO / "core" / "runtime", target_is_directory=True)
    host, port = free_address()
    env = {**os.environ, "PYTHONPATH": str(link.parent), "MODELPORT_HOST": host, "PORT": str(port),
           "MODELPORT_MODEL_NAME": "iris", "MODELPORT_FRAMEWORK": "sklearn",
           "MODELPORT_MODEL_PATH": str(EXAMPLE / "model.joblib")}
    process = subprocess.Popen([sys.executable, "-m", "modelport_runtime", "serve"], env=env, cwd=tmp,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return process, f"http://{host}:{port}"


def start_runtime(engine, args: argparse.Namespace, extra_env: dict[str, str]) -> tuple[object, str, str]:
    """The runtime in a container: ``--image`` as built, or ``--dev`` mounted on the base image."""
    host, port = free_address()
    env = {"MODELPORT_HOST": host, "PORT": str(port), **dict(kv.split("=", 1) for kv in args.runtime_env), **extra_env}
    name = f"modelport-bench-{uuid.uuid4().hex[:8]}"
    if args.image:
        image_env = dict(e.split("=", 1) for e in engine.images.get(args.image).attrs["Config"]["Env"] or [])
        model = image_env.get("MODELPORT_MODEL_NAME", "iris")
        container = engine.containers.run(args.image, detach=True, network_mode="host", name=name, environment=env)
    else:
        model = "iris"
        from runtime_container import run_runtime, site_packages

        env.update(MODELPORT_MODEL_NAME=model, MODELPORT_FRAMEWORK="sklearn", MODELPORT_MODEL_PATH="/opt/model/model.joblib")
        container = run_runtime(engine, args.base_image, site_packages(("sklearn",)), env, {EXAMPLE: "/opt/model"})
    return container, f"http://{host}:{port}", model


BARE, OFF, ON = "bare route", "runtime, batching off", "runtime, batching on"


def start_servers(engine, args: argparse.Namespace, tmp: Path, containers: list, processes: list) -> list[tuple]:
    """Start every server and wait until each answers; (name, url, path, pid) per server."""
    body = (EXAMPLE / "sample.json").read_bytes()
    batching = {"MODELPORT_MAX_BATCH_SIZE": str(args.max_batch_size),
                "MODELPORT_MAX_BATCH_DELAY_MS": str(args.max_batch_delay_ms)}
    servers = []
    for name, extra in ((OFF, {}), (ON, batching)):
        container, url, model = start_runtime(engine, args, extra)
        containers.append(container)
        servers.append((name, url, f"/v2/models/{model}/infer", container))
    reference, reference_url = start_reference(engine, args, tmp)
    containers.append(reference)
    servers.insert(0, (BARE, reference_url, "/infer", reference))
    for _, url, path, container in servers:
        _wait_post(url + path, body, lambda c=container: _container_gone(c), args.start_timeout)
    found = [(name, url, path, _pid(container)) for name, url, path, container in servers]
    if args.host_runtime:
        host_process, host_url = start_host_runtime(tmp)
        processes.append(host_process)
        _wait_post(f"{host_url}/v2/models/iris/infer", body, lambda: host_process.poll() is not None, args.start_timeout)
        found.append(("runtime, batching off (host process)", host_url, "/v2/models/iris/infer", host_process.pid))
    return found


def measure_level(servers: list[tuple], args: argparse.Namespace, concurrency: int) -> list[Result]:
    """Every server at one concurrency, in alternating rounds after a warm-up."""
    body = (EXAMPLE / "sample.json").read_bytes()
    for _, url, path, _ in servers:
        measure(url, path, body, max(args.warmup, concurrency * 4), concurrency)
    rounds: dict[str, list] = {name: [] for name, *_ in servers}
    cpu = dict.fromkeys(rounds, 0.0)
    per_round = max(concurrency, args.requests // args.rounds)
    for _ in range(args.rounds):
        for name, url, path, pid in servers:
            before = cpu_seconds(pid)
            rounds[name].append(measure(url, path, body, per_round, concurrency))
            cpu[name] += cpu_seconds(pid) - before
    return [summarize(name, rounds[name], concurrency, cpu[name]) for name in rounds]


def run(args: argparse.Namespace) -> list[Result]:
    """Start the servers, then measure them at each concurrency."""
    import docker

    engine = docker.from_env()
    containers: list = []
    processes: list = []
    with tempfile.TemporaryDirectory() as tmp:
        try:
            servers = start_servers(engine, args, Path(tmp), containers, processes)
            return [result for level in args.levels for result in measure_level(servers, args, level)]
        finally:
            for container in containers:
                container.remove(force=True)
            for process in processes:
                process.terminate()
                process.wait(30)


def _pid(container) -> int:
    container.reload()
    return container.attrs["State"]["Pid"]


def _container_gone(container) -> bool:
    container.reload()
    if container.status in ("exited", "dead"):
        raise SystemExit(f"container {container.name} exited:\n" + container.logs().decode(errors="replace")[-3000:])
    return False


def _wait_post(url: str, body: bytes, died, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if died():
            raise SystemExit(f"the server for {url} exited before answering")
        try:
            if httpx.post(url, content=body, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.2)
    raise SystemExit(f"{url} did not answer 200 in {timeout} s")


def ratios(results: list[Result]) -> list[dict]:
    """Per concurrency: batching on and off against the bare route (req/s), and on against off (p99)."""
    by = {(r.concurrency, r.server): r for r in results}
    rows = []
    for level in sorted({r.concurrency for r in results}):
        bare, off, on = by[(level, BARE)], by[(level, OFF)], by[(level, ON)]
        rows.append({"concurrency": level,
                     "on_vs_bare_rps": round(on.requests_per_second / bare.requests_per_second, 2),
                     "off_vs_bare_rps": round(off.requests_per_second / bare.requests_per_second, 2),
                     "on_vs_off_p99": round(on.p99_ms / off.p99_ms, 2)})
    return rows


def report(results: list[Result], output: str) -> str:
    """A table (or JSON) of the results and the ratios that state the goal."""
    summary = ratios(results)
    if output == "json":
        return json.dumps({"results": [asdict(r) for r in results], "ratios": summary}, indent=2)
    lines = [f"{'server':38} {'conc':>4} {'requests':>8} {'errors':>6} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} "
             f"{'cpu ms/req':>10}  req/s per round"]
    for r in results:
        lines.append(f"{r.server:38} {r.concurrency:>4} {r.requests:>8} {r.errors:>6} "
                     f"{r.requests_per_second:>8.1f} {r.p50_ms:>8.3f} {r.p99_ms:>8.3f} "
                     f"{r.server_cpu_ms_per_request:>10.3f}  {', '.join(map(str, r.rounds_requests_per_second))}")
    lines.append("")
    lines.append(f"{'concurrency':>11} {'req/s on/bare':>14} {'req/s off/bare':>15} {'p99 on/off':>11}")
    for row in summary:
        lines.append(f"{row['concurrency']:>11} {row['on_vs_bare_rps']:>14.2f} {row['off_vs_bare_rps']:>15.2f} "
                     f"{row['on_vs_off_p99']:>11.2f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, run the measurements, print the report."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--image", help="image built by `modelport build` for examples/iris")
    source.add_argument("--dev", action="store_true", help="mount this checkout's runtime on --base-image")
    parser.add_argument("--base-image", default=BASE_IMAGE)
    parser.add_argument("--requests", type=int, default=3000, help="requests per server and concurrency")
    parser.add_argument("--concurrency", default="1,16,64", help="comma-separated concurrency levels")
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds per server (requests split)")
    parser.add_argument("--max-batch-size", type=int, default=128, help="rows per merged call (batching on)")
    parser.add_argument("--max-batch-delay-ms", type=int, default=5)
    parser.add_argument("--runtime-env", action="append", default=[], metavar="KEY=VALUE",
                        help="extra environment for both runtime containers (e.g. MODELPORT_PREDICT_THREADS=0)")
    parser.add_argument("--host-runtime", action="store_true",
                        help="also measure this checkout's runtime as a host process (same Python as the reference)")
    parser.add_argument("--start-timeout", type=float, default=600,
                        help="seconds each server may take to answer its first request (a busy host is slow)")
    parser.add_argument("--output", choices=("table", "json"), default="table")
    args = parser.parse_args(argv)
    try:
        args.levels = [int(level) for level in args.concurrency.split(",")]
    except ValueError:
        parser.error("--concurrency must be comma-separated integers, e.g. 1,16,64")
    if not (1 <= args.requests <= 200_000 and all(1 <= c <= 256 for c in args.levels) and 1 <= args.rounds <= 20):
        parser.error("--requests must be 1..200000, each --concurrency 1..256, --rounds 1..20")
    if not 1 <= args.max_batch_size <= 65536:
        parser.error("--max-batch-size must be 1..65536")
    print(report(run(args), args.output))
    return 0


if __name__ == "__main__":
    sys.exit(main())
