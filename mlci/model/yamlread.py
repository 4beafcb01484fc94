"""One bounded YAML reader for the data files mlci reads (lock files, environment files,
workflows, metric files): a file a pull request writes is data, never trusted to be small.

A YAML alias is a reference; expanding one copies its whole subtree, so a few hundred bytes of
nested aliases stand for hundreds of millions of values ("billion laughs"). PyYAML builds an
alias as a shared object, but everything that walks the result afterwards (flattening metrics,
comparing, writing JSON) pays the whole expansion. So the node tree is composed first, its
expanded size counted in one pass linear in the file, and only then built. ``mlci.yaml`` has
its own loader on the same walk (``configfile.schema.bounded``, with tighter limits), whose
errors name the line and key path.
"""

from __future__ import annotations

from typing import Any

import yaml

MAX_BYTES = 16 * 1024 * 1024  # a YAML file larger than this is not read
MAX_ALIAS_EXPANSION = 10_000  # values aliases add; hand-written YAML adds dozens
MAX_DEPTH = 200  # nesting levels
MAX_NODES = 2_000_000  # values in one document, aliases expanded


class YamlRefused(ValueError):
    """A YAML document mlci does not read: too large, an alias bomb, too deep, or invalid.

    From :func:`check_bounds`, ``kind`` says which bound (alias, recursive, depth, nodes,
    digits), ``node`` where, and ``found`` the count that broke it, so a reader with its own
    wording (``mlci.yaml``'s, which names line and key) can say it its way.
    """

    def __init__(
        self, message: str, *, kind: str = "", node: yaml.Node | None = None, found: int = 0
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.node = node
        self.found = found


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    return []


_NUMBER_TAGS = ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float")


def check_bounds(
    root: yaml.Node,
    *,
    max_depth: int = MAX_DEPTH,
    max_alias_expansion: int = MAX_ALIAS_EXPANSION,
    max_digits: int | None = None,
) -> None:
    """Refuse a node tree whose aliases expand too far, that nests too deep or is too large,
    or (with ``max_digits``) that holds a plain number with more digits than that.

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
        if key in size:  # reached again through an alias: its whole subtree again
            repeated += size[key]
            if repeated > max_alias_expansion:  # named at the anchor whose copies tip it over
                raise YamlRefused(
                    f"YAML aliases repeat more than {max_alias_expansion:,} values (an alias bomb?)",
                    kind="alias",
                    node=node,
                    found=repeated,
                )
            continue
        if key in active:
            raise YamlRefused(
                "a YAML alias refers to a node that contains it", kind="recursive", node=node
            )
        if depth > max_depth:
            raise YamlRefused(
                f"YAML nested more than {max_depth} levels deep", kind="depth", node=node
            )
        if len(size) + len(active) > MAX_NODES:
            raise YamlRefused(
                f"more than {MAX_NODES:,} values in one YAML document", kind="nodes", node=node
            )
        if max_digits is not None and isinstance(node, yaml.ScalarNode) and not node.style:
            digits = sum(ch.isalnum() for ch in node.value)
            if digits > max_digits and node.tag in _NUMBER_TAGS:
                raise YamlRefused(
                    f"a number with {digits} digits", kind="digits", node=node, found=digits
                )
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
