"""Runs one modelport operation through the public Python API and SIGKILLs itself at an exact
journal point, so a test can check what the next command finds. Test code, run as a subprocess:

    python tests/crash/driver.py '{"state": ..., "op": "swap", "spec": ..., "target": ..., ...}'

Kill points (``kill`` + ``at``), numbered by the plan's step index ``i`` (or ``at`` names the
kind of step, e.g. ``"destroy"``: its first occurrence):

* ``before``: in the executor's hook, right before step ``i`` starts (the journal says ``i``
  steps are done). ``at == len(plan)`` kills after the last step was journaled but before the
  operation is marked finished.
* ``after``: step ``i`` ran completely (every cloud call returned, every state record written)
  but the journal write saying so (``step_done``) never happens.
* ``mid``: step ``i``'s cloud call returned but its first state record (revision recorded or
  marked deleted, deployment recorded or forgotten) is not written; only for steps that write one.
* ``begin``: the lock is taken but the operation is not yet journaled (a stale lock, no journal).

Exit status: killed by SIGKILL (-9 to the parent) at the point; 0 with the result as JSON when the
point lies beyond the plan; 1 with the error as JSON when the operation failed.
"""

from __future__ import annotations

import json
import os
import signal
import sys

from modelport import api
from modelport.engine.session import Session
from modelport.errors import ModelportError
from modelport.provider import ImageRef
from modelport.state import StateStore


def die() -> None:
    """SIGKILL this process: no finally block, no atexit, no flush runs."""
    os.kill(os.getpid(), signal.SIGKILL)


class KillingStore(StateStore):
    """The real state store, which kills the process at the chosen write."""

    def __init__(self, path: str, kill: str | None, at: int | None) -> None:
        super().__init__(path)
        self.kill, self.at = kill, at
        self.step: int | None = None  # the step the executor is running (set by the hook)

    def on_step(self, index: int, step) -> None:
        if step.op == self.at:  # ``at`` may name the step's kind instead of its index
            self.at = index
        self.step = index
        if self.kill == "before" and index == self.at:
            die()

    def _armed(self, mode: str) -> bool:
        return self.kill == mode and self.step == self.at

    def _record(self) -> None:
        if self._armed("mid"):
            die()

    def begin_operation(self, *args, **kwargs) -> int:
        if self.kill == "begin":
            die()
        return super().begin_operation(*args, **kwargs)

    def step_done(self, op: int, done: int, context=None) -> None:
        if self._armed("after") or self._armed("mid"):
            die()
        super().step_done(op, done, context)

    def finish_operation(self, op: int, status: str, error: str | None = None) -> None:
        if self.kill == "before" and self.at == len(self.operation(op).plan):
            die()
        super().finish_operation(op, status, error)

    def record_revision(self, *args, **kwargs) -> None:
        self._record()
        super().record_revision(*args, **kwargs)

    def mark_revision_deleted(self, *args, **kwargs) -> None:
        self._record()
        super().mark_revision_deleted(*args, **kwargs)

    def record_deployment(self, *args, **kwargs) -> None:
        self._record()
        super().record_deployment(*args, **kwargs)

    def forget_deployment(self, *args, **kwargs) -> None:
        self._record()
        super().forget_deployment(*args, **kwargs)


def run(job: dict) -> dict:
    """Run the operation ``job`` describes; returns the result as a dict."""
    store = KillingStore(job["state"], job.get("kill"), job.get("at"))
    session = Session(state=store, before_step=store.on_step)
    op = job["op"]
    if op in ("deploy", "swap") and job.get("image"):
        # the image was built once by the test: deploy exactly it (a build per kill point would
        # only make the matrix slower; the build happens before the journal starts anyway)
        loaded = api.validate(job["spec"], session)
        image = ImageRef(job["image"]["digest"], job["image"]["image_id"])
        result = api.deploy_image(loaded, job["target"], image, strategy=job.get("strategy"), steps=job.get("steps"),
                                  session=session, kind=op)
    elif op == "deploy":
        result = api.deploy(job["spec"], job["target"], strategy=job.get("strategy"), steps=job.get("steps"),
                            session=session)
    elif op == "swap":
        result = api.swap(job["spec"], job["target"], strategy=job["strategy"], steps=job.get("steps"), session=session)
    elif op == "migrate":
        result = api.migrate(job["name"], job["source"], job["target"], retire_source=job.get("retire_source", False),
                             spec=job["spec"], session=session)
    else:
        raise SystemExit(f"unknown op {op!r}")
    return result.to_dict()


def main(argv: list[str]) -> int:
    job = json.loads(argv[0])
    try:
        out = run(job)
    except ModelportError as exc:
        print(json.dumps(exc.to_dict()))
        return 1
    print(json.dumps(out, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
