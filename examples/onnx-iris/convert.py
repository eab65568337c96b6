"""Convert the iris example model (examples/iris/model.joblib) to ONNX with skl2onnx.

The graph takes one FP32 input named ``input`` of shape [batch, 4] and gives ``predict``
(INT64 class labels) and ``predict_proba`` (FP32, [batch, 3]) -- the same names the
runtime uses for a scikit-learn model, so one request body works for both.

    python examples/onnx-iris/convert.py
"""

from pathlib import Path

import joblib
from skl2onnx import convert_sklearn
from skl2onnx.common.data_types import FloatTensorType, Int64TensorType

HERE = Path(__file__).resolve().parent
SOURCE = HERE.parent / "iris" / "model.joblib"


def convert(source: Path = SOURCE) -> bytes:
    """Return the serialized ONNX model for the scikit-learn classifier at ``source``."""
    model = joblib.load(source)
    onnx_model = convert_sklearn(
        model,
        initial_types=[("input", FloatTensorType([None, 4]))],
        final_types=[("predict", Int64TensorType([None])), ("predict_proba", FloatTensorType([None, 3]))],
        options={id(model): {"zipmap": False}},
        target_opset={"": 17, "ai.onnx.ml": 3},
    )
    return onnx_model.SerializeToString()


if __name__ == "__main__":
    (HERE / "model.onnx").write_bytes(convert())
    print(f"wrote {HERE / 'model.onnx'}")
