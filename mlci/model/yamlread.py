"""One bounded YAML reader for the data files mlci reads (lock files, environment files,
workflows, metric files): a file a pull request writes is data, never trusted to be small.

A YAML alias is a reference; expanding one copies its whole subtree, so a few hundred bytes of
nested aliases stand for hundreds of millions of values ("billion laughs"). PyYAML builds an
alias as a shared object, but everything that walks the result afterwards (flattening metrics,
comparing, writing JSON) pays the whole expansion. So the node tree is composed first, its
expanded size counted in one pass linear in the file, and only then built. ``mlci.yaml`` has
its own loader with the same limits (``configfile.schema.bounded``), whose errors name the line
and key path.
"""

from __future__ import annotations

from typing import Any

import yaml

MAX_BYTES = 16 * 1024 * 1024  # a YAML file larger than this is not read
MAX_ALIAS_EXPANSION = 10_000  # values aliases add; hand-written YAML adds dozens
MAX_DEPTH = 200  # nesting levels
MAX_NODES = 2_000_000  # values in one document, aliases expanded


class YamlRefused(ValueError):
    """A YAML document mlci does not read: too large, an alias bomb, too deep, or invalid."""


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    return []


def check_bounds(root: yaml.Node) -> None:
    """Refuse a node tree whose aliases expand too far, that nests too deep or is too large.

    Iterative (a recursive walk would itself overflow on deep input); each distinct node is
    sized once and its size reused wherever an alias repeats it.
    """
    size: dict[int, int] = {}
    active: set[int] = set()
    repeated = 0
    stack: list[tuple[yaml.Node, int, bool]] = [(root, 1, False)]
    while stack:
        node, depth, done = stack.pop()
        key = id(node)
        if done:
            active.discard(key)
            size[key] = 1 + sum(size[id(c)] for c in _children(node))
            continue
        if key in size:
            repeated += size[key]
            if repeated > MAX_ALIAS_EXPANSION:
                raise YamlRefused(
                    f"YAML aliases repeat more than {MAX_ALIAS_EXPANSION:,} values (an alias bomb?)"
                )
            continue
        if key in active:
            raise YamlRefused("a YAML alias refers to a node that contains it")
        if depth > MAX_DEPTH:
            raise YamlRefused(f"YAML nested more than {MAX_DEPTH} levels deep")
        if len(size) + len(active) > MAX_NODES:
            raise YamlRefused(f"more than {MAX_NODES:,} values in one YAML document")
        active.add(key)
        stack.append((node, depth, True))
        stack.extend((child, depth + 1, False) for child in reversed(_children(node)))


def load(text: str | bytes, *, max_bytes: int = MAX_BYTES) -> Any:
    """The document in ``text`` (None when empty), built only after its bounds are checked.

    Raises :class:`YamlRefused` (a ``ValueError``) for anything it does not read, with one
    line saying why; never a ``yaml.YAMLError`` or a ``RecursionError``.
    """
    if len(text) > max_bytes:
        raise YamlRefused(f"{len(text):,} bytes of YAML, more than mlci reads ({max_bytes:,})")
    loader_cls = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # the C parser when PyYAML has it
    loader = loader_cls(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        check_bounds(node)
        return loader.construct_document(node)
    except RecursionError as exc:
        raise YamlRefused(f"YAML nested more than {MAX_DEPTH} levels deep") from exc
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" (line {mark.line + 1})" if mark else ""
        raise YamlRefused(f"invalid YAML{where}: {exc.problem or exc}") from exc
    except yaml.YAMLError as exc:
        raise YamlRefused(f"invalid YAML: {exc}") from exc
    finally:
        loader.dispose()
