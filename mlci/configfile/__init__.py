"""``mlci.yaml``: the YAML-node loader and its schema, producing ``mlci.model.config.Config``."""

from __future__ import annotations

from mlci.configfile.load import for_project, load, parse
from mlci.configfile.schema import SCHEMA, KeySpec, schema_keys
from mlci.model.config import DEFAULT_CONFIG, Config

__all__ = [
    "DEFAULT_CONFIG",
    "SCHEMA",
    "Config",
    "KeySpec",
    "for_project",
    "load",
    "parse",
    "schema_keys",
]
