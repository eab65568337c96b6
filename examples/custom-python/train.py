"""Write the custom example's model file: per-class feature means of iris (a nearest-centroid model).

The model is plain JSON so the custom runtime needs nothing but numpy to serve it.

    python examples/custom-python/train.py
"""

import json
from pathlib import Path

from sklearn.datasets import load_iris

HERE = Path(__file__).resolve().parent


def centroids() -> dict:
    """Return {"classes": [...], "centroids": [[...4 means...] per class]} rounded for stable diffs."""
    data = load_iris()
    rows = []
    for label in range(len(data.target_names)):
        members = data.data[data.target == label]
        rows.append([round(float(v), 6) for v in members.mean(axis=0)])
    return {"classes": list(range(len(rows))), "names": list(data.target_names), "centroids": rows}


if __name__ == "__main__":
    (HERE / "model.json").write_text(json.dumps(centroids(), indent=2) + "\n")
    print(f"wrote {HERE / 'model.json'}")
