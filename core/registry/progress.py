"""Transfer progress: a callback protocol and a ``rich`` progress bar built on it.

A transfer calls ``progress(event)`` for every blob it handles. Blobs are sent concurrently, so
callbacks may arrive from worker threads; :class:`RichProgress` is thread-safe.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Callable, Literal

EventKind = Literal["start", "skip", "mount", "bytes", "rewind", "done"]


@dataclass(frozen=True)
class ProgressEvent:
    """One step of one blob.

    ``start``: upload begins (``size`` is the blob size); ``skip``: the destination already has it;
    ``mount``: mounted from another repository of the same registry; ``bytes``: ``nbytes`` more
    were sent; ``rewind``: an attempt failed and will be retried, so the ``nbytes`` it reported
    no longer count; ``done``: the blob is committed at the destination.
    """

    kind: EventKind
    digest: str
    size: int
    nbytes: int = 0


ProgressCallback = Callable[[ProgressEvent], None]


def emit(callback: ProgressCallback | None, kind: EventKind, digest: str, size: int, nbytes: int = 0) -> None:
    """Send an event to ``callback`` if there is one."""
    if callback is not None:
        callback(ProgressEvent(kind, digest, size, nbytes))


class RichProgress:
    """A one-line ``rich`` bar: bytes handled of the total, with bytes sent and skipped.

    Use as a context manager and pass the object itself as the ``progress`` callback::

        with RichProgress("copy") as bar:
            copy(src, dest, progress=bar)
    """

    def __init__(self, description: str = "transfer", console=None) -> None:
        from rich.progress import (BarColumn, DownloadColumn, Progress, TextColumn,
                                   TransferSpeedColumn)

        self._lock = threading.Lock()
        self.sent = 0
        self.skipped = 0
        self._progress = Progress(
            TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
            TextColumn("sent {task.fields[sent]} · skipped {task.fields[skipped]}"),
            console=console, transient=False,
        )
        self._task = self._progress.add_task(description, total=0, sent="0 B", skipped="0 B")

    def __enter__(self) -> "RichProgress":
        self._progress.start()
        return self

    def __exit__(self, *exc) -> None:
        self._progress.stop()

    def __call__(self, event: ProgressEvent) -> None:
        """Update the bar from one event."""
        with self._lock:
            total_add, advance = self._apply(event)
            task = self._progress.tasks[0]
            self._progress.update(
                self._task, total=(task.total or 0) + total_add, advance=advance,
                sent=_human(self.sent), skipped=_human(self.skipped),
            )

    def _apply(self, event: ProgressEvent) -> tuple[int, int]:
        if event.kind in ("skip", "mount"):
            self.skipped += event.size
            return event.size, event.size
        if event.kind == "start":
            return event.size, 0
        if event.kind == "bytes":
            self.sent += event.nbytes
            return 0, event.nbytes
        if event.kind == "rewind":
            self.sent -= event.nbytes
            return 0, -event.nbytes
        return 0, 0


def _human(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} GB"
