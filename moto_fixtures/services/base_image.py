"""The offline Python 3.11 base image ``modelport-base:bookworm`` (debootstrap + docker import).

No public registry is reachable, so nothing can be pulled: the image is a debootstrapped
Debian bookworm (minbase + python3) imported as a single layer.  The trimmed rootfs tarball is
cached, so only the first run on a machine pays for debootstrap (~40 s).
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

import docker

from moto_fixtures.services._procs import ServiceError, log_tail

BASE_IMAGE = "modelport-base:bookworm"
CACHE_DIR = Path(os.environ.get("MODELPORT_TEST_CACHE", "/var/cache/modelport-test"))
_SUITE = "bookworm"
# Not needed to run Python in a container; dropping them takes the image from ~260 to ~120 MB.
_TRIM = ["var/cache/apt/archives", "var/lib/apt/lists", "usr/share/doc", "usr/share/man",
         "usr/share/info", "usr/share/locale", "var/log"]


def ensure_base_image(client: docker.DockerClient, name: str = BASE_IMAGE,
                      log: Callable[[str], None] = lambda _m: None) -> str:
    """Make sure the engine behind ``client`` has ``name``; build/import it if missing.

    Returns ``name``.  Safe to call from several processes at once (a file lock serialises the
    build; the second caller imports the cached tarball).
    """
    if _has_image(client, name):
        return name
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    tarball = CACHE_DIR / f"base-{_SUITE}.tar"
    with open(CACHE_DIR / f"base-{_SUITE}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not tarball.exists():
            log(f"building {name} rootfs with debootstrap (first run on this machine, ~1 min)")
            build_rootfs_tarball(tarball)
        if not _has_image(client, name):
            log(f"importing {tarball} as {name}")
            repository, tag = name.rsplit(":", 1) if ":" in name.split("/")[-1] else (name, "latest")
            client.api.import_image_from_file(str(tarball), repository=repository, tag=tag,
                                              changes=['CMD ["python3"]'])
    if not _has_image(client, name):
        raise ServiceError(f"importing {tarball} did not produce {name}")
    return name


def build_rootfs_tarball(dest: Path, mirror: str | None = None) -> None:
    """debootstrap a minimal bookworm with python3, trim it and tar it to ``dest`` (atomically)."""
    mirror = mirror or debian_mirror()
    work = Path(tempfile.mkdtemp(prefix="rootfs-", dir=dest.parent))
    rootfs, log_path = work / "rootfs", dest.parent / "debootstrap.log"
    try:
        _run([_debootstrap(), "--variant=minbase", "--include=python3", _SUITE, str(rootfs),
              mirror], log_path, what="debootstrap")
        for rel in _TRIM:
            _empty_dir(rootfs / rel)
        partial = dest.with_suffix(".tar.partial")
        _run(["tar", "--numeric-owner", "-C", str(rootfs), "-cf", str(partial), "."],
             log_path, what="tar")
        partial.rename(dest)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def debian_mirror() -> str:
    """The Debian mirror this machine's apt uses (deb822 .sources first, then sources.list)."""
    sources = sorted(Path("/etc/apt/sources.list.d").glob("*.sources"))
    for path in sources:
        for stanza in path.read_text().split("\n\n"):
            uris = re.search(r"^URIs:\s*(\S+)", stanza, re.M)
            suites = re.search(r"^Suites:\s*(.+)$", stanza, re.M)
            if uris and suites and _SUITE in suites.group(1).split():
                return uris.group(1)
    for path in [Path("/etc/apt/sources.list"), *Path("/etc/apt/sources.list.d").glob("*.list")]:
        if path.exists():
            match = re.search(rf"^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+{_SUITE}\s", path.read_text(), re.M)
            if match:
                return match.group(1)
    return "http://deb.debian.org/debian"


def _has_image(client: docker.DockerClient, name: str) -> bool:
    try:
        client.images.get(name)
        return True
    except docker.errors.ImageNotFound:
        return False


def _empty_dir(path: Path) -> None:
    if path.is_dir():
        for child in path.iterdir():
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child)
            else:
                child.unlink()


def _run(argv: list[str], log_path: Path, what: str) -> None:
    with open(log_path, "ab") as log:
        result = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
    if result.returncode != 0:
        raise ServiceError(f"{what} failed (exit {result.returncode}); log {log_path}:\n"
                           f"{log_tail(log_path)}")


def _debootstrap() -> str:
    path = shutil.which("debootstrap") or ("/usr/sbin/debootstrap"
                                           if os.path.exists("/usr/sbin/debootstrap") else None)
    if path is None:
        raise ServiceError("debootstrap is not installed: apt-get install -y debootstrap "
                           "(scripts/bootstrap.sh does it)")
    return path
