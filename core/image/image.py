"""Build the one image of a model with the Docker SDK, and give it its content identity.

``build_image`` assembles a context (dependencies as wheels, the serving runtime, the model),
builds it, then exports the result to modelport's local OCI store so the image has a manifest
digest before it reaches any registry: that digest is the image's identity everywhere.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

from .. import __version__
from ..errors import BuildError
from ..spec import LoadedSpec
from . import cache, dockerfile
from .wheels import ARCH, Platform, download_wheels

Progress = Callable[[str], None]
RUNTIME_SRC = Path(__file__).resolve().parent.parent / "runtime"

LABEL_PREFIX = "io.modelport"
# gzip level of exported layers: level 1 compresses ~3x faster than level 6 for a few percent more
# bytes; fixed, so the same layer always gives the same blob digest.
EXPORT_LEVEL = 1


@dataclass(frozen=True)
class BuildResult:
    """What ``build`` made: a local tag, the engine's image ID and the OCI manifest digest."""

    ref: str
    image_id: str
    digest: str
    layers: tuple[str, ...]
    labels: dict[str, str] = field(default_factory=dict)
    size: int = 0
    cached: bool = False  # reused from the build cache: nothing was built or exported
    export_seconds: float = 0.0  # time spent exporting to the OCI store

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields (``cached`` is left out: the same image either way)."""
        return {"ref": self.ref, "digest": self.digest, "image_id": self.image_id,
                "layers": list(self.layers), "labels": self.labels, "size": self.size}


def sha256_path(path: Path) -> str:
    """sha256 of a file, or of a folder's files (names and contents, in sorted order)."""
    digest = hashlib.sha256()
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    for file in files:
        if path.is_dir():
            digest.update(str(file.relative_to(path)).encode() + b"\0")
        with file.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
    return "sha256:" + digest.hexdigest()


def image_labels(loaded: LoadedSpec, artifact_sha: str) -> dict[str, str]:
    """OCI annotations plus modelport's own labels. No build time: the same inputs must give the
    same image (and digest), so an unchanged spec plans nothing."""
    model = loaded.spec.model
    return {
        "org.opencontainers.image.title": model.name,
        "org.opencontainers.image.version": model.version,
        "org.opencontainers.image.description": f"{model.name} {model.version} ({model.framework}) served by modelport",
        "org.opencontainers.image.vendor": "modelport",
        "org.opencontainers.image.base.name": loaded.spec.build.base_image,
        f"{LABEL_PREFIX}.model.name": model.name,
        f"{LABEL_PREFIX}.model.version": model.version,
        f"{LABEL_PREFIX}.model.framework": model.framework,
        f"{LABEL_PREFIX}.model.sha256": artifact_sha,
        f"{LABEL_PREFIX}.spec.hash": "sha256:" + loaded.spec_hash(),
        f"{LABEL_PREFIX}.version": __version__,
    }


def image_env(loaded: LoadedSpec) -> dict[str, str]:
    """Runtime configuration baked into the image (secrets never are)."""
    model = loaded.spec.model
    env = {
        "MODELPORT_MODEL_NAME": model.name,
        "MODELPORT_MODEL_VERSION": model.version,
        "MODELPORT_FRAMEWORK": model.framework,
        "MODELPORT_MODEL_PATH": f"{dockerfile.APP}/model/{Path(model.path).name}",
        "MODELPORT_WORKERS": str(loaded.spec.serving.workers),
    }
    if model.predict:
        env["MODELPORT_PREDICT_FILE"] = f"{dockerfile.APP}/model/{Path(model.predict).name}"
    if loaded.spec.serving.max_batch_size:  # batching is off unless the spec turns it on
        env["MODELPORT_MAX_BATCH_SIZE"] = str(loaded.spec.serving.max_batch_size)
        env["MODELPORT_MAX_BATCH_DELAY_MS"] = str(loaded.spec.serving.max_batch_delay_ms)
    return env


def probe_platform(client, base_image: str, platform: str, progress: Progress) -> Platform:
    """Architecture, glibc and Python version of the base image (pulled if missing)."""
    image = _ensure_base(client, base_image, progress)
    arch = ARCH[platform]
    script = ("import platform,sys;l=platform.libc_ver()[1].split('.');"
              "print(l[0],l[1],sys.version_info[0],sys.version_info[1])")
    try:
        out = client.containers.run(image.id, ["python3", "-c", script], remove=True,
                                    network_mode="none", entrypoint=[])
    except Exception as exc:
        raise BuildError(f"base image {base_image!r} cannot run python3: {exc}",
                         hint="build.base_image must provide python3 (3.9 or newer)") from None
    gmaj, gmin, pmaj, pmin = (int(x) for x in out.decode().split())
    return Platform(arch, (gmaj, gmin), (pmaj, pmin))


def _ensure_base(client, base_image: str, progress: Progress):
    import docker.errors

    try:
        return client.images.get(base_image)
    except docker.errors.ImageNotFound:
        pass
    progress(f"pulling base image {base_image}")
    try:
        return client.images.pull(base_image)
    except docker.errors.APIError as exc:
        raise BuildError(f"base image {base_image!r} is not on the engine and cannot be pulled: "
                         f"{exc.explanation or exc}",
                         hint="set build.base_image to an image the engine has, or load it first") from None


def assemble_context(loaded: LoadedSpec, deps: Path, dest: Path, labels: dict[str, str]) -> None:
    """Write the build context: Dockerfile, deps/, runtime/, model/."""
    spec = loaded.spec
    shutil.copytree(deps, dest / "deps", ignore=shutil.ignore_patterns(".complete", ".digest"))
    shutil.copytree(RUNTIME_SRC, dest / "runtime", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    model_dir = dest / "model"
    model_dir.mkdir()
    src = loaded.model_path
    if src.is_dir():
        shutil.copytree(src, model_dir / src.name)
    else:
        shutil.copy2(src, model_dir / src.name)
    if spec.model.predict:
        shutil.copy2(loaded.resolve(spec.model.predict), model_dir / Path(spec.model.predict).name)
    text = dockerfile.render(spec.build.base_image, labels, image_env(loaded), spec.serving.port)
    (dest / "Dockerfile").write_text(text)


def requirements_for(loaded: LoadedSpec) -> list[str]:
    """The runtime's own requirements for the framework plus the spec's."""
    from ..runtime.requirements import runtime_requirements

    return [*runtime_requirements(loaded.spec.model.framework), *loaded.spec.serving.requirements]


def build_image(client, loaded: LoadedSpec, progress: Progress = lambda _msg: None,
                store=None) -> BuildResult:
    """Build the model image on ``client``'s engine and export it to the OCI store, unless an
    image with exactly these inputs was built before and is still there (see :mod:`.cache`)."""
    spec = loaded.spec
    progress(f"probing base image {spec.build.base_image}")
    base = _ensure_base(client, spec.build.base_image, progress)
    platform = _platform(client, base, spec.build.base_image, spec.build.platform)
    deps = download_wheels(requirements_for(loaded), platform)
    artifact_sha = sha256_path(loaded.model_path)
    labels = image_labels(loaded, artifact_sha)
    inputs = build_inputs(loaded, base.id, platform, deps, labels, artifact_sha)
    key = inputs.key()
    reused = _reuse(client, key, store)
    if reused is not None:
        progress(f"inputs unchanged since the last build: reusing {reused.digest}")
        return reused
    tag = f"modelport/{spec.model.name}:{spec.model.version}"
    with tempfile.TemporaryDirectory(prefix="modelport-build-") as tmp:
        assemble_context(loaded, deps, Path(tmp), labels)
        image_id = _docker_build(client, tmp, tag, progress)
    image = client.images.get(image_id)
    progress("recording the image's content digest")
    t0 = time.monotonic()
    digest = _export_digest(client, image_id, store)
    result = BuildResult(ref=tag, image_id=image_id, digest=digest,
                         layers=tuple(image.attrs["RootFS"]["Layers"]), labels=labels,
                         size=int(image.attrs.get("Size", 0)), export_seconds=round(time.monotonic() - t0, 3))
    cache.record(key, result.to_dict())
    return result


def build_inputs(loaded: LoadedSpec, base_image_id: str, platform: Platform, deps: Path,
                 labels: dict[str, str], artifact_sha: str) -> cache.BuildInputs:
    """The cache key's inputs: what :func:`assemble_context` writes, plus the base image's ID."""
    spec = loaded.spec
    predict = sha256_path(loaded.resolve(spec.model.predict)) if spec.model.predict else ""
    return cache.BuildInputs(
        dockerfile=dockerfile.render(spec.build.base_image, labels, image_env(loaded), spec.serving.port),
        base_image_id=base_image_id, runtime=cache.runtime_digest(RUNTIME_SRC),
        model=f"{Path(spec.model.path).name}/{artifact_sha}", predict=predict,
        dependencies=cache.dependencies_digest(deps), platform=json.dumps(asdict(platform)))


def _reuse(client, key: str, store) -> BuildResult | None:
    """The recorded result for ``key`` if its manifest and blobs are still in the OCI store and
    its image is still on the engine (a pruned engine or store means building again)."""
    from ..registry import OciStore

    entry = cache.lookup(key)
    if entry is None:
        return None
    store = store or OciStore()
    if not store.has_blob(entry["digest"]):
        return None
    with store.open_blob(entry["digest"]) as handle:
        manifest = json.loads(handle.read())
    blobs = [manifest["config"], *manifest["layers"]]
    if not all(store.has_blob(b["digest"]) for b in blobs) or not _on_engine(client, entry["image_id"]):
        return None
    repository, tag = entry["ref"].rsplit(":", 1)
    client.api.tag(entry["image_id"], repository, tag)  # the tag may have moved to another build since
    return BuildResult(ref=entry["ref"], image_id=entry["image_id"], digest=entry["digest"],
                       layers=tuple(entry["layers"]), labels=entry["labels"], size=entry["size"], cached=True)


def _on_engine(client, image_id: str) -> bool:
    import docker.errors

    try:
        client.api.inspect_image(image_id)
        return True
    except docker.errors.ImageNotFound:
        return False


def _platform(client, base, base_image: str, platform: str) -> Platform:
    """What ``base`` runs; probed with a container once per base image ID, then cached."""
    known = cache.cached_platform(base.id)
    if known is None:
        probed = probe_platform(client, base_image, platform, lambda _m: None)
        known = {"glibc": list(probed.glibc), "python": list(probed.python)}
        cache.remember_platform(base.id, known)
    return Platform(ARCH[platform], tuple(known["glibc"]), tuple(known["python"]))


def _docker_build(client, context: str, tag: str, progress: Progress) -> str:
    import docker.errors

    image_id, last_error, log = None, None, []
    try:
        for chunk in client.api.build(path=context, tag=tag, rm=True, forcerm=True,
                                      network_mode="none", decode=True, labels=None):
            if "stream" in chunk:
                line = chunk["stream"].strip()
                if line:
                    log.append(line)
                    if line.startswith("Step ") or line.startswith("---> Using cache"):
                        progress(line)
            if "aux" in chunk and "ID" in chunk["aux"]:
                image_id = chunk["aux"]["ID"]
            if "error" in chunk:
                last_error = chunk["error"].strip()
    except docker.errors.APIError as exc:
        raise BuildError(f"docker build failed: {exc.explanation or exc}") from None
    if last_error or not image_id:
        tail = "\n".join(log[-8:])
        raise BuildError(f"docker build failed: {last_error or 'no image produced'}\n{tail}")
    return image_id


def _export_digest(client, image_id: str, store) -> str:
    from ..registry import OciStore, export_image

    return export_image(client, image_id, store or OciStore(), compresslevel=EXPORT_LEVEL).digest
