"""The README documents the event schema and the exit codes exactly as the code has them."""

from __future__ import annotations

import re
from pathlib import Path

from modelport import errors
from modelport.engine import events

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()
COMMON = ["event", "ts", "deployment", "operation"]


def _table(heading: str) -> list[list[str]]:
    section = README.split(heading, 1)[1].split("\n#", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| ") and not line.startswith("| ---")]
    return [[cell.strip() for cell in row.strip("|").split("|")] for row in rows[1:]]


def _names(cell: str) -> list[str]:
    """The backquoted field names of a cell, leaving out the values named in parentheses."""
    return re.findall(r"`([a-z][a-z0-9_.]*)`", re.sub(r"\([^)]*\)", "", cell))


def test_the_readme_lists_every_event_type_with_its_fields():
    documented: dict[str, list[str]] = {}
    for kinds, fields in _table("### Events"):
        names = _names(kinds)
        if " / " in fields:  # two types in one row: their fields split the same way
            for name, part in zip(names, fields.split(" / ")):
                documented[name] = _names(part)
        else:
            documented[names[0]] = _names(fields)
    schema = {name: keys[len(COMMON):] for name, keys in events.schema().items()}
    assert all(keys[:len(COMMON)] == COMMON for keys in events.schema().values())
    assert documented == schema


def test_the_readme_exit_codes_are_the_codes_of_the_errors():
    codes = {int(row[0].strip("`")) for row in _table("### Exit codes")}
    assert codes == {errors.EXIT_OK, errors.EXIT_FAILED, errors.EXIT_BAD_INPUT, errors.EXIT_LOCKED,
                     errors.EXIT_UNFINISHED, errors.EXIT_CHANGES}
    assert errors.UnfinishedOperation("x").exit_code == errors.EXIT_UNFINISHED
    assert errors.LockHeld("d", "h").exit_code == errors.EXIT_LOCKED
    assert errors.LockHeld("d", "h", stale=True).exit_code == errors.EXIT_UNFINISHED
    assert errors.ImageNotFound("sha256:" + "0" * 64, ["here"]).exit_code == errors.EXIT_BAD_INPUT
