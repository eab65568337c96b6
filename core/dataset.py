"""The evaluation set of ``[validation]``: JSON Lines, one row a line.

Each row is ``{"inputs": [OIP v2 input tensors], "expected": [first-output values]}``: the
``inputs`` of an Open Inference Protocol v2 infer request, and the values the first output of the
reply must hold. Blank lines are skipped. Read once, checked when the spec is loaded (so a bad
line is refused before anything is built), and used by the validation gate, the analysis gate's
load and ``modelport evaluate``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: more rows than this would make a gate run for minutes; a sample of the real set is the point
MAX_ROWS = 10_000


class DatasetError(ValueError):
    """The evaluation set cannot be used; the message names the line and what is wrong."""


@dataclass(frozen=True)
class Row:
    """One evaluation row: the infer request body and the expected first-output values."""

    body: dict[str, Any]
    expected: list[Any]


def read_dataset(path: Path) -> tuple[Row, ...]:
    """The rows of the JSON Lines file at ``path``; :class:`DatasetError` names a bad line."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DatasetError(f"cannot be read: {getattr(exc, 'strerror', None) or exc}") from None
    rows = [_row(number, line) for number, line in enumerate(text.splitlines(), 1) if line.strip()]
    if not rows:
        raise DatasetError("holds no rows")
    if len(rows) > MAX_ROWS:
        raise DatasetError(f"holds {len(rows)} rows; at most {MAX_ROWS} are run by a gate")
    return tuple(rows)


def _row(number: int, line: str) -> Row:
    try:
        data = json.loads(line)
    except RecursionError:
        raise DatasetError(f"line {number}: JSON nested too deeply") from None
    except ValueError as exc:
        raise DatasetError(f"line {number}: not JSON ({exc})") from None
    if not isinstance(data, dict):
        raise DatasetError(f"line {number}: a row is a JSON object, not {type(data).__name__}")
    inputs, expected = data.get("inputs"), data.get("expected")
    if not isinstance(inputs, list) or not inputs or not all(isinstance(t, dict) for t in inputs):
        raise DatasetError(f"line {number}: 'inputs' must be a non-empty list of OIP v2 input tensors")
    if not isinstance(expected, list):
        raise DatasetError(f"line {number}: 'expected' must be a list (the first output's values)")
    return Row({"inputs": inputs}, expected)


def flat(values: Any) -> list[Any]:
    """``values`` (nested lists, as OIP JSON data may be) as one flat list."""
    if isinstance(values, (list, tuple)):
        return [v for item in values for v in flat(item)]
    return [values]
