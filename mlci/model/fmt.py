"""Formatting helpers shared by every renderer: numbers, deltas, escaping.

Everything that comes from the pull request (metric and param names and
values, stage logs, data samples) passes through :func:`md_code` or
:func:`md_text` before it enters Markdown, so it cannot open HTML, break a
table, start a link or mention someone.
"""

from __future__ import annotations

import math
import re
from typing import Any, TypeGuard

MINUS = "\u2212"  # a real minus sign reads better than a hyphen in tables

_SAFE_CODE = re.compile(r"[A-Za-z0-9_.,:/+=()\[\]{}#%~ -]*")
_ENTITY = {
    "&": "&amp;",
    "<": "&lt;",
    ">": "&gt;",
    '"': "&quot;",
    "|": "&#124;",
    "`": "&#96;",
    "*": "&#42;",
    "_": "&#95;",
    "[": "&#91;",
    "]": "&#93;",
    "\\": "&#92;",
    "@": "&#64;",
    "#": "&#35;",
    "~": "&#126;",
    "$": "&#36;",
    "!": "&#33;",
}
_LINE_START = re.compile(r"^([-+*]|\d+[.)])(?=\s|$)")


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _entities(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\n", " ")
    text = "".join(_ENTITY.get(ch, ch) for ch in text)
    # a leading "- ", "+ " or "1. " could start a list where the text begins a line
    return _LINE_START.sub(lambda m: f"&#{ord(m.group(0)[0])};{m.group(0)[1:]}", text)


def md_code(text: Any, limit: int = 200) -> str:
    """Inline code for a name or value from the PR, safe anywhere in Markdown.

    Plain names get backticks; anything with characters that Markdown or HTML
    could act on becomes ``<code>`` with every such character as an entity.
    """
    text = clip(str(text), limit)
    if text and _SAFE_CODE.fullmatch(text) and not text.startswith(" ") and not text.endswith(" "):
        return f"`{text}`"
    return f"<code>{_entities(text)}</code>"


def md_text(text: Any, limit: int = 500) -> str:
    """Prose from the PR (messages that embed names): entities for everything active.

    A zero-width space after ``@`` keeps GitHub from turning it into a mention
    once the entity is decoded (code spans are exempt from mentions anyway).
    """
    text = _entities(clip(str(text), limit)).replace("&#64;", "&#64;&#8203;")
    # nor into a link: GitHub links bare URLs and www. names in prose
    return re.sub(r"(?i)(://|\bwww\.)", lambda m: m.group(0)[0] + "&#8203;" + m.group(0)[1:], text)


def md_block(text: Any, *, line_limit: int = 300, limit: int = 8000) -> str:
    """A fenced code block for a log from the PR: shown verbatim, interpreted never.

    Nothing inside a fence is Markdown, HTML or a mention; the fence is longer
    than any run of backticks in the text, so no line of it can close it.
    """
    lines = [
        clip(line.replace("\t", "    "), line_limit)
        for line in str(text).replace("\r\n", "\n").replace("\r", "\n").split("\n")
    ]
    body = clip("\n".join(lines), limit)
    longest = max((len(run) for run in re.findall(r"`+", body)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}text\n{body}\n{fence}"


def is_number(value: Any) -> TypeGuard[int | float]:
    """A real number: an int or a float, not a bool (JSON's true is no metric value)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def as_float(value: int | float) -> float:
    """A number as a float; an integer beyond a float's range (a 401-digit metric) is +-inf."""
    try:
        return float(value)
    except OverflowError:
        return math.inf if value > 0 else -math.inf


def number(value: Any) -> str:
    """A metric value for humans: ints with separators, floats to 4 decimals."""
    if value is None:
        return "—"
    if isinstance(value, bool) or not is_number(value):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}".replace("-", MINUS)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "∞" if value > 0 else f"{MINUS}∞"
    if value != 0 and (abs(value) >= 1e9 or abs(value) < 1e-4):
        return f"{value:.3e}".replace("-", MINUS)
    text = f"{value:,.4f}".rstrip("0")
    if text.endswith("."):
        text += "0"
    return text.replace("-", MINUS)


def param(value: Any) -> str:
    """A param value as the params file writes it: ``20170428``, ``5000``, ``0.001`` (never
    ``20,170,428``: a seed or a count is an identifier as much as a number)."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and math.isfinite(value):
        return repr(value)
    return str(value)


def plain(value: float, digits: int = 2) -> str:
    """``value`` to ``digits`` significant digits, never in scientific notation: an allowance
    of 310.4 % is ``310``, not ``3.1e+02``; 0.0033 stays ``0.0033``."""
    if not math.isfinite(value):
        return str(value)
    if value == 0:
        return "0"
    magnitude = math.floor(math.log10(abs(value)))
    decimals = max(0, digits - 1 - magnitude)
    text = f"{round(value, decimals):.{decimals}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def signed(value: float) -> str:
    if value == 0:
        return "0"
    body = number(abs(value))
    return ("+" if value > 0 else MINUS) + body


def percent(value: float | None) -> str:
    if value is None:
        return ""
    if not math.isfinite(value):
        return ""
    if abs(value) >= 100:
        text = f"{abs(value):,.0f}"
    elif abs(value) >= 10:
        text = (
            f"{abs(value):.0f}" if float(f"{abs(value):.1f}").is_integer() else f"{abs(value):.1f}"
        )
    else:
        text = f"{abs(value):.2g}" if abs(value) < 1 else f"{abs(value):.1f}"
    sign = "+" if value > 0 else (MINUS if value < 0 else "")
    return f"{sign}{text} %"


ARROWS = {"improved": "▲", "regressed": "▼"}


def change(delta: float | None, delta_pct: float | None, status: str) -> str:
    """``▼ −0.0314 (−3.2 %)``: arrow by verdict of the direction, sign by value."""
    if status in ("new", "no_baseline"):
        return "new"
    if status in ("removed", "unreadable"):
        return status
    if delta is None:
        return "changed" if status == "changed" else ""
    if status == "unchanged":
        return "0"
    pct = percent(delta_pct)
    arrow = ARROWS.get(status, "")
    text = signed(delta) + (f" ({pct})" if pct else "")
    return f"{arrow} {text}".strip()


ICONS = {"fail": "❌", "warn": "⚠️", "pass": "✅", "info": ""}
VERDICT_ICONS = {"fail": "❌", "warn": "⚠️", "pass": "✅"}


def plural(n: int, word: str, many: str | None = None) -> str:
    return f"{n:,} {word if n == 1 else (many or word + 's')}"


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(round(seconds)), 60)
    return f"{minutes} min {secs:02d} s"


def without_credentials(url: str) -> str:
    """``url`` without a ``user:password@`` part: safe to show or link to."""
    from urllib.parse import urlsplit, urlunsplit

    try:
        parts = urlsplit(url)
    except ValueError:
        return re.sub(r"//[^/@]*@", "//", url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))


# --- text for a terminal ----------------------------------------------------------------

# Names, logs and messages from a pull request reach terminals and CI logs. A terminal acts on
# escape sequences: OSC 8 makes a hidden link, OSC 52 writes the clipboard, DCS talks to the
# terminal itself, CSI moves the cursor and clears lines (7-bit ESC [ or the 8-bit 0x9b). A whole
# sequence is removed, parameters included, when it ends on the same line; otherwise only its
# introducer goes and the rest stays visible. Then every control character left but newline and
# tab is removed (a carriage return could overwrite what a line says).
_TERMINAL_SEQUENCE = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]"  # CSI: cursor, erase, colours
    r"|(?:\x1b[\]P^_X]|[\x90\x98\x9d\x9e\x9f])[^\x07\x1b\x9c\n]*(?:\x07|\x1b\\|\x9c)"  # OSC, DCS, ...
    r"|\x1b[ -/]*[0-~]?"  # any other escape (charset, keypad), or a lone ESC
)
_TERMINAL_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_SGR = re.compile(r"\x1b\[[0-9;]*m")


def terminal_text(text: str, *, keep_colours: bool = False) -> str:
    """``text`` without anything a terminal would act on: only newline and tab survive.

    ``keep_colours`` keeps SGR colour sequences (``ESC [ ... m``), for mlci's own coloured
    output whose PR text was cleaned before it was coloured.
    """
    if keep_colours:
        parts = _SGR.split(text)
        colours = _SGR.findall(text)
        out = [terminal_text(parts[0])]
        for colour, part in zip(colours, parts[1:], strict=False):
            out += [colour, terminal_text(part)]
        return "".join(out)
    if not _TERMINAL_CONTROL.search(text):
        return text
    return _TERMINAL_CONTROL.sub("", _TERMINAL_SEQUENCE.sub("", text))


def one_line(text: str) -> str:
    """A message that must stay one line: line breaks and control characters as escapes."""
    return re.sub(
        r"[\x00-\x1f\x7f-\x9f\u2028\u2029]",
        lambda m: (
            "\\n"
            if m.group(0) == "\n"
            else f"\\x{ord(m.group(0)):02x}"
            if ord(m.group(0)) < 0x100
            else f"\\u{ord(m.group(0)):04x}"
        ),
        text,
    )


_SECRET_QUERY = re.compile(
    r"(?i)(token|secret|password|passwd|pwd|key|sig|signature|credential|auth)"
)


def mask_credentials(url: str) -> str:
    """``url`` for display: a ``user:password@`` part and secret-looking query values become ``***``.

    Unlike :func:`without_credentials` the URL keeps its shape, so a reader sees
    that credentials are set, without seeing them.
    """
    from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

    try:
        parts = urlsplit(url)
    except ValueError:
        return re.sub(r"//[^/@]*@", "//***@", url)
    netloc = parts.netloc
    if "@" in netloc:
        netloc = "***@" + netloc.rsplit("@", 1)[1]
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        query = urlencode(
            [(k, "***" if _SECRET_QUERY.search(k) else v) for k, v in pairs], safe="*"
        )
    return urlunsplit(parts._replace(netloc=netloc, query=query))


def safe_url(url: Any) -> str | None:
    """An http(s) URL that cannot break out of a Markdown link, else None.

    A result may come from an untrusted run (the fork-safe flow), so its URLs are checked.
    """
    if isinstance(url, str) and re.fullmatch(r"https?://[^\s()<>\[\]`\\]+", url):
        return url
    return None
