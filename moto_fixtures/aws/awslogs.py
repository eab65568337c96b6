"""The ``awslogs`` log driver: a task's output goes to CloudWatch Logs in moto.

As on Fargate, the task cannot start when its log group does not exist (unless the driver's
``awslogs-create-group`` option is ``"true"``); the stream is ``PREFIX/CONTAINER/TASK_ID``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from .taskdef import TaskStartError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LogTarget:
    """Where one task's container output goes."""

    group: str
    stream: str


def log_target(options: dict[str, str], container_name: str, task_id: str) -> LogTarget:
    """The group and stream the awslogs driver writes to for this task."""
    group = options.get("awslogs-group")
    if not group:
        raise TaskStartError("ResourceInitializationError: failed to validate logger args: "
                             "awslogs-group is required")
    prefix = options.get("awslogs-stream-prefix")
    stream = f"{prefix}/{container_name}/{task_id}" if prefix else task_id
    return LogTarget(group, stream)


def prepare(logs, options: dict[str, str], target: LogTarget) -> None:
    """Check (or create) the log group, then create the task's stream."""
    groups = logs.describe_log_groups(logGroupNamePrefix=target.group)["logGroups"]
    if not any(g["logGroupName"] == target.group for g in groups):
        if options.get("awslogs-create-group", "").lower() != "true":
            raise TaskStartError(
                "ResourceInitializationError: failed to validate logger args: create stream has "
                f"been retried 1 times: failed to create Cloudwatch log stream: "
                f"ResourceNotFoundException: The specified log group {target.group} does not exist.")
        logs.create_log_group(logGroupName=target.group)
    logs.create_log_stream(logGroupName=target.group, logStreamName=target.stream)


def parse_docker_lines(raw: bytes) -> list[tuple[int, str]]:
    """``(unix ns, message)`` for each line of ``docker logs --timestamps`` output."""
    events = []
    for line in raw.decode(errors="replace").splitlines():
        stamp, _, message = line.partition(" ")
        try:
            events.append((_ns(stamp), message))
        except ValueError:
            continue
    return events


def _ns(stamp: str) -> int:
    # RFC 3339 with nanoseconds ("2026-11-25T13:50:27.123456789Z"); datetime keeps microseconds.
    head, _, frac = stamp.rstrip("Z").partition(".")
    seconds = int(datetime.fromisoformat(head + "+00:00").timestamp())
    return seconds * 10**9 + int((frac or "0").ljust(9, "0")[:9])


def ship(logs, target: LogTarget, events: list[tuple[int, str]]) -> None:
    """Put the events (already in time order) into the task's stream."""
    for start in range(0, len(events), 1000):
        batch = events[start:start + 1000]
        logs.put_log_events(logGroupName=target.group, logStreamName=target.stream,
                            logEvents=[{"timestamp": ns // 10**6, "message": message}
                                       for ns, message in batch])
