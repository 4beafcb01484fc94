"""Stage `evaluate`: score model.pkl on the test split.

Writes:
  eval/metrics.json         accuracy, roc_auc, avg_prec.test, f1, log_loss, latency_ms
  eval/plots/roc.json       [{fpr, tpr, threshold}, ...]   (at most 100 points)
  eval/plots/confusion.json [{actual, predicted}, ...]     (one row per test sample)

All values are deterministic for a given params.yaml. `latency_ms` is NOT a
wall-clock measurement (that would make metrics flaky); it is an estimate of
per-sample inference cost derived from the serialized model size.
"""

import json
import math
import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    f1_score,
    log_loss,
    roc_auc_score,
    roc_curve,
)

EVAL_DIR = Path("eval")
PLOTS_DIR = EVAL_DIR / "plots"
MAX_ROC_POINTS = 100
# Deterministic latency model: milliseconds per KiB of pickled model.
MS_PER_KIB = 0.01


def r4(x: float) -> float:
    return round(float(x), 4)


def main() -> None:
    with open("params.yaml") as f:
        params = yaml.safe_load(f).get("evaluate") or {}
    threshold = float(params.get("threshold", 0.5))

    model_path = Path("model.pkl")
    with open(model_path, "rb") as f:
        model = pickle.load(f)

    test = pd.read_csv("data/prepared/test.csv")
    X = test.drop(columns=["label"])
    y = test["label"].to_numpy()

    proba = model.predict_proba(X)[:, 1]
    pred = (proba >= threshold).astype(int)

    metrics = {
        "accuracy": r4(accuracy_score(y, pred)),
        "roc_auc": r4(roc_auc_score(y, proba)),
        "avg_prec": {"test": r4(average_precision_score(y, proba))},
        "f1": r4(f1_score(y, pred)),
        "log_loss": r4(log_loss(y, proba)),
        "latency_ms": r4(model_path.stat().st_size / 1024 * MS_PER_KIB),
    }

    fpr, tpr, thresholds = roc_curve(y, proba, drop_intermediate=False)
    if len(fpr) > MAX_ROC_POINTS:
        idx = np.unique(np.linspace(0, len(fpr) - 1, MAX_ROC_POINTS).round().astype(int))
        fpr, tpr, thresholds = fpr[idx], tpr[idx], thresholds[idx]
    roc = [
        {
            "fpr": r4(a),
            "tpr": r4(b),
            # roc_curve's first threshold is +inf, which JSON cannot encode.
            "threshold": r4(min(t, 1.0)) if math.isfinite(t) else 1.0,
        }
        for a, b, t in zip(fpr, tpr, thresholds, strict=False)
    ]
    confusion = [{"actual": int(a), "predicted": int(p)} for a, p in zip(y, pred, strict=False)]

    PLOTS_DIR.mkdir(parents=True, exist_ok=True)
    (EVAL_DIR / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    (PLOTS_DIR / "roc.json").write_text(json.dumps(roc, indent=2) + "\n")
    (PLOTS_DIR / "confusion.json").write_text(json.dumps(confusion, indent=2) + "\n")
    print("evaluate:", json.dumps(metrics))


if __name__ == "__main__":
    main()
