"""`modelport push` and `modelport copy` through the CLI against two real registries."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from .conftest import make_project


def run(*args, env):
    proc = subprocess.run([sys.executable, "-m", "modelport", *args, "-o", "json"], capture_output=True,
                          text=True, env=env, timeout=900)
    return proc.returncode, (json.loads(proc.stdout) if proc.stdout.strip() else {}), proc.stderr


def test_push_then_copy_keeps_digest_and_recopy_sends_nothing(tmp_path, docker_host, base_image, registry,
                                                               registry_b, auth_registry, modelport_home):
    env = {**os.environ, "DOCKER_HOST": docker_host, "MODELPORT_HOME": str(modelport_home),
           "MODELPORT_STATE": str(tmp_path / "state.db")}
    project = make_project(tmp_path / "p", "iris", "pushme",
                           extra=f'\n[targets.mirror]\nprovider = "local"\nregistry = "{registry.host}/models"\n'
                                 f'\n[targets.mirror_b]\nprovider = "local"\nregistry = "{registry_b.host}/promoted"\n')
    code, built, err = run("build", str(project), env=env)
    assert code == 0, err
    code, pushed, err = run("push", str(project), "--to", "mirror", env=env)
    assert code == 0, err
    assert pushed["digest"] == built["digest"]
    src = f"{registry.host}/models/pushme@{built['digest']}"
    code, copied, err = run("copy", src, f"{registry_b.host}/copies/iris", env=env)
    assert code == 0, err
    assert copied["digest"] == built["digest"] and copied["bytes_sent"] > 0
    code, again, err = run("copy", src, f"{registry_b.host}/copies/iris", env=env)
    assert code == 0 and again["bytes_sent"] == 0 and again["blobs_sent"] == 0
    # a registry that needs credentials: refused without, accepted with, and the password never shows
    dest = f"{auth_registry.host}/copies/iris"
    code, refused, err = run("copy", src, dest, env=env)
    assert code == 1 and refused["error"] == "RegistryAuthError"
    env_auth = {**env, "MODELPORT_DEST_USERNAME": auth_registry.username,
                "MODELPORT_DEST_PASSWORD": auth_registry.password}
    proc = subprocess.run([sys.executable, "-m", "modelport", "copy", src, dest, "-o", "json"],
                          capture_output=True, text=True, env=env_auth, timeout=900)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["digest"] == built["digest"]
    assert auth_registry.password not in proc.stdout + proc.stderr + refused.__repr__() + err
    # a local target without a registry is bad input
    code, bad, err = run("push", str(project), "--to", "dev", env=env)
    assert code == 2 and "has no image registry" in bad["message"]
    # promote by digest between registries: the plan copies the serving image from A to B
    code, deployed, err = run("deploy", str(project), "--to", "mirror", "--events", "none", env=env)
    assert code == 0 and deployed["image"]["digest"] == built["digest"], err
    try:
        code, planned, err = run("plan", "--for", "promote", "--name", "pushme", "--from", "mirror",
                                 "--to", "mirror_b", "--detailed-exitcode", env=env)
        assert code == 10, err
        copies = [s for s in planned["steps"] if s["op"] == "copy_image"]
        assert [(c["source_ref"], c["repository"]) for c in copies] == [
            (f"{registry.host}/models/pushme@{built['digest']}", f"{registry_b.host}/promoted/pushme")]
        unknown = "sha256:" + "f" * 64
        code, refused, err = run("deploy", str(project), "--to", "mirror_b", "--image", unknown, env=env)
        assert code == 2 and refused["error"] == "ImageNotFound"
    finally:
        run("destroy", "pushme", "--to", "mirror", env=env)
