"""Stage `train`: fit StandardScaler + LogisticRegression, write model.pkl."""

import pickle

import pandas as pd
import yaml
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler


def main() -> None:
    with open("params.yaml") as f:
        params = yaml.safe_load(f)["train"]

    train = pd.read_csv("data/prepared/train.csv")
    X = train.drop(columns=["label"])
    y = train["label"]

    model = Pipeline(
        [
            ("scaler", StandardScaler()),
            (
                "clf",
                LogisticRegression(
                    C=float(params["C"]),
                    max_iter=int(params["max_iter"]),
                    random_state=int(params["seed"]),
                ),
            ),
        ]
    )
    model.fit(X, y)

    with open("model.pkl", "wb") as f:
        pickle.dump(model, f)
    print(f"train: C={params['C']} max_iter={params['max_iter']} -> model.pkl")


if __name__ == "__main__":
    main()
