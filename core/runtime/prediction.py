"""One request's use of the model, decoded and not yet run: what every prediction route prepares.

Splitting a request into *prepare* (parse and validate the body into named input arrays),
*infer* (the model call) and *respond* (turn the model's outputs into this request's reply) is
what lets the batcher merge the model calls of several requests while each keeps its own
protocol, parsing and errors.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from .frameworks import ServedModel, instances_to_inputs
from .httpio import Response


@dataclass
class Prediction:
    """Named input arrays, the outputs asked for (None: all), and how to answer with the outputs."""

    inputs: dict[str, np.ndarray]
    requested: tuple[str, ...] | None
    respond: Callable[[dict[str, Any]], Response]

    @property
    def rows(self) -> int | None:
        """The batch dimension shared by every input (their first), or None when there is none."""
        firsts = {array.shape[0] if array.ndim else None for array in self.inputs.values()}
        if len(firsts) != 1:
            return None
        return firsts.pop()

    def batch_key(self) -> tuple | None:
        """Predictions with equal keys can be stacked into one model call; None: this one runs alone.

        Equal means the same input names in the same order with the same dtypes and the same shape
        after the first dimension, and the same requested outputs.
        """
        if self.rows is None:
            return None
        shapes = tuple((name, array.dtype.str, array.shape[1:]) for name, array in self.inputs.items())
        return shapes, self.requested


def instances_prediction(model: ServedModel, instances: Any, answer: Callable[[list], Response]) -> Prediction:
    """KServe v1 / SageMaker rows: the model's primary output as a list, handed to ``answer``."""
    inputs = instances_to_inputs(instances, model.inputs)
    declared = {spec.name for spec in model.outputs}
    # compute only the primary output when the model declares it (skips predict_proba)
    requested = (model.primary_output,) if model.primary_output in declared else None

    def respond(outputs: dict[str, Any]) -> Response:
        name = model.primary_output if model.primary_output in outputs else next(iter(outputs))
        return answer(np.asarray(outputs[name]).tolist())

    return Prediction(inputs, requested, respond)
