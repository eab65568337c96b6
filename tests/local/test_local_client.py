"""The local provider's Docker reads on an engine that other processes change at the same time."""

from __future__ import annotations

import threading
import uuid

from modelport_providers.local.client import L_ADDRESS, L_DEPLOYMENT, L_TARGET, DockerClient


def test_listing_survives_containers_removed_by_another_process(docker_host, docker_client, base_image):
    """The SDK inspects each container a list names; one removed in between (another modelport
    process, or another deployment's destroy) must be skipped, not fail the list with NotFound.
    Unpatched, create_revision failed this way in a full suite run (all_addresses)."""
    target = f"churn-{uuid.uuid4().hex[:8]}"
    kept = docker_client.containers.create(base_image, command=["true"], name=f"{target}-kept",
                                           labels={L_ADDRESS: "127.9.9.1", L_TARGET: target,
                                                   L_DEPLOYMENT: "kept"})
    stop = threading.Event()

    def churn():
        while not stop.is_set():
            other = docker_client.containers.create(base_image, command=["true"],
                                                    labels={L_ADDRESS: "127.9.9.2", L_TARGET: target,
                                                            L_DEPLOYMENT: "churn"})
            other.remove(force=True)

    churners = [threading.Thread(target=churn) for _ in range(2)]
    for thread in churners:
        thread.start()
    client = DockerClient(docker_host)
    try:
        for _ in range(60):
            assert "127.9.9.1" in client.all_addresses()
            assert [c.name for c in client.containers(target, "kept")] == [kept.name]
            assert kept.name in {c.name for c in client.containers(target)}
    finally:
        stop.set()
        for thread in churners:
            thread.join()
        kept.remove(force=True)
