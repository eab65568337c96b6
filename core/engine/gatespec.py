"""What the analysis and validation gates of an operation take from the spec."""

from __future__ import annotations

import json
from typing import Any

from ..dataset import flat, read_dataset
from ..spec import LoadedSpec
from .analysis import Analysis
from .validation import Validation


def validation_of(loaded: LoadedSpec) -> Validation | None:
    """``[validation]`` with its rows read (None when the spec has none)."""
    v = loaded.spec.validation
    if v is None:
        return None
    return Validation(read_dataset(loaded.resolve(v.dataset)), v.min_accuracy, v.min_agreement)


def analysis_of(loaded: LoadedSpec, validation: Validation | None) -> Analysis:
    """``[rollout.analysis]``, its load drawn from the evaluation set, else the sample input."""
    a = loaded.spec.rollout.analysis
    if validation is not None:
        bodies = tuple(r.body for r in validation.rows)
        sizes: tuple[int | None, ...] = tuple(len(flat(r.expected)) for r in validation.rows)
    elif loaded.spec.serving.sample_input:
        bodies, sizes = (json.loads(loaded.resolve(loaded.spec.serving.sample_input).read_text()),), (None,)
    else:
        bodies, sizes = (), ()
    return Analysis(a.bake, a.load, a.max_error_rate, a.max_p99_ms, a.max_p99_ratio, bodies, sizes)


def gate_settings(loaded: LoadedSpec) -> dict[str, Any]:
    """The ``analysis`` and ``validation`` of an ExecutionContext for ``loaded``."""
    validation = validation_of(loaded)
    return {"analysis": analysis_of(loaded, validation), "validation": validation}

