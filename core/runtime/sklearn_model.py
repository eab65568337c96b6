"""scikit-learn adapter: a joblib or pickle file holding an estimator (or pipeline).

Outputs: ``predict`` always, and ``predict_proba`` when the estimator has it (classifiers).
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from .errors import BadRequest, ModelLoadError
from .frameworks import ServedModel, find_model_file, select_outputs, single_input
from .tensors import TensorSpec, datatype_of

SUFFIXES = (".joblib", ".pkl", ".pickle")


class SklearnModel(ServedModel):
    """A fitted scikit-learn estimator served through ``predict`` / ``predict_proba``."""

    platform = "sklearn"

    def __init__(self, estimator: Any) -> None:
        if not callable(getattr(estimator, "predict", None)):
            raise ModelLoadError(f"{type(estimator).__name__} has no predict(); not a fitted scikit-learn estimator")
        self.estimator = estimator
        self.has_proba = callable(getattr(estimator, "predict_proba", None))
        features = getattr(estimator, "n_features_in_", -1)
        self.inputs = (TensorSpec("input", "FP64", (-1, int(features))),)
        self.outputs = self._output_specs()

    @classmethod
    def load(cls, path: Path) -> "SklearnModel":
        """Load ``path`` (a file, or a directory holding one .joblib/.pkl/.pickle file)."""
        file = find_model_file(path, SUFFIXES)
        try:
            if file.suffix.lower() == ".joblib":
                import joblib

                estimator = joblib.load(file)
            else:
                with file.open("rb") as handle:
                    estimator = pickle.load(handle)
        except Exception as exc:  # any unpickling failure is a load failure with its reason
            raise ModelLoadError(f"cannot load scikit-learn model {file}: {exc}") from exc
        return cls(estimator)

    def infer(self, inputs: Mapping[str, np.ndarray], requested: tuple[str, ...] | None) -> dict[str, Any]:
        """Run predict (and predict_proba when asked for, or when no outputs were named)."""
        rows = single_input(inputs)
        if rows.ndim != 2:
            raise BadRequest(f"input must be 2-D [rows, features], got shape {list(rows.shape)}")
        if rows.dtype.kind == "b":
            raise BadRequest("input must be numeric, not BOOL")
        names = requested if requested is not None else tuple(spec.name for spec in self.outputs)
        select_outputs({spec.name: None for spec in self.outputs}, names)  # reject unknown names early
        results: dict[str, Any] = {}
        for name in names:
            method = self.estimator.predict if name == "predict" else self.estimator.predict_proba
            results[name] = _call(method, rows)
        return results

    def _output_specs(self) -> tuple[TensorSpec, ...]:
        classes = getattr(self.estimator, "classes_", None)
        label_type = datatype_of(np.asarray(classes).dtype) if classes is not None else "FP64"
        specs = [TensorSpec("predict", label_type, (-1,))]
        if self.has_proba:
            width = len(classes) if classes is not None else -1
            specs.append(TensorSpec("predict_proba", "FP64", (-1, width)))
        return tuple(specs)


def _call(method: Any, rows: np.ndarray) -> np.ndarray:
    try:
        return method(rows)
    except (ValueError, TypeError) as exc:
        # scikit-learn says ValueError for a wrong feature count or non-finite values
        raise BadRequest(f"the model rejected the input: {exc}") from exc
