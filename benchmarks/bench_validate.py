"""Benchmark: `mlci validate` on a 1,000,000-row CSV with a 6-expectation suite.

Measured side by side in one run, each in a fresh interpreter (so each pays
for its own imports, as a user would):

- plain GX: a short script that reads the CSV with pandas and runs the same
  suite through an ephemeral Great Expectations context;
- mlci cold: `mlci validate` with an empty cache (target: <= 1.2x plain GX);
- mlci warm: `mlci validate` again, nothing changed (target: <= 0.05x cold);
- mlci cold, data changed against the base: the same plus the data diff
  (the base file is read from git and profiled too); for information.

Usage: python benchmarks/bench_validate.py [--rows N] [--repeat K]
Prints the median wall time of each and the ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

SUITE = {
    "name": "bench",
    "expectations": [
        {"type": "expect_table_row_count_to_be_between", "kwargs": {"min_value": 1}, "meta": {}},
        {"type": "expect_column_to_exist", "kwargs": {"column": "text"}, "meta": {}},
        {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "id"}, "meta": {}},
        {"type": "expect_column_values_to_be_unique", "kwargs": {"column": "id"}, "meta": {}},
        {
            "type": "expect_column_values_to_be_in_set",
            "kwargs": {"column": "label", "value_set": [0, 1]},
            "meta": {},
        },
        {
            "type": "expect_column_values_to_be_between",
            "kwargs": {"column": "score", "min_value": 0, "max_value": 1},
            "meta": {},
        },
    ],
    "meta": {},
}

PLAIN_GX = """\
import json, sys
import great_expectations as gx
import pandas as pd
from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

doc = json.load(open("gx/bench.json"))
df = pd.read_csv("data/big.csv")
context = gx.get_context(mode="ephemeral")
batch = (context.data_sources.add_pandas("bench").add_dataframe_asset("big")
         .add_batch_definition_whole_dataframe("all").get_batch(batch_parameters={"dataframe": df}))
suite = gx.ExpectationSuite(name=doc["name"], expectations=[
    ExpectationConfiguration(type=e["type"], kwargs=e["kwargs"]).to_domain_obj()
    for e in doc["expectations"]])
result = batch.validate(suite, result_format={"result_format": "SUMMARY", "partial_unexpected_count": 5})
print(result.success, file=sys.stderr)
"""

CONFIG = "data:\n  - path: data/big.csv\n    suite: gx/bench.json\n"


def write_csv(file: Path, rows: int, *, seed: int, shift: float = 0.0) -> None:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    words = np.array(["alpha", "beta", "gamma", "delta", "epsilon"])
    df = pd.DataFrame(
        {
            "id": np.arange(rows),
            "label": rng.integers(0, 2, rows),
            "text": words[rng.integers(0, len(words), rows)],
            "score": np.clip(rng.random(rows) * (1 - shift) + shift, 0, 1).round(6),
            "amount": rng.normal(100, 15, rows).round(2),
        }
    )
    df.to_csv(file, index=False)


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)


def timed(cmd: list[str], cwd: Path, env: dict[str, str]) -> float:
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if proc.returncode not in (0, 1):
        raise SystemExit(f"{cmd} failed ({proc.returncode}):\n{proc.stderr}")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="mlci-bench-"))
    try:
        repo = tmp / "repo"
        (repo / "data").mkdir(parents=True)
        (repo / "gx").mkdir()
        env = dict(
            os.environ,
            PYTHONPATH=str(ROOT),
            GIT_AUTHOR_NAME="bench",
            GIT_AUTHOR_EMAIL="b@x",
            GIT_COMMITTER_NAME="bench",
            GIT_COMMITTER_EMAIL="b@x",
            GX_ANALYTICS_ENABLED="false",
            NO_COLOR="1",
        )
        # as installed by pip: byte-compiled, so no run pays for compiling mlci's sources
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        git(repo, "init", "-q", "-b", "main")
        (repo / "gx/bench.json").write_text(json.dumps(SUITE, indent=2))
        (repo / "mlci.yaml").write_text(CONFIG)
        (repo / "plain_gx.py").write_text(PLAIN_GX)
        print(f"generating {args.rows:,} rows ...", flush=True)
        csv = repo / "data/big.csv"
        write_csv(csv, args.rows, seed=1)
        print(f"data/big.csv: {csv.stat().st_size / 1e6:.1f} MB", flush=True)
        git(repo, "add", "-A")
        git(repo, "commit", "-q", "-m", "base")
        cache = repo / ".git/mlci"
        mlci = [sys.executable, "-m", "mlci", "validate", "--format", "json"]
        plain, cold, warm = [], [], []
        timed([sys.executable, "-m", "mlci", "--version"], repo, env)  # writes mlci's .pyc files
        for i in range(args.repeat):
            plain.append(timed([sys.executable, "plain_gx.py"], repo, env))
            shutil.rmtree(cache, ignore_errors=True)
            cold.append(timed(mlci, repo, env))
            warm.append(timed(mlci, repo, env))
            print(
                f"  round {i + 1}: plain GX {plain[-1]:.2f} s, mlci cold {cold[-1]:.2f} s, "
                f"mlci warm {warm[-1]:.3f} s",
                flush=True,
            )

        # the same file changed against the base: the diff reads and profiles both sides
        write_csv(csv, args.rows, seed=2, shift=0.2)
        changed = []
        for _ in range(args.repeat):
            shutil.rmtree(cache, ignore_errors=True)
            changed.append(timed(mlci, repo, env))

        p, c, w, d = (statistics.median(x) for x in (plain, cold, warm, changed))
        print()
        print(
            f"rows: {args.rows:,}, expectations: {len(SUITE['expectations'])}, "
            f"median of {args.repeat}"
        )
        print(f"plain GX script:              {p:8.2f} s")
        print(
            f"mlci validate, cold:          {c:8.2f} s   cold / plain GX = {c / p:.2f}x (target <= 1.2x)"
        )
        print(
            f"mlci validate, warm (cached): {w:8.3f} s   warm / cold     = {w / c:.3f}x (target <= 0.05x)"
        )
        print(
            f"mlci validate, cold + diff:   {d:8.2f} s   (data changed vs base; {d / p:.2f}x plain GX)"
        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0 if c / p <= 1.2 and w / c <= 0.05 else 1  # run.py reports a missed target


if __name__ == "__main__":
    sys.exit(main())
