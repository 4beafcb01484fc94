"""Tabular data files for ``data:`` checks: a registry of formats, each read by pandas or Spark.

A format is its name (``data[].format``), the suffixes that imply it, how pandas reads it
and how Spark does; a new format is one :func:`register` call (the config schema and the
result schema list the names, and a test holds them to this registry). ``read:`` options
are passed on to the reader: pandas' ``read_*`` keywords, or Spark reader options.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any


@dataclass(frozen=True)
class Format:
    name: str
    suffixes: tuple[str, ...]
    pandas: Callable[[Any, dict[str, Any]], Any]  # (file, options) -> pandas.DataFrame
    spark_method: str  # the DataFrameReader method: csv, parquet, json
    spark_defaults: Mapping[str, Any] = field(default_factory=dict)


FORMATS: dict[str, Format] = {}


def register(fmt: Format) -> Format:
    FORMATS[fmt.name] = fmt
    return fmt


def format_for(path: str) -> str | None:
    """The format a file's suffix implies, or None."""
    suffix = PurePosixPath(path).suffix.lower()
    return next((f.name for f in FORMATS.values() if suffix in f.suffixes), None)


def read_pandas(source: Any, fmt_name: str, options: Mapping[str, Any]) -> Any:
    return FORMATS[fmt_name].pandas(source, dict(options))


def read_spark(session: Any, file: Path, fmt_name: str, options: Mapping[str, Any]) -> Any:
    """Spark's reader; ``options`` are Spark reader options here (header, sep, inferSchema, ...)."""
    fmt = FORMATS[fmt_name]
    opts = {**fmt.spark_defaults, **options}
    names = opts.pop("names", None)
    text_opts = {k: (str(v).lower() if isinstance(v, bool) else str(v)) for k, v in opts.items()}
    frame = getattr(session.read.options(**text_opts), fmt.spark_method)(str(file))
    if names:
        frame = frame.toDF(*[str(n) for n in names])
    return frame


# --- the formats -------------------------------------------------------------------------


def _csv(source: Any, opts: dict[str, Any]) -> Any:
    import pandas as pd

    return pd.read_csv(source, **opts)


def _tsv(source: Any, opts: dict[str, Any]) -> Any:
    import pandas as pd

    return pd.read_csv(source, **{"sep": "\t", **opts})


def _parquet(source: Any, opts: dict[str, Any]) -> Any:
    import pandas as pd

    try:
        return pd.read_parquet(source, **opts)
    except ImportError as exc:  # pyarrow is an extra (150 MB most projects never use): name it
        raise ImportError(
            "reading parquet needs pyarrow, which is not installed: add the parquet "
            "extra (the action's input `extras: parquet`; pip install 'mlci[parquet]')"
        ) from exc


def _json(source: Any, opts: dict[str, Any]) -> Any:
    import pandas as pd

    return pd.read_json(source, **opts)


def _jsonl(source: Any, opts: dict[str, Any]) -> Any:
    import pandas as pd

    return pd.read_json(source, **{"lines": True, **opts})


_TEXT_TABLE = {"header": True, "inferSchema": True}
register(Format("csv", (".csv",), _csv, "csv", _TEXT_TABLE))
register(Format("tsv", (".tsv", ".tab"), _tsv, "csv", {**_TEXT_TABLE, "sep": "\t"}))
register(Format("parquet", (".parquet", ".pq"), _parquet, "parquet"))
# one JSON document (Spark's default is one record per line, which is jsonl)
register(Format("json", (".json",), _json, "json", {"multiLine": True}))
register(Format("jsonl", (".jsonl", ".ndjson"), _jsonl, "json"))
