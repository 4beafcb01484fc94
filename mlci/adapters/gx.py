"""Great Expectations, in process: the only module that imports ``great_expectations``.

mlci builds a fresh, ephemeral GX context for each run: stores in memory, no
``gx/`` folder, no data docs, nothing under ``uncommitted/``, analytics and
progress bars off. A batch is a DataFrame (pandas or Spark) handed over
directly, so GX never reads files itself and mlci controls how data is read.
Results come back as plain dicts that hold only JSON values.

Importing GX costs seconds; the caller imports this module only when there is
something to validate (a cache miss).
"""

from __future__ import annotations

import difflib
import json
import logging
import math
import os
from functools import lru_cache
from typing import Any

from mlci.model.fmt import clip

SAMPLE_SIZE = 5  # offending values / row indices kept per expectation
_VALUE_LIMIT = 80  # characters of one sample value


def version() -> str:
    """The installed GX version, without importing GX: from the name of its ``.dist-info``
    folder next to the package (``importlib.metadata``, which costs a warm ``mlci validate``
    a tenth of its time to import, only when that folder is not found)."""
    import importlib.util
    import re

    spec = importlib.util.find_spec("great_expectations")
    if spec is not None and spec.origin:
        folder = os.path.dirname(os.path.dirname(spec.origin))
        try:
            found = [
                m.group(1)
                for name in os.listdir(folder)
                if (m := re.fullmatch(r"great_expectations-([^-]+)\.dist-info", name))
            ]
        except OSError:
            found = []
        if len(found) == 1:
            return found[0]
    from importlib import metadata

    try:
        return metadata.version("great_expectations")
    except metadata.PackageNotFoundError:  # pragma: no cover - a hard dependency
        return "unknown"


def _import() -> Any:
    # GX reads these when imported and when a context is built; set them before.
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    logging.getLogger("great_expectations").setLevel(logging.ERROR)
    import great_expectations as gx

    return gx


# --- checking expectation configs (before any data is read) ----------------------


def known_expectations() -> list[str]:
    _import()
    from great_expectations.expectations.registry import list_registered_expectation_implementations

    return sorted(list_registered_expectation_implementations())


def config_problem(type_: str, kwargs: dict[str, Any]) -> str | None:
    """Why ``type_(**kwargs)`` is not a valid expectation, or None when it is.

    Names are looked up in GX's registry of expectation classes; arguments are
    checked by the class's own pydantic model (missing, unknown, wrong type).
    """
    _import()
    from great_expectations.exceptions import ExpectationNotFoundError
    from great_expectations.expectations.registry import get_expectation_impl

    try:
        cls = get_expectation_impl(type_)
    except ExpectationNotFoundError:
        hint = difflib.get_close_matches(type_, known_expectations(), n=1, cutoff=0.6)
        return f"unknown expectation '{type_}'" + (f"; did you mean '{hint[0]}'?" if hint else "")
    try:
        cls(**kwargs)
    except Exception as exc:  # noqa: BLE001 - pydantic (v1 or v2) ValidationError, TypeError
        errors = getattr(exc, "errors", None)
        if callable(errors):
            parts = []
            for err in errors():
                loc = ".".join(str(p) for p in err.get("loc", ())) or "arguments"
                msg = err.get("msg", "invalid")
                if msg == "extra fields not permitted":
                    msg = "unknown argument"
                elif msg == "field required":
                    msg = "required argument is missing"
                parts.append(f"{loc}: {msg}")
            return f"invalid arguments for {type_}: " + "; ".join(parts)
        return f"invalid arguments for {type_}: {exc}"
    return None


# --- running -------------------------------------------------------------------


@lru_cache(maxsize=1)
def _context() -> Any:
    gx = _import()
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    config = DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
        analytics_enabled=False,
        progress_bars=ProgressBarsConfig(globally=False, metric_calculations=False),
    )
    return gx.get_context(mode="ephemeral", project_config=config)


_counter = iter(range(1, 1 << 30))


def spark_session(master: str, conf: dict[str, Any]) -> Any:
    """A local (or cluster) SparkSession for ``engine: spark``; quiet, no UI by default."""
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:
        from mlci.model.errors import RunError

        raise RunError(
            "engine: spark needs pyspark, which is not installed: add the spark extra "
            "(the action's input `extras: spark`; pip install 'mlci[spark]')"
        ) from exc
    builder = SparkSession.builder.master(master).appName("mlci")
    settings = {"spark.ui.enabled": "false", "spark.ui.showConsoleProgress": "false"}
    if master.startswith("local"):
        # Spark's default of 200 shuffle partitions makes every group-by slow on one machine
        settings["spark.sql.shuffle.partitions"] = "4"
    settings.update(
        {str(k): str(v).lower() if isinstance(v, bool) else str(v) for k, v in conf.items()}
    )
    for key, value in settings.items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    return session


def validate(
    frame: Any, expectations: list[dict[str, Any]], *, engine: str = "pandas"
) -> list[dict[str, Any]]:
    """Run ``expectations`` ({type, kwargs}) on ``frame``; one plain result per expectation, in order."""
    gx = _import()
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

    ctx = _context()
    name = f"mlci-{next(_counter)}"  # a fresh data source per batch: the context lives per process
    source = (
        ctx.data_sources.add_spark(name) if engine == "spark" else ctx.data_sources.add_pandas(name)
    )
    batch_def = source.add_dataframe_asset("data").add_batch_definition_whole_dataframe("all")
    batch = batch_def.get_batch(batch_parameters={"dataframe": frame})
    domain = []
    for i, exp in enumerate(expectations):
        conf = ExpectationConfiguration(
            type=exp["type"], kwargs=dict(exp["kwargs"]), meta={"mlci_index": i}
        )
        domain.append(conf.to_domain_obj())
    suite = gx.ExpectationSuite(name=name, expectations=domain)
    run = batch.validate(
        suite, result_format={"result_format": "SUMMARY", "partial_unexpected_count": SAMPLE_SIZE}
    )
    out: list[dict[str, Any] | None] = [None] * len(expectations)
    for r in run.results:
        index = (r.expectation_config.meta or {}).get("mlci_index")
        if index is None:  # pragma: no cover - GX keeps meta
            continue
        out[index] = _plain(expectations[index], r.success, r.result or {}, r.exception_info or {})
    try:
        ctx.data_sources.delete(name)
    except Exception:  # noqa: BLE001 - cleanup only
        pass
    return [
        o or {**_plain(e, False, {}, {}), "exception": "no result from GX"}
        for o, e in zip(out, expectations, strict=False)
    ]


def _exception_message(info: dict[str, Any]) -> str | None:
    if info.get("raised_exception"):
        return str(info.get("exception_message") or "exception")
    for value in info.values():  # keyed by metric when a metric failed
        if isinstance(value, dict) and value.get("raised_exception"):
            return str(value.get("exception_message") or "exception")
    return None


def _value(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, float) and math.isnan(value):
        return "NaN"
    text = str(value)
    return clip(text, _VALUE_LIMIT)


def _number(value: Any) -> Any:
    """A JSON number from numpy scalars; anything else as text."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    try:
        item = value.item()  # numpy scalar
    except AttributeError:
        return _value(value)
    return _number(item) if not hasattr(item, "item") else _value(item)


def _plain(
    exp: dict[str, Any], success: Any, result: dict[str, Any], info: dict[str, Any]
) -> dict[str, Any]:
    values = list(result.get("partial_unexpected_list") or [])[:SAMPLE_SIZE]
    rows = list(result.get("partial_unexpected_index_list") or [])[:SAMPLE_SIZE]
    sample = []
    for i, value in enumerate(values):
        row = rows[i] if i < len(rows) else None
        if isinstance(row, dict):  # a unexpected_index_column_names record
            row = None
        sample.append({"row": _number(row) if row is not None else None, "value": _value(value)})
    observed = result.get("observed_value")
    if observed is not None and not isinstance(observed, (int, float, str, bool)):
        observed = _number(observed) if hasattr(observed, "item") else _value(observed)
    exception = _exception_message(info)
    return {
        "type": exp["type"],
        "kwargs": json.loads(json.dumps(exp["kwargs"], default=str)),  # YAML dates -> text
        "success": bool(success) and exception is None,
        "element_count": _number(result.get("element_count")),
        "unexpected_count": _number(result.get("unexpected_count")),
        "unexpected_percent": _number(result.get("unexpected_percent")),
        "observed_value": observed,
        "sample": sample,
        "exception": exception,
    }
