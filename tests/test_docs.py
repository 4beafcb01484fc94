"""The documentation keeps up with the code.

``docs/troubleshooting.md`` must have an entry for every error and warning a
user can meet. The messages are found in ``mlci/`` with the ``ast`` module, not
by running anything, so a new ``raise ConfigError("...")`` without an entry
fails here the day it is written:

- the message of a call to an mlci error class (every class deriving from
  ``MlciError``) or to click's ``UsageError``: its first argument or ``message=``;
- the message of ``ctx.error(node, key, message)``, which builds the config
  loader's errors;
- the message of ``Reason(section, severity, message)``: what fails or warns a
  gate (a metric row's own judgement, ``regressed``, is the report, not an error),
  and of a data check's ``_finding(check, severity, message)``;
- ``log.warning(message)`` and ``warn(message)``, and any text printed as
  ``mlci: warning: ...``.

A message given as a variable is followed to the assignments of that name in
its function (or module); one returned by a call to a function of ``mlci`` is
followed to that function's ``return`` statements; an attribute (``event.no_ci``)
to what the one call in ``mlci`` that sets it passes (``no_ci=...``). Each message becomes a
template: its literal text, with every interpolated value as a gap. A message
whose literal text has fewer than 8 letters (``f"{what}: {exc}"``) only wraps
another one and is not listed.

An entry of the page quotes stable fragments of the messages it explains on a
line starting with ``>``: each `code span` there is one fragment. A message is
covered when one fragment lies inside one of its literal parts (between two
gaps), or, for a fragment that shows the gaps as ``…`` (``git … failed``), inside
the message with its gaps shown so; every fragment must cover some message, so
an entry cannot outlive its message.
"""

from __future__ import annotations

import ast
import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "troubleshooting.md"
PACKAGE = ROOT / "mlci"
GAP = "\x00"  # stands for an interpolated value in a message template
MIN_LETTERS = 8
MIN_FRAGMENT = 8
EXTRA_ERRORS = {"UsageError", "BadParameter", "ClickException"}  # click's, raised by cli.py
WARNING_PREFIX = "mlci: warning: "


@dataclass(frozen=True)
class Message:
    template: str  # literal text, GAP where a value goes
    where: str  # file:line of the call that emits it

    @property
    def parts(self) -> list[str]:
        return [p for p in self.template.split(GAP) if p]

    def shown(self) -> str:
        return self.template.replace(GAP, "…")


def _modules() -> dict[Path, ast.Module]:
    return {
        p: ast.parse(p.read_text(encoding="utf-8"), str(p)) for p in sorted(PACKAGE.rglob("*.py"))
    }


def _error_classes(modules: dict[Path, ast.Module]) -> set[str]:
    """MlciError and every class of mlci that derives from it, however deep."""
    bases: dict[str, set[str]] = {}
    for tree in modules.values():
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                bases[node.name] = {_name(b) or "" for b in node.bases}
    found = {"MlciError"}
    while True:
        more = {c for c, bs in bases.items() if bs & found} - found
        if not more:
            return found | EXTRA_ERRORS
        found |= more


def _name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def _arg(call: ast.Call, index: int, keyword: str) -> ast.expr | None:
    if len(call.args) > index:
        return call.args[index]
    return next((k.value for k in call.keywords if k.arg == keyword), None)


class _Finder:
    def __init__(self, modules: dict[Path, ast.Module]) -> None:
        self.modules = modules
        self.errors = _error_classes(modules)
        self.functions: dict[str, list[ast.FunctionDef]] = {}
        self.keywords: dict[str, list[ast.expr]] = {}  # name -> values given as name=... anywhere
        for tree in modules.values():
            for node in ast.walk(tree):
                if isinstance(node, ast.FunctionDef):
                    self.functions.setdefault(node.name, []).append(node)
                elif isinstance(node, ast.Call):
                    for k in node.keywords:
                        if k.arg:
                            self.keywords.setdefault(k.arg, []).append(k.value)

    def texts(self, expr: ast.expr, scopes: list[ast.AST], depth: int = 0) -> Iterator[str]:
        """Every template the expression can evaluate to, as far as the source says."""
        if isinstance(expr, ast.Constant) and isinstance(expr.value, str):
            yield expr.value
        elif isinstance(expr, ast.JoinedStr):
            yield "".join(v.value if isinstance(v, ast.Constant) else GAP for v in expr.values)
        elif isinstance(expr, ast.BinOp) and isinstance(expr.op, ast.Add):
            for left in list(self.texts(expr.left, scopes, depth)) or [GAP]:
                for right in list(self.texts(expr.right, scopes, depth)) or [GAP]:
                    yield left + right
        elif isinstance(expr, ast.IfExp):
            yield from self.texts(expr.body, scopes, depth)
            yield from self.texts(expr.orelse, scopes, depth)
        elif isinstance(expr, ast.BoolOp):
            for value in expr.values:
                yield from self.texts(value, scopes, depth)
        elif isinstance(expr, ast.Name) and depth < 3:
            for scope in scopes:  # the innermost function first, the module last
                values = [
                    node.value
                    for node in ast.walk(scope)
                    if isinstance(node, ast.Assign | ast.AnnAssign)
                    and node.value is not None
                    and any(
                        isinstance(t, ast.Name) and t.id == expr.id
                        for t in (node.targets if isinstance(node, ast.Assign) else [node.target])
                    )
                ]
                if values:
                    for value in values:
                        yield from self.texts(value, scopes, depth + 1)
                    return
        elif isinstance(expr, ast.Attribute) and depth < 2:
            # a field of a value built in one place (event.no_ci): what that call passes as
            # no_ci=...; a name many calls pass (message=) says nothing about this one
            values = self.keywords.get(expr.attr, [])
            for value in values if len(values) <= 2 else []:
                yield from self.texts(value, [], depth + 1)
        elif isinstance(expr, ast.Call) and depth < 2:
            for func in self.functions.get(_name(expr.func) or "", []):
                for node in ast.walk(func):
                    if isinstance(node, ast.Return) and node.value is not None:
                        yield from self.texts(node.value, [func], depth + 1)

    def messages(self) -> list[Message]:
        found: list[Message] = []
        for path, tree in self.modules.items():
            rel = path.relative_to(ROOT)
            for scopes, call in _calls(tree):
                name = _name(call.func)
                if name in self.errors:
                    expr = _arg(call, 0, "message")
                elif name == "error" and len(call.args) >= 3:  # ctx.error(node, key, message)
                    expr = call.args[2]
                elif name == "Reason":
                    expr = _arg(call, 2, "message")
                elif name == "_finding":  # a data check's finding (engine/datajudge.py)
                    expr = _arg(call, 2, "message")
                elif name in ("warning", "warn"):
                    expr = _arg(call, 0, "message")
                else:
                    expr = None
                    for arg in call.args:
                        for text in self.texts(arg, scopes):
                            if text.startswith(WARNING_PREFIX):
                                found.append(
                                    Message(text[len(WARNING_PREFIX) :], f"{rel}:{call.lineno}")
                                )
                if expr is None:
                    continue
                for text in self.texts(expr, scopes):
                    found.append(Message(text.removeprefix(WARNING_PREFIX), f"{rel}:{call.lineno}"))
        return [
            m for m in found if sum(c.isalpha() for c in m.template.replace(GAP, "")) >= MIN_LETTERS
        ]


def _calls(tree: ast.Module) -> Iterator[tuple[list[ast.AST], ast.Call]]:
    """Every call with its enclosing scopes, innermost first."""

    def walk(node: ast.AST, scopes: list[ast.AST]) -> Iterator[tuple[list[ast.AST], ast.Call]]:
        for child in ast.iter_child_nodes(node):
            inner = (
                [child, *scopes]
                if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
                else scopes
            )
            if isinstance(child, ast.Call):
                yield scopes, child
            yield from walk(child, inner)

    yield from walk(tree, [tree])


@functools.cache
def messages() -> tuple[Message, ...]:
    return tuple(_Finder(_modules()).messages())


def fragments() -> list[str]:
    """The quoted fragments of the page: the code spans of its lines that start with '>'."""
    quoted = []
    for line in PAGE.read_text(encoding="utf-8").splitlines():
        if line.startswith(">"):
            quoted += re.findall(r"`([^`]+)`", line)
    return quoted


def covers(fragment: str, message: Message) -> bool:
    if "…" in fragment:
        return fragment in message.shown()
    return any(fragment in part for part in message.parts)


def test_the_finder_sees_each_kind_of_message():
    shown = {m.shown() for m in messages()}
    # one of each kind: an error class, ctx.error, Reason, log.warning, a printed warning
    assert "config file not found" in shown
    assert any(s.startswith("unknown key") for s in shown), sorted(shown)[:20]
    assert any("is declared in dvc.yaml but was not produced" in s for s in shown)
    assert any(s.startswith("cannot fetch the results history") for s in shown)
    assert any(s.startswith("could not check") for s in shown)


def test_every_fragment_is_long_enough_to_mean_something():
    short = [f for f in fragments() if len(f) < MIN_FRAGMENT]
    assert not short, f"fragments shorter than {MIN_FRAGMENT} characters: {short}"


def test_every_error_and_warning_has_a_troubleshooting_entry():
    quoted = fragments()
    missing = sorted(
        {f"{m.where}: {m.shown()}" for m in messages() if not any(covers(f, m) for f in quoted)}
    )
    assert not missing, (
        f"{len(missing)} messages have no entry in docs/troubleshooting.md "
        "(quote a stable fragment of each on a '>' line):\n" + "\n".join(missing)
    )


def test_every_troubleshooting_entry_matches_a_message():
    found = messages()
    stale = [f for f in fragments() if not any(covers(f, m) for m in found)]
    assert not stale, f"fragments in docs/troubleshooting.md that no message contains: {stale}"


@pytest.mark.parametrize("path", sorted(p.name for p in (ROOT / "docs").glob("*.md")))
def test_docs_never_point_at_the_projects_own_contract(path):
    text = (ROOT / "docs" / path).read_text(encoding="utf-8")
    assert not re.search(r"\bSPEC\b", text)


# --- each command's --help ends with its page of the site -------------------------------------


def _commands() -> list[str]:
    from mlci import cli

    found = [""]

    def walk(group: object, prefix: str) -> None:
        for name, command in sorted(getattr(group, "commands", {}).items()):
            path = f"{prefix}{name}"
            found.append(path)
            walk(command, f"{path} ")

    walk(cli.cli, "")
    return found


def _anchors(page: Path) -> set[str]:
    """The ids mkdocs' toc gives the page's headings (its default slugify)."""
    ids = set()
    fence = False
    for line in page.read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            fence = not fence
        elif not fence and (m := re.match(r"#+ (.*)", line)):
            slug = re.sub(r"[^\w\s-]", "", m.group(1)).strip().lower()
            ids.add(re.sub(r"[-\s]+", "-", slug))
    return ids


def test_the_docs_url_is_the_sites():
    from mlci.commands import helpdocs

    site = re.search(r"^site_url: (\S+)", (ROOT / "mkdocs.yml").read_text(), flags=re.M)
    assert site and site.group(1) == helpdocs.DOCS_URL


@pytest.mark.parametrize("command", _commands())
def test_help_ends_with_the_page_of_the_command(command, capsys):
    from mlci import cli
    from mlci.commands import helpdocs

    top = command.split(" ")[0]  # a subcommand shows its group's page
    assert top in helpdocs.DOCS_PAGES, f"mlci {command}: no page in mlci.helpdocs.DOCS_PAGES"
    page = helpdocs.DOCS_PAGES[top]
    assert cli.main([*command.split(), "--help"]) == 0
    out = capsys.readouterr().out
    assert out.rstrip("\n").splitlines()[-1] == f"Docs: {helpdocs.DOCS_URL}{page}"
    path, _, anchor = page.partition("#")
    doc = ROOT / "docs" / (f"{path.rstrip('/')}.md" if path else "index.md")
    assert doc.exists(), f"mlci {command}: {page} is no page of docs/"
    assert not anchor or anchor in _anchors(doc), f"mlci {command}: no heading #{anchor} in {doc}"


# --- the README is a front page ---------------------------------------------------------------


def test_the_readme_is_a_front_page():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 300
    # the two commands, literally, and the picture, which exists and stays small
    assert re.search(r"^make demo\b", text, flags=re.M)
    assert re.search(r"^make test\b", text, flags=re.M)
    picture = ROOT / "docs" / "images" / "report.png"
    assert "](docs/images/report.png)" in text
    assert picture.stat().st_size < 300_000


def test_the_readmes_links_lead_somewhere():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    targets = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text)
    local = [t for t in targets if not re.match(r"[a-z]+:", t)]
    assert local, "the README links into docs/"
    missing = [t for t in local if not (ROOT / t).exists()]
    assert not missing, f"README links to files that do not exist: {missing}"
    # and every page of the site's nav is a file of docs/
    nav = re.findall(r":\s+(\S+\.md)\s*$", (ROOT / "mkdocs.yml").read_text(), flags=re.M)
    assert nav and all((ROOT / "docs" / page).exists() for page in nav)
