"""The spec's release-gate keys: ``[rollout.analysis]`` and ``[validation]`` (part of
:mod:`modelport.spec`, which uses these sections and checks), and what each asks of the rest of
the spec, checked when it is loaded."""

from __future__ import annotations

from typing import Annotated, Any, Iterator

from pydantic import BaseModel, ConfigDict, Field

from .dataset import DatasetError, read_dataset
from .errors import SpecError


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class AnalysisSection(_Strict):
    """``[rollout.analysis]``: what every gate of a deploy, swap or canary step watches during its
    bake (0: the smoke request only, as before)."""

    bake: Annotated[float, Field(ge=0, le=3600, description="Seconds each gate watches the new revision (0: smoke request only).")] = 0
    load: Annotated[float, Field(ge=0, le=1000, description="Requests/s the gate sends itself during bake (0: only real traffic).")] = 0
    max_error_rate: Annotated[float, Field(ge=0, le=1, description="Share of failed requests (5xx, timeouts, wrong shape) on the new revision.")] = 0.01
    max_p99_ms: Annotated[float, Field(gt=0, le=3_600_000, description="p99 latency of the new revision in the window (none: not checked).")] | None = None
    max_p99_ratio: Annotated[float, Field(ge=1, le=1000, description="p99 of the new revision / p99 of the serving one, same window (none: not checked).")] | None = None


class ValidationSection(_Strict):
    """``[validation]``: the model gate run before any traffic moves to a new version."""

    dataset: Annotated[str, Field(min_length=1, description="JSON Lines, one row a line: {\"inputs\": [OIP v2 input tensors], \"expected\": [first-output values]}.")]
    min_accuracy: Annotated[float, Field(ge=0, le=1, description="Share of rows whose first output equals \"expected\".")] | None = None
    min_agreement: Annotated[float, Field(ge=0, le=1, description="Share of rows where the new version agrees with the serving one.")] | None = None


def dataset_problems(loaded: Any, shown: str) -> Iterator[SpecError]:
    """The evaluation set's problems, each naming its line."""
    try:
        read_dataset(loaded.resolve(loaded.spec.validation.dataset))
    except DatasetError as exc:
        yield SpecError(shown, "validation.dataset", str(exc),
                        hint='one JSON object a line: {"inputs": [...OIP v2 input tensors], "expected": [...]}')


def analysis_problems(spec: Any, shown: str) -> Iterator[SpecError]:
    """What ``[rollout.analysis]`` asks that the rest of the spec cannot give."""
    analysis = spec.rollout.analysis
    if analysis.load and analysis.bake and not (spec.serving.sample_input or spec.validation):
        yield SpecError(shown, "rollout.analysis.load", "needs requests to send: there is no "
                        "serving.sample_input and no validation.dataset",
                        hint="set serving.sample_input, or load = 0 to watch real traffic only")
    if analysis.max_p99_ratio is not None and analysis.bake == 0:
        yield SpecError(shown, "rollout.analysis.max_p99_ratio", "is checked during a bake, but bake is 0",
                        hint="set rollout.analysis.bake (seconds)")
