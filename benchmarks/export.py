"""Benchmark: exporting a fresh image into the OCI store against compressing its layers once.

What it does, in one run:
1. builds the iris example's image with modelport (its own MODELPORT_HOME), and on top of it
   one layer of ``--weights-mb`` random bytes (model weights do not compress);
2. ``docker save``s that image and unpacks its layer tars to a temporary folder (not timed);
3. times, ``--trials`` times each and interleaved: ``gzip -6`` of each layer tar one after the
   other (the single-stream reference the goal is stated against), ``pigz -6`` of the same
   files (all cores), and modelport's export of the image into a fresh, empty OCI store (no
   layer cached; the engine's save stream included);
4. reports the medians, the ratios export/gzip and export/pigz, the compressed sizes, and
   whether every export gave the same manifest digest (it must: the digest is the image).

Usage (needs the private Docker engine as scripts/test.sh starts it, and pigz)::

    DOCKER_HOST=unix:///…/docker.sock .venv/bin/python benchmarks/export.py [--trials 5]
        [--weights-mb 200] [--output json]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def build_image(client, work: Path, weights_mb: int) -> str:
    """The iris image built by modelport, plus one incompressible layer; returns its image ID."""
    import modelport.api as mp

    project = work / "iris"
    shutil.copytree(ROOT / "examples" / "iris", project, ignore=shutil.ignore_patterns("train.py", "__pycache__"))
    built = mp.build(project)
    if not weights_mb:
        return built.image_id
    context = io.BytesIO()
    with tarfile.open(fileobj=context, mode="w") as tar:
        dockerfile = f"FROM {built.image_id}\nCOPY weights.bin /opt/modelport/model/weights.bin\n".encode()
        for name, data in (("Dockerfile", dockerfile), ("weights.bin", os.urandom(weights_mb << 20))):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    context.seek(0)
    image, _ = client.images.build(fileobj=context, custom_context=True, rm=True, network_mode="none")
    return image.id


def layer_tars(client, image_id: str, dest: Path) -> list[Path]:
    """The image's layer tars, unpacked from ``docker save`` in rootfs order."""
    with tempfile.TemporaryFile(dir=dest) as saved:
        for chunk in client.images.get(image_id).save(chunk_size=1 << 20):
            saved.write(chunk)
        saved.seek(0)
        with tarfile.open(fileobj=saved) as tar:
            manifest = json.load(tar.extractfile("manifest.json"))
            paths = []
            for i, name in enumerate(manifest[0]["Layers"]):
                member = tar.getmember(name)
                while member.issym():  # newer engines link repeated layers
                    member = tar.getmember(os.path.normpath(os.path.join(os.path.dirname(member.name),
                                                                         member.linkname)))
                path = dest / f"layer{i}.tar"
                with tar.extractfile(member) as src, open(path, "wb") as out:
                    shutil.copyfileobj(src, out, 1 << 20)
                paths.append(path)
    return paths


def compress_all(tool: list[str], layers: list[Path]) -> tuple[float, int]:
    """Wall seconds and output bytes of ``tool`` over each layer tar, one after another."""
    start, size = time.perf_counter(), 0
    for layer in layers:
        with open(layer, "rb") as src:
            proc = subprocess.run([*tool, "-c"], stdin=src, stdout=subprocess.PIPE, check=True)
        size += len(proc.stdout)
    return time.perf_counter() - start, size


def export_once(client, image_id: str, work: Path) -> tuple[float, int, str]:
    """Wall seconds, blob bytes and manifest digest of one export into an empty store."""
    from modelport.image.image import EXPORT_LEVEL
    from modelport.registry import OciStore, export_image

    root = work / "store"
    shutil.rmtree(root, ignore_errors=True)
    store = OciStore(root)
    start = time.perf_counter()
    exported = export_image(client, image_id, store, compresslevel=EXPORT_LEVEL)
    wall = time.perf_counter() - start
    size = sum(layer.size for layer in exported.layers)
    shutil.rmtree(root)
    return wall, size, exported.digest


def run(args) -> dict:
    """Build, unpack, time each way ``args.trials`` times; the report as a dict."""
    import docker

    client = docker.from_env()
    with tempfile.TemporaryDirectory(prefix="mp-export-") as tmp:
        work = Path(tmp)
        os.environ["MODELPORT_HOME"] = str(work / "home")
        image_id = build_image(client, work, args.weights_mb)
        layers = layer_tars(client, image_id, work)
        raw = sum(p.stat().st_size for p in layers)
        times: dict[str, list[float]] = {"gzip -6": [], "pigz -6": [], "modelport export": []}
        sizes, digests = {}, set()
        for _ in range(args.trials):
            times["gzip -6"].append((result := compress_all(["gzip", "-6"], layers))[0])
            sizes["gzip -6"] = result[1]
            times["pigz -6"].append((result := compress_all(["pigz", "-6"], layers))[0])
            sizes["pigz -6"] = result[1]
            wall, size, digest = export_once(client, image_id, work)
            times["modelport export"].append(wall)
            sizes["modelport export"] = size
            digests.add(digest)
    medians = {name: statistics.median(v) for name, v in times.items()}
    return {"trials": args.trials, "layers": len(layers), "uncompressed_mb": round(raw / 1e6, 1),
            "cores": os.cpu_count(), "load_average": os.getloadavg(),
            "medians_s": {k: round(v, 2) for k, v in medians.items()},
            "runs_s": {k: [round(x, 2) for x in v] for k, v in times.items()},
            "compressed_mb": {k: round(v / 1e6, 1) for k, v in sizes.items()},
            "ratio_export_to_gzip": round(medians["modelport export"] / medians["gzip -6"], 2),
            "ratio_export_to_pigz": round(medians["modelport export"] / medians["pigz -6"], 2),
            "digest_identical": len(digests) == 1}


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its table (or JSON)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--weights-mb", type=int, default=200, help="size of the incompressible layer (0: none)")
    parser.add_argument("--output", choices=["text", "json"], default="text")
    args = parser.parse_args(argv)
    if not os.environ.get("DOCKER_HOST"):
        parser.error("set DOCKER_HOST to the private engine (see the module docstring)")
    if not shutil.which("pigz"):
        parser.error("pigz is not installed (apt-get install pigz)")
    report = run(args)
    if args.output == "json":
        print(json.dumps(report, indent=2))
        return 0
    print(f"{report['layers']} layers, {report['uncompressed_mb']} MB uncompressed; medians of {report['trials']}; "
          f"{report['cores']} cores, load average {report['load_average'][0]:.1f}")
    for name, secs in report["medians_s"].items():
        print(f"  {name:18} {secs:7.2f} s  {report['compressed_mb'][name]:8.1f} MB")
    print(f"export / gzip -6: {report['ratio_export_to_gzip']}   export / pigz -6: {report['ratio_export_to_pigz']}"
          f"   same digest every export: {report['digest_identical']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
