"""Benchmark: copy a multi-layer image between two local registries, modelport vs. skopeo.

What it does, in one run:
1. builds (or reuses) an image FROM modelport-base:bookworm with N layers of random bytes
   (>= 500 MB in total by default) on the Docker engine at $DOCKER_HOST;
2. exports it to a temporary OCI store and pushes it to registry A (modelport's own push);
3. copies A -> B twice (first copy, then re-copy) with the installed ``modelport copy`` command
   (next to this interpreter: started exactly as a user starts it), and A -> C twice with
   ``skopeo copy``; B and C are separate fresh registries so neither tool benefits from the other,
   repeated ``--trials`` times with the order of the tools alternating (medians reported);
4. reports for each copy: wall time, CPU time and peak RSS of the copying process, blob bytes the
   destination received (counted from the destination registry's access log, independent of
   both tools), and whether the destination digest equals the source digest.

Usage::

    DOCKER_HOST=unix:///…/docker.sock .venv/bin/python benchmarks/registry_copy.py [--size-mb 600]
        [--layers 6] [--trials 5] [--store DIR] [--output json] [--remove-image]

Registries and temporary data are removed at the end; the benchmark image is kept for reuse
unless ``--remove-image`` is given.

Last run (2026-12-06 16:05 UTC, 2 vCPU VM, nothing else running, load average 2.3-2.7; 7 blobs,
673 MB; 5 trials, medians; skopeo 1.9.3):

    run         tool        wall s   cpu s   peak RSS MB   MB received   digest kept
    first copy  modelport     2.04    0.92          26.4         672.6          yes
    first copy  skopeo        2.35    1.95          22.5         672.6          yes
    re-copy     modelport     0.09    0.08          24.1           0.0          yes
    re-copy     skopeo        0.04    0.02          21.2           0.0          yes

Ratio modelport/skopeo: 0.87 (first copy), 2.25 (re-copy; the same in a second run; 3.25 when the
registry client was on httpx, 6.9 before ``modelport copy`` stopped importing the API, the engine
and every provider plugin). What is left of the re-copy gap is start-up: the interpreter, click,
and http.client with the email parser it reads headers with, against skopeo's one Go binary.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

BASE_IMAGE = "modelport-base:bookworm"
REPO = "bench/model"
# the installed ``modelport`` executable next to this interpreter (as a user runs it)
MODELPORT = [str(Path(sys.executable).with_name("modelport"))]
_UPLOAD_DONE = re.compile(r'"PUT /v2/[^ ]+/blobs/uploads/[^ ]*[?&]digest=sha256%3A([0-9a-f]{64})[^ ]* HTTP/[\d.]+" 201')


# ---- registries ------------------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Registry:
    """A `docker-registry serve` on a free loopback port with storage in ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = _free_port()
        self.host = f"127.0.0.1:{self.port}"
        root.mkdir(parents=True)
        config = {"version": 0.1, "log": {"level": "warn"},
                  "storage": {"filesystem": {"rootdirectory": str(root / "data")}},
                  "http": {"addr": self.host, "secret": "bench"}}
        (root / "config.yml").write_text(json.dumps(config))
        self.log = root / "registry.log"
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(["docker-registry", "serve", str(root / "config.yml")],
                                         stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        _wait_http(f"http://{self.host}/v2/")

    def uploaded_blobs(self) -> list[str]:
        """Digests of blobs committed by upload so far (from the access log)."""
        return ["sha256:" + h for h in _UPLOAD_DONE.findall(self.log.read_text(errors="replace"))]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def _wait_http(url: str, timeout: float = 15.0) -> None:
    import httpx

    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.05)
    raise RuntimeError(f"{url} did not answer")


# ---- image -------------------------------------------------------------------------------------------

def ensure_image(client, size_mb: int, layers: int, workdir: Path) -> str:
    """Build (or reuse) the benchmark image; returns its tag."""
    tag = f"modelport-bench/registry-copy:{size_mb}mb-{layers}l"
    try:
        client.images.get(tag)
        return tag
    except Exception:
        pass
    per_layer = size_mb * (1 << 20) // layers
    context = workdir / "context.tar"
    with tarfile.open(context, "w") as tar:
        dockerfile = "\n".join([f"FROM {BASE_IMAGE}"] + [f"COPY layer{i}.bin /opt/bench/layer{i}.bin"
                                                        for i in range(layers)]).encode()
        _add(tar, "Dockerfile", dockerfile)
        for i in range(layers):
            blob = workdir / f"layer{i}.bin"
            with open(blob, "wb") as fh:
                for _ in range(per_layer // (1 << 20)):
                    fh.write(os.urandom(1 << 20))
            tar.add(blob, arcname=f"layer{i}.bin")
            blob.unlink()
    with open(context, "rb") as fh:
        client.images.build(fileobj=fh, custom_context=True, tag=tag, rm=True, network_mode="host")
    context.unlink()
    return tag


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    import io

    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


# ---- measured runs -------------------------------------------------------------------------------------

def _bytecode_env(workdir: Path) -> dict[str, str]:
    """Python's bytecode cache on, under ``workdir``: pip compiles a user's install, while this
    machine sets PYTHONDONTWRITEBYTECODE and the dev install skips compiling (every run would
    then compile every module it imports). The first trial's runs fill it."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(workdir / "pycache")
    return env


def measure(cmd: list[str], workdir: Path, env: dict[str, str] | None = None) -> dict:
    """Run ``cmd``: wall time, peak RSS in MB, exit code and stdout.

    Peak RSS is the child's own ``VmHWM`` (the high-water mark of its address space), polled from
    /proc until it exits. ``wait4``'s ru_maxrss is not used: Linux carries the RSS of the forked
    copy of *this* process across exec, so every child would appear at least as big as the parent.
    """
    out = tempfile.TemporaryFile(dir=workdir)
    err = tempfile.TemporaryFile(dir=workdir)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu_before = before.ru_utime + before.ru_stime
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=env)
    peak_kb = 0
    while proc.poll() is None:
        peak_kb = max(peak_kb, _vm_hwm_kb(proc.pid))
        time.sleep(0.01)
    wall = time.perf_counter() - start
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = usage.ru_utime + usage.ru_stime - cpu_before
    out.seek(0)
    err.seek(0)
    result = {"wall_s": round(wall, 2), "cpu_s": round(cpu, 2), "peak_rss_mb": round(peak_kb / 1024, 1),
              "exit_code": proc.returncode, "stdout": out.read().decode(errors="replace")}
    if proc.returncode:
        raise RuntimeError(f"{cmd[0]} failed ({proc.returncode}): {err.read().decode(errors='replace')[-2000:]}")
    return result


def _vm_hwm_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError, ValueError):
        pass
    return 0


def run_copy(tool: str, src: str, dest: Registry, sizes: dict[str, int], digest: str, workdir: Path) -> dict:
    """One copy with ``tool`` into ``dest``; adds bytes the destination received and digest check."""
    before = len(dest.uploaded_blobs())
    if tool == "modelport":  # the command a user runs, started as they start it
        cmd = [*MODELPORT, "copy", src, f"{dest.host}/{REPO}", "--output", "json"]
    else:
        cmd = ["skopeo", "copy", "--quiet", "--src-tls-verify=false", "--dest-tls-verify=false",
               f"docker://{src}", f"docker://{dest.host}/{REPO}"]
    result = measure(cmd, workdir, env=_bytecode_env(workdir) if tool == "modelport" else None)
    received = dest.uploaded_blobs()[before:]
    result["blobs_received"] = len(received)
    result["bytes_received"] = sum(sizes.get(d, 0) for d in received)
    if tool == "modelport":
        reported = json.loads(result["stdout"])
        result["bytes_sent_reported"] = reported["bytes_sent"]
        result["bytes_skipped_reported"] = reported["bytes_skipped"]
    result.pop("stdout")
    result["digest_kept"] = _remote_digest(dest.host, digest) == digest
    return result


def _remote_digest(host: str, digest: str) -> str | None:
    import httpx

    from modelport.registry.mediatypes import MANIFEST_ACCEPT

    r = httpx.get(f"http://{host}/v2/{REPO}/manifests/{digest}", headers={"Accept": MANIFEST_ACCEPT})
    return "sha256:" + hashlib.sha256(r.content).hexdigest() if r.status_code == 200 else None


# ---- main -------------------------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size-mb", type=int, default=600)
    parser.add_argument("--layers", type=int, default=6)
    parser.add_argument("--output", choices=["text", "json"], default="text")
    parser.add_argument("--trials", type=int, default=5, help="interleaved repetitions (medians reported)")
    parser.add_argument("--store", help="OCI store to export into (default: a temporary one); a kept "
                                        "store makes re-runs skip compression")
    parser.add_argument("--remove-image", action="store_true", help="delete the benchmark image at the end")
    args = parser.parse_args(argv)
    report = run(args)
    if args.output == "json":
        print(json.dumps(report, indent=2))
    else:
        print_text(report)
    return 0


def run(args) -> dict:
    import docker

    from modelport.registry import OciStore, export_image, push

    client = docker.from_env()
    workdir = Path(tempfile.mkdtemp(prefix="modelport-bench-"))
    registries: list[Registry] = []
    tag = None
    try:
        tag = ensure_image(client, args.size_mb, args.layers, workdir)
        store = OciStore(args.store or workdir / "oci")
        t0 = time.perf_counter()
        image = export_image(client, tag, store)
        export_s = time.perf_counter() - t0
        a = Registry(workdir / "registry-a")
        registries.append(a)
        t0 = time.perf_counter()
        pushed = push(store, image.digest, f"{a.host}/{REPO}:bench")
        push_s = time.perf_counter() - t0
        doc = json.loads(store.read_manifest(image.digest)[0])
        sizes = {d["digest"]: d["size"] for d in [doc["config"], *doc["layers"]]}
        src = f"{a.host}/{REPO}@{image.digest}"
        # untimed: fills the bytecode cache (a cross-repository mount inside A, no bytes moved)
        measure([*MODELPORT, "copy", src, f"{a.host}/warm-up", "--output", "json"], workdir, env=_bytecode_env(workdir))
        trials = [_trial(i, src, sizes, image.digest, workdir, registries) for i in range(args.trials)]
        summary = _summarise(trials)
        return {
            "image": {"tag": tag, "digest": image.digest, "layers": len(doc["layers"]),
                      "blob_bytes": sum(sizes.values()), "export_s": round(export_s, 2),
                      "push_s": round(push_s, 2), "pushed_bytes": pushed.bytes_sent},
            "summary": summary,
            "ratio_wall_modelport_over_skopeo": {
                phase: round(r["modelport"]["median_wall_s"] / max(r["skopeo"]["median_wall_s"], 1e-9), 2)
                for phase, r in summary.items()},
            "trials": trials,
            "skopeo_version": subprocess.run(["skopeo", "--version"], capture_output=True, text=True).stdout.strip(),
            "cpus": os.cpu_count(),
            "load_average_at_end": os.getloadavg(),
        }
    finally:
        for reg in registries:
            reg.stop()
        shutil.rmtree(workdir, ignore_errors=True)
        if tag and args.remove_image:
            client.images.remove(tag, force=True)


def _trial(index: int, src: str, sizes: dict, digest: str, workdir: Path, registries: list) -> dict:
    """Fresh destination registries for each tool; first copy then re-copy; order alternates."""
    tools = ("skopeo", "modelport") if index % 2 == 0 else ("modelport", "skopeo")
    dests = {tool: Registry(workdir / f"dest-{tool}-{index}") for tool in tools}
    registries.extend(dests.values())
    result: dict = {"first_copy": {}, "re_copy": {}}
    try:
        for tool in tools:
            result["first_copy"][tool] = run_copy(tool, src, dests[tool], sizes, digest, workdir)
            result["re_copy"][tool] = run_copy(tool, src, dests[tool], sizes, digest, workdir)
    finally:
        for reg in dests.values():  # free the disk before the next trial
            reg.stop()
            registries.remove(reg)
            shutil.rmtree(reg.root, ignore_errors=True)
    return result


def _summarise(trials: list[dict]) -> dict:
    import statistics

    summary: dict = {}
    for phase in ("first_copy", "re_copy"):
        summary[phase] = {}
        for tool in ("modelport", "skopeo"):
            runs = [t[phase][tool] for t in trials]
            summary[phase][tool] = {
                "median_wall_s": round(statistics.median(r["wall_s"] for r in runs), 2),
                "max_peak_rss_mb": max(r["peak_rss_mb"] for r in runs),
                "median_cpu_s": round(statistics.median(r["cpu_s"] for r in runs), 2),
                "bytes_received": max(r["bytes_received"] for r in runs),
                "digest_kept": all(r["digest_kept"] for r in runs),
            }
    return summary


def print_text(report: dict) -> None:
    img = report["image"]
    print(f"image {img['digest']}  {img['layers']} layers, {img['blob_bytes'] / 1e6:.0f} MB of blobs "
          f"(export {img['export_s']} s, push to A {img['push_s']} s); {len(report['trials'])} trial(s), "
          f"medians shown")
    print(f"{'run':<11}{'tool':<11}{'wall s':>8}{'cpu s':>8}{'peak RSS MB':>13}{'MB received':>13}{'digest kept':>13}")
    for phase, tools in report["summary"].items():
        for tool, r in tools.items():
            print(f"{phase:<11}{tool:<11}{r['median_wall_s']:>8}{r['median_cpu_s']:>8}{r['max_peak_rss_mb']:>13}"
                  f"{r['bytes_received'] / 1e6:>13.1f}{str(r['digest_kept']):>13}")
    print("wall-time ratio modelport/skopeo:", report["ratio_wall_modelport_over_skopeo"])


if __name__ == "__main__":
    sys.exit(main())
