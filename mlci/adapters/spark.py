"""Spark, for ``data:`` entries with ``engine: spark``: the only module that imports pyspark.

The session is started by :func:`mlci.adapters.gx.spark_session` (Great Expectations
validates on it); here the data profile that the diff with the base compares is computed
with Spark's aggregations, on files too large for pandas.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def profile(
    frame: Any, *, top_values: int, categorical_max: int, category: Callable[[Any], str]
) -> tuple[int, dict[str, Any]]:
    """Row count and per-column profile of a Spark DataFrame (the shape is datadiff's).

    One aggregation pass for counts and summaries, one for all quantiles
    (approximate, relative error 0.001), one for the most frequent values.
    """
    from pyspark.sql import functions as F
    from pyspark.sql.types import BooleanType, NumericType

    fields = frame.schema.fields
    numeric = [
        f.name
        for f in fields
        if isinstance(f.dataType, NumericType) and not isinstance(f.dataType, BooleanType)
    ]
    aggs = [F.count(F.lit(1)).alias("__rows")]
    for i, f in enumerate(fields):
        c = F.col(f"`{f.name}`")
        aggs += [
            F.sum(c.isNull().cast("long")).alias(f"n{i}"),
            F.approx_count_distinct(c).alias(f"d{i}"),
        ]
        if f.name in numeric:
            aggs += [
                F.mean(c).alias(f"mean{i}"),
                F.stddev_pop(c).alias(f"std{i}"),
                F.min(c).alias(f"min{i}"),
                F.max(c).alias(f"max{i}"),
            ]
    stats = frame.agg(*aggs).collect()[0].asDict()
    rows = int(stats["__rows"])
    quantiles: dict[str, list[float]] = {}
    position = {f.name: i for i, f in enumerate(fields)}
    with_values = [n for n in numeric if stats.get(f"mean{position[n]}") is not None]
    if with_values:
        probs = [i / 100 for i in range(101)]
        casted = frame.select(*[F.col(f"`{n}`").cast("double").alias(n) for n in with_values])
        for name, qs in zip(
            with_values, casted.approxQuantile(with_values, probs, 0.001), strict=False
        ):
            quantiles[name] = [float(q) for q in qs]
    columns: dict[str, Any] = {}
    for i, f in enumerate(fields):
        col: dict[str, Any] = {
            "dtype": f.dataType.simpleString(),
            "nulls": int(stats[f"n{i}"] or 0),
            "distinct": int(stats[f"d{i}"] or 0),
            "kind": "categorical",
        }
        if f.name in quantiles:
            col.update(
                kind="numeric",
                mean=float(stats[f"mean{i}"]),
                std=float(stats[f"std{i}"] or 0.0),
                min=float(stats[f"min{i}"]),
                max=float(stats[f"max{i}"]),
                quantiles=quantiles[f.name],
            )
        columns[f.name] = col
    counted = [
        n
        for n, c in columns.items()
        if c["kind"] == "categorical" or c["distinct"] <= categorical_max
    ]
    if counted:
        # the most frequent values of every counted column in one job: (column, value) pairs,
        # counted, then the top ones per column by a window
        from pyspark.sql import Window

        pairs = (
            frame.select(
                F.explode(
                    F.array(
                        *[
                            F.struct(F.lit(j).alias("k"), F.col(f"`{n}`").cast("string").alias("v"))
                            for j, n in enumerate(counted)
                        ]
                    )
                ).alias("p")
            )
            .select("p.k", "p.v")
            .where(F.col("v").isNotNull())
        )
        ranked = (
            pairs.groupBy("k", "v")
            .count()
            .withColumn(
                "r",
                F.row_number().over(Window.partitionBy("k").orderBy(F.desc("count"), F.asc("v"))),
            )
        )
        for n in counted:
            columns[n]["counts"] = {}
        for r in ranked.where(F.col("r") <= top_values).collect():
            name = counted[r["k"]]
            value = float(r["v"]) if name in numeric else r["v"]
            key = category(value)
            columns[name]["counts"][key] = columns[name]["counts"].get(key, 0) + int(r["count"])
        for n in counted:
            col = columns[n]
            col["other"] = int(rows - col["nulls"] - sum(col["counts"].values()))
    return rows, columns
