"""Train the iris example model (scikit-learn LogisticRegression) and write model.joblib.

Run with the scikit-learn version the serving runtime pins (see
modelport.runtime.requirements), so the pickle loads inside the image:

    python examples/iris/train.py
"""

from pathlib import Path

import joblib
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

HERE = Path(__file__).resolve().parent


def train() -> LogisticRegression:
    """Fit the model on the full iris data set (deterministic: lbfgs, fixed random_state)."""
    features, labels = load_iris(return_X_y=True)
    model = LogisticRegression(max_iter=1000, random_state=0)
    return model.fit(features, labels)


if __name__ == "__main__":
    joblib.dump(train(), HERE / "model.joblib")
    print(f"wrote {HERE / 'model.joblib'}")
