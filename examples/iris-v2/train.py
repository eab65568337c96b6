"""Train version 2 of the iris example: a shallow RandomForest, visibly different from v1.

Same input (4 float features) and outputs (class label, 3 class probabilities) as
examples/iris, so it can replace v1 behind the same endpoint; its probabilities differ.

    python examples/iris-v2/train.py
"""

from pathlib import Path

import joblib
from sklearn.datasets import load_iris
from sklearn.ensemble import RandomForestClassifier

HERE = Path(__file__).resolve().parent


def train() -> RandomForestClassifier:
    """Fit a small forest (fixed random_state, single job so the result is reproducible)."""
    features, labels = load_iris(return_X_y=True)
    model = RandomForestClassifier(n_estimators=25, max_depth=2, random_state=7, n_jobs=1)
    return model.fit(features, labels)


if __name__ == "__main__":
    joblib.dump(train(), HERE / "model.joblib")
    print(f"wrote {HERE / 'model.joblib'}")
