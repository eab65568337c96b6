"""Fargate task sizes from the versioned table ``limits.toml`` (shipped in this package).

A Fargate task size is one (cpu units, memory MiB) pair from AWS's table; anything else is
refused by ``RegisterTaskDefinition`` ("Invalid 'cpu' setting for task."). ``check_size`` names
the field and lists the valid choices; ``fit_size`` picks the smallest valid pair that gives at
least what was asked (used by ``migrate``) and says what changed.
"""

from __future__ import annotations

import tomllib
from dataclasses import replace
from functools import lru_cache
from importlib import resources

from modelport.errors import SpecError
from modelport.provider import Size

CPU_UNITS = 1024  # ECS cpu units per vCPU


@lru_cache(maxsize=1)
def table() -> dict:
    """The ``[aws.fargate]`` block (with ``meta``) of the shipped limits table."""
    with resources.files(__package__).joinpath("limits.toml").open("rb") as fh:
        data = tomllib.load(fh)
    return {"meta": data["meta"], **data["aws"]["fargate"]}


@lru_cache(maxsize=1)
def valid_pairs() -> tuple[tuple[int, tuple[int, ...]], ...]:
    """``((cpu units, (memory MiB, ...)), ...)`` for Linux tasks, smallest cpu first."""
    out = []
    for row in table()["task_sizes"]:
        if "linux" not in row.get("os", ["linux"]):
            continue
        if "memory_mib" in row:
            memories = tuple(row["memory_mib"])
        else:
            memories = tuple(range(row["memory_min_mib"], row["memory_max_mib"] + 1, row["memory_step_mib"]))
        out.append((int(row["cpu"]), memories))
    return tuple(sorted(out))


def _vcpu(units: int) -> str:
    return f"{units / CPU_UNITS:g}"


def describe_memories(memories: tuple[int, ...]) -> str:
    """``512, 1024, 2048 MiB`` or ``2048..8192 MiB in steps of 1024``."""
    if len(memories) <= 4:
        return ", ".join(str(m) for m in memories) + " MiB"
    return f"{memories[0]}..{memories[-1]} MiB in steps of {memories[1] - memories[0]}"


def _no_gpu(size: Size) -> None:
    if size.gpu:
        raise SpecError("", "resources.gpu",
                        "ECS on Fargate has no GPUs (the task definition's 'gpu' parameter is not "
                        "valid on Fargate)", hint=f"set gpu = 0; source: {table()['gpu_source']}")


def check_size(size: Size) -> None:
    """Raise :class:`SpecError` unless ``size`` is exactly a valid Fargate pair."""
    _no_gpu(size)
    units = size.cpu * CPU_UNITS
    pairs = dict(valid_pairs())
    if units not in pairs:
        choices = ", ".join(_vcpu(c) for c in pairs)
        raise SpecError("", "resources.cpu", f"Fargate has no {size.cpu:g} vCPU task size; valid: {choices} vCPU",
                        hint=_nearest_hint(size))
    memories = pairs[int(units)]
    if size.memory_mib not in memories:
        raise SpecError("", "resources.memory",
                        f"Fargate runs {size.cpu:g} vCPU with {describe_memories(memories)}, "
                        f"not {size.memory_mib} MiB", hint=_nearest_hint(size))


def _nearest_hint(size: Size) -> str:
    try:
        fitted, _ = fit_size(size)
    except SpecError:
        return "see the Fargate task size table"
    return f"nearest valid: cpu = {fitted.cpu:g}, memory = \"{fitted.memory_mib}Mi\""


def fit_size(size: Size) -> tuple[Size, list[str]]:
    """The smallest valid Fargate size with at least ``size``'s cpu and memory, and notes."""
    _no_gpu(size)
    want_units = size.cpu * CPU_UNITS
    for units, memories in valid_pairs():
        if units < want_units:
            continue
        memory = next((m for m in memories if m >= size.memory_mib), None)
        if memory is None:
            continue
        fitted = replace(size, cpu=units / CPU_UNITS, memory_mib=memory)
        return fitted, _notes(size, fitted)
    biggest_units, biggest_mem = valid_pairs()[-1][0], valid_pairs()[-1][1][-1]
    field = "resources.cpu" if want_units > biggest_units else "resources.memory"
    raise SpecError("", field, f"no Fargate task size has {size.cpu:g} vCPU and {size.memory_mib} MiB "
                               f"(the largest is {_vcpu(biggest_units)} vCPU / {biggest_mem} MiB)")


def _notes(asked: Size, fitted: Size) -> list[str]:
    notes = []
    if fitted.cpu != asked.cpu:
        notes.append(f"aws (Fargate): cpu {asked.cpu:g} -> {fitted.cpu:g} vCPU (nearest valid task size)")
    if fitted.memory_mib != asked.memory_mib:
        notes.append(f"aws (Fargate): memory {asked.memory_mib} -> {fitted.memory_mib} MiB "
                     f"(valid with {fitted.cpu:g} vCPU)")
    return notes
