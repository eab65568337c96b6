"""CloudWatch Logs: PutRetentionPolicy takes only a fixed list of day counts.

Source: PutRetentionPolicy ``retentionInDays``
(https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutRetentionPolicy.html):
"Possible values are: 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827,
2192, 2557, 2922, 3288, and 3653." Older SDK pages list fewer values (no 1096, 2192, ...); the
current API reference is the one enforced (the extra values are accepted by AWS today). moto
stores any number.
"""

from __future__ import annotations

RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192,
                  2557, 2922, 3288, 3653)


def retention_error(days) -> str | None:
    """The constraint PutRetentionPolicy reports for ``days``, or None when it is valid."""
    try:
        if int(str(days)) in RETENTION_DAYS:
            return None
    except ValueError:
        pass
    return "Member must satisfy enum value set: [" + ", ".join(map(str, RETENTION_DAYS)) + "]"


def install() -> None:
    """Patch moto's CloudWatch Logs backend."""
    from moto.logs.exceptions import InvalidParameterException
    from moto.logs.models import LogsBackend

    put_retention_policy = LogsBackend.put_retention_policy

    def patched(self, log_group_name, retention_in_days):
        constraint = retention_error(retention_in_days)
        if constraint:
            raise InvalidParameterException(constraint=constraint, parameter="retentionInDays",
                                            value=retention_in_days)
        return put_retention_policy(self, log_group_name, retention_in_days)

    LogsBackend.put_retention_policy = patched
