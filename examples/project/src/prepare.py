"""Stage `prepare`: split scikit-learn's bundled breast-cancer dataset.

Writes data/prepared/train.csv and data/prepared/test.csv (header row,
snake_case feature columns, then an integer `label` column; 1 = benign,
0 = malignant). No network access is needed.
"""

import re
from pathlib import Path

import pandas as pd
import yaml
from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import train_test_split

OUT_DIR = Path("data/prepared")


def snake_case(name: str) -> str:
    return re.sub(r"[^0-9a-zA-Z]+", "_", name).strip("_").lower()


def main() -> None:
    with open("params.yaml") as f:
        params = yaml.safe_load(f)["prepare"]

    dataset = load_breast_cancer()
    columns = [snake_case(n) for n in dataset.feature_names]
    df = pd.DataFrame(dataset.data, columns=columns)
    df["label"] = dataset.target.astype(int)

    train, test = train_test_split(
        df,
        test_size=float(params["test_size"]),
        random_state=int(params["seed"]),
        stratify=df["label"],
    )

    OUT_DIR.mkdir(parents=True, exist_ok=True)
    train.to_csv(OUT_DIR / "train.csv", index=False)
    test.to_csv(OUT_DIR / "test.csv", index=False)
    print(f"prepare: {len(train)} train rows, {len(test)} test rows, {len(columns)} features")


if __name__ == "__main__":
    main()
