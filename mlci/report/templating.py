"""The Jinja2 sandbox every template renders in: the report's, the HTML page's, the model card's,
``mlci init``'s files.

A template (even a repository's override in ``.mlci/templates/``) sees plain
data only and cannot run code; a broken or unsafe one is a config error.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mlci.model import fmt
from mlci.model.result import Result
from mlci.report.view import stage_status


def template_dirs(root: Path | None = None) -> list[Path]:
    """Where templates are looked up: the repo's override, the wheel, the source tree."""
    here = Path(__file__).resolve().parent.parent  # the package: mlci/templates in a wheel
    dirs = []
    if root is not None:
        dirs.append(root / ".mlci" / "templates")
    dirs += [here / "templates", here.parent / "templates"]
    return [d for d in dirs if d.is_dir()]


def sandboxed_environment(root: Path | None, **options: Any):  # -> jinja2.Environment
    """A sandboxed Jinja2 environment: a template (even a repository's override) cannot run code.

    The sandbox only stops ``_private`` attributes; anything reachable through a
    public attribute (a module's, a function's) is still reachable. So the
    template's globals are emptied (``cycler``, ``lipsum``, ``namespace``,
    ``dict``, ``joiner``, ``range`` are objects with a way out) and its values
    are plain data only (see :func:`plain`): nothing but filters can call code.
    """
    import jinja2
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    env = ImmutableSandboxedEnvironment(
        loader=jinja2.FileSystemLoader([str(d) for d in template_dirs(root)]),
        undefined=jinja2.StrictUndefined,
        **options,
    )
    env.globals.clear()
    return env


_PLAIN_TYPES = (str, int, float, bool, type(None))


def plain(value: Any) -> Any:
    """``value`` as dicts, lists, strings, numbers, booleans and None: what a template may see.

    Dataclasses become dicts of their fields. Anything else (a module, a class,
    a function, a bound method) is a bug in mlci and raises ``TypeError``: a
    template given an object can walk from it to ``os``.
    """
    import dataclasses

    if type(value) in _PLAIN_TYPES:
        return value
    if isinstance(value, str):  # Markup and other str subclasses: their methods stay behind
        return str(value)
    if isinstance(value, (int, float)) and not callable(value):
        return (
            bool(value)
            if isinstance(value, bool)
            else (int(value) if isinstance(value, int) else float(value))
        )
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    raise TypeError(f"a template may only see plain data, not {type(value).__name__}")


def template_values(v: dict[str, Any]) -> dict[str, Any]:
    """The view for a template: plain data; ``result`` as its JSON form plus ``tool_version``."""
    out = {k: val for k, val in v.items() if k != "result"}
    result: Result = v["result"]
    doc = result.to_dict()
    doc["tool_version"] = result.tool_version
    out["result"] = doc
    out["icons"] = dict(fmt.ICONS)
    return plain(out)


def markdown_environment(root: Path | None):  # -> jinja2.Environment
    """The Jinja2 set-up of mlci's Markdown templates (the report, the model card, ``mlci init``'s
    files): a repository's override in ``.mlci/templates/`` first, sandboxed, with the filters
    that escape each value for Markdown."""
    env = sandboxed_environment(
        root,
        autoescape=False,  # Markdown, escaped field by field with md_code/md_text
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(
        code=fmt.md_code,
        text=fmt.md_text,
        number=fmt.number,
        duration=fmt.duration,
        plural=fmt.plural,
        block=fmt.md_block,
        stage_status=stage_status,
    )
    return env


def render_template(env: Any, name: str, **values: Any) -> str:
    """Render one template; a broken or unsafe template (say, a repository's override) is exit 2.

    ``values`` must be plain data (:func:`plain`); this is checked, not assumed.
    """
    import jinja2
    from jinja2.sandbox import SecurityError

    from mlci.model.errors import ConfigError

    values = plain(values)
    try:
        template = env.get_template(name)
        return str(template.render(**values))
    except jinja2.TemplateSyntaxError as exc:
        raise ConfigError(
            f"template syntax error: {exc.message}", file=exc.filename or name, line=exc.lineno
        ) from exc
    except SecurityError as exc:
        raise ConfigError(f"the template tried something unsafe: {exc}", file=name) from exc
    except jinja2.UndefinedError as exc:
        raise ConfigError(
            f"the template uses something mlci does not give templates: {exc.message}", file=name
        ) from exc
    except jinja2.TemplateError as exc:
        raise ConfigError(f"the template failed: {exc.message}", file=name) from exc
