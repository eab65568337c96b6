"""Image steps of a plan: push from the local OCI store, or copy between registries, by digest."""

from __future__ import annotations

from ..errors import ProviderError


class ImageMover:
    """Carries out ``push_image`` / ``copy_image`` steps. Credentials come from the providers at
    execution time; plans only name repositories."""

    def __init__(self, report=lambda _m: None, progress_factory=None) -> None:
        self.report = report
        self.progress_factory = progress_factory

    def _progress(self, title: str):
        from contextlib import nullcontext

        return self.progress_factory(title) if self.progress_factory else nullcontext(None)

    def push(self, binding, deployment: str, digest: str) -> None:
        """Push image ``digest`` from the local OCI store to the registry of ``binding``'s target."""
        from ..registry import OciStore, push

        provider, target = binding
        dest = provider.registry(target, deployment)
        store = OciStore()
        if not store.has_blob(digest):
            if image_present(dest, digest):  # pushed before (e.g. by the machine that was killed): done
                self.report(f"{dest.repository}@{digest[:19]} is already in the registry: nothing to push")
                return
            raise ProviderError(provider.name, "push image", f"{digest} is not in the local image store {store.root}",
                                hint="build the image on this machine first (modelport build)")
        with self._progress(f"push {dest.repository}") as bar:
            result = push(store, digest, dest.repository, auth=dest.auth, progress=bar)
        self.report(f"pushed {result.blobs_sent} blob(s) ({result.bytes_sent} bytes), "
                    f"skipped {result.blobs_skipped} already there")

    def copy(self, binding, source, deployment: str, source_ref: str) -> None:
        """Copy ``source_ref`` from the registry of ``source``'s target to ``binding``'s, by digest."""
        from ..registry import copy

        provider, target = binding
        dest = provider.registry(target, deployment)
        src_provider, src_target = source
        src = src_provider.registry(src_target, deployment)
        with self._progress(f"copy to {dest.repository}") as bar:
            result = copy(source_ref, dest.repository, src_auth=src.auth if src else None,
                          dest_auth=dest.auth, progress=bar)
        self.report(f"copied {result.blobs_sent} blob(s) ({result.bytes_sent} bytes), "
                    f"skipped {result.blobs_skipped} already there")


def image_present(dest, digest: str) -> bool:
    """Read-only: does the registry repository already hold the manifest ``digest``?"""
    from ..registry.client import RegistryClient
    from ..registry.reference import parse_reference

    ref = parse_reference(f"{dest.repository}@{digest}")
    try:
        with RegistryClient(ref.registry, ref.repository, dest.auth) as client:
            return client.manifest_exists(digest)
    except Exception:
        return False
