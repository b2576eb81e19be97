"""HTML building blocks of the local console: the page frame, escaping, links, times, literals.

Everything that reaches a page goes through :func:`e` (text and attribute values, which are always
single-quoted) or :func:`href` (URLs: only ``http(s)://`` and same-origin paths become links). Pages load
nothing from elsewhere: the style sheet is inline, scripts are first-party files under ``/console/static/``,
and the HTTP server adds a Content-Security-Policy that forbids any other origin.

Theme: colours are CSS custom properties on ``:root``, one set for light and one for
``prefers-color-scheme: dark``; components (the DAG, the timeline) use them instead of literal colours:

- ``--bg``, ``--fg``, ``--muted`` (secondary text), ``--border``, ``--surface`` (table headers, code),
  ``--hl`` (a highlighted row), ``--warn-bg`` (something waiting), ``--link``, ``--focus`` (focus outline);
- phase tones ``--ok``, ``--fail``, ``--run``, ``--idle`` (text colours; :func:`phase_tone` maps a phase name
  to one) and ``--ok-bg``, ``--fail-bg``, ``--run-bg``, ``--idle-bg`` (fills to draw them on).

Every text colour has a contrast of at least 4.5:1 on ``--bg``, ``--surface``, ``--hl``, ``--warn-bg`` and its
tone's fill, in both schemes (tests/local/test_console_lists.py checks it). A phase is always written out as
text too, never shown by colour alone. ``.vh`` hides text visually but keeps it for screen readers.

Accessibility of the frame: a skip link, landmarks (``<header>`` with ``<nav aria-label='breadcrumb'>``,
``<main>``), visible focus outlines, column headers with ``scope``, optional table captions.
"""

from __future__ import annotations

import html
from urllib.parse import quote

from flyteidl.core import execution_pb2 as core_execution_pb2
from flyteidl.core import identifier_pb2, literals_pb2
from google.protobuf import duration_pb2, timestamp_pb2

HTML = "text/html; charset=utf-8"
WF_PHASE = core_execution_pb2.WorkflowExecution.Phase
NODE_PHASE = core_execution_pb2.NodeExecution.Phase
TASK_PHASE = core_execution_pb2.TaskExecution.Phase
WF_TERMINAL = frozenset({"SUCCEEDED", "FAILED", "ABORTED", "TIMED_OUT"})
RELOAD_S = 2  # a running execution's page reloads itself this often
MAX_LITERAL_ITEMS = 20
MAX_VALUE_CHARS = 4000  # of one value's rendering on a page

# Light and dark palettes (see the module docstring): every text colour >= 4.5:1 on every background.
THEME: dict[str, dict[str, str]] = {
    "light": {
        "bg": "#ffffff",
        "fg": "#1b1f24",
        "muted": "#545d68",
        "border": "#c3c8ce",
        "surface": "#f1f3f5",
        "hl": "#e7f0fd",
        "warn-bg": "#fff3c4",
        "link": "#0a55c2",
        "focus": "#1d4ed8",
        "ok": "#176b2c",
        "fail": "#b3261e",
        "run": "#0a58b0",
        "idle": "#545d68",
        "ok-bg": "#e3f4e7",
        "fail-bg": "#fde8e6",
        "run-bg": "#e3eefb",
        "idle-bg": "#eef0f2",
    },
    "dark": {
        "bg": "#15181d",
        "fg": "#e6e9ed",
        "muted": "#a6afb9",
        "border": "#48505a",
        "surface": "#20252c",
        "hl": "#1b2a3f",
        "warn-bg": "#3a3214",
        "link": "#82b8ff",
        "focus": "#8ab4ff",
        "ok": "#5fcf80",
        "fail": "#ff8a80",
        "run": "#74b9ff",
        "idle": "#a6afb9",
        "ok-bg": "#173222",
        "fail-bg": "#3d1b1a",
        "run-bg": "#162b45",
        "idle-bg": "#262b32",
    },
}
TEXT_COLOURS = ("fg", "muted", "link", "ok", "fail", "run", "idle")
BACKGROUNDS = ("bg", "surface", "hl", "warn-bg")
TONES = ("ok", "fail", "run", "idle")
_OK = ("SUCCEEDED", "SUCCEEDING", "RECOVERED", "CACHE_HIT", "CACHE_POPULATED")
_FAIL = ("FAILED", "FAILING", "TIMED_OUT", "RETRYABLE_FAILED", "CACHE_LOOKUP_FAILURE", "CACHE_PUT_FAILURE")
_RUN = ("RUNNING", "QUEUED", "DYNAMIC_RUNNING", "INITIALIZING", "WAITING_FOR_RESOURCES", "ABORTING")


def phase_tone(name: str) -> str:
    """The tone (``ok``, ``fail``, ``run``, ``idle``) of a workflow, node or task phase or of a cache status
    name: its colours are ``var(--<tone>)`` on ``var(--<tone>-bg)``."""
    if name in _OK:
        return "ok"
    if name in _FAIL:
        return "fail"
    if name in _RUN:
        return "run"
    return "idle"


def _vars(palette: dict[str, str]) -> str:
    return ":root{" + ";".join(f"--{k}:{v}" for k, v in palette.items()) + "}"


def _phase_rules() -> str:
    """``.SUCCEEDED{color:var(--ok)}``... for every phase and cache status name (the classes of
    :func:`phase_span` and of the node list's cache status)."""
    names = [*_OK, *_FAIL, *_RUN, "ABORTED", "SKIPPED", "UNDEFINED", "PAUSED"]
    names += ["CACHE_DISABLED", "CACHE_MISS", "CACHE_SKIPPED", "CACHE_EVICTED"]
    by_tone: dict[str, list[str]] = {}
    for name in names:
        by_tone.setdefault(phase_tone(name), []).append(f".{name}")
    return "".join(",".join(sel) + f"{{color:var(--{tone})}}" for tone, sel in by_tone.items())


_STYLE = (
    ":root{color-scheme:light dark}"
    + _vars(THEME["light"])
    + "@media (prefers-color-scheme:dark){"
    + _vars(THEME["dark"])
    + "}"
    "body{font-family:system-ui,sans-serif;margin:0;background:var(--bg);color:var(--fg);line-height:1.4}"
    "header{padding:.8em 2em;border-bottom:1px solid var(--border);background:var(--surface)}"
    "main{display:block;padding:1em 2em 2em}main:focus{outline:none}"
    "nav{color:var(--muted)}"
    ".skip{position:absolute;left:-999em;top:.5em;padding:.4em .8em;background:var(--bg);z-index:9}"
    ".skip:focus{left:1em}"
    "a{color:var(--link)}a:hover{text-decoration-thickness:2px}"
    ":focus-visible{outline:3px solid var(--focus);outline-offset:2px}"
    "table{border-collapse:collapse;margin:.3em 0}"
    "td,th{border:1px solid var(--border);padding:.25em .5em;text-align:left;vertical-align:top}"
    "th{background:var(--surface)}caption{text-align:left;font-weight:600;padding:.2em 0}"
    "code,pre{font-family:ui-monospace,monospace}" + _phase_rules() + ".waiting{background:var(--warn-bg)}"
    "pre{white-space:pre-wrap;overflow-wrap:anywhere;max-width:70em;margin:0}.err{color:var(--fail)}.muted{color:var(--muted)}"
    "td.node,td.kind{overflow-wrap:anywhere;max-width:24em}td.t,.nw{white-space:nowrap}.hl{background:var(--hl)}"
    "summary{cursor:pointer}details ul{margin:.2em 0;padding-left:1.2em}"
    ".vh{position:absolute;width:1px;height:1px;overflow:hidden;clip-path:inset(50%);white-space:nowrap}"
    "form.filters{display:flex;flex-wrap:wrap;gap:.6em 1em;align-items:end;margin:.6em 0}"
    "form.filters label{display:flex;flex-direction:column;font-size:.9em;color:var(--muted)}"
    "input,select,button{font:inherit;color:var(--fg);background:var(--bg);border:1px solid var(--border);"
    "border-radius:3px;padding:.2em .4em}button{background:var(--surface);cursor:pointer}"
)


def e(text: object) -> str:
    """Escaped text, safe in element content and in single- or double-quoted attribute values."""
    return html.escape(str(text), quote=True)


def seg(text: str) -> str:
    """One URL path segment (``/`` and everything else outside unreserved characters percent-encoded)."""
    return quote(text, safe="")


def href(url: str) -> str | None:
    """``url`` if it may be linked (http, https, or a path on this server), else None."""
    lowered = url.strip().lower()
    if lowered.startswith(("http://", "https://")) or (url.startswith("/") and not url.startswith("//")):
        return url
    return None


def link(url: str, text: str) -> str:
    """``<a>`` to ``url``, or just the escaped text when the URL is not a safe link."""
    safe = href(url)
    return f"<a href='{e(safe)}'>{e(text)}</a>" if safe is not None else e(text)


def exec_url(project: str, domain: str, name: str) -> str:
    """The console page of an execution."""
    return f"/console/projects/{seg(project)}/domains/{seg(domain)}/executions/{seg(name)}"


def entity_url(ident: identifier_pb2.Identifier) -> str:
    """The console page of a task, workflow or launch plan version (the URL form flytekit prints)."""
    kind = {identifier_pb2.TASK: "task", identifier_pb2.WORKFLOW: "workflow"}.get(
        ident.resource_type, "launch_plan"
    )
    return (
        f"/console/projects/{seg(ident.project)}/domains/{seg(ident.domain)}/{kind}/{seg(ident.name)}"
        f"/version/{seg(ident.version)}"
    )


_COMPONENT_CSS: dict[str, str] = {}


def register_css(name: str, css: str) -> None:
    """Adds a component's style rules (the DAG, the timeline...) to every page's inline style sheet."""
    _COMPONENT_CSS[name] = css


def page(
    title: str, body: str, *, nav: str = "", reload: bool = False, scripts: tuple[str, ...] = ()
) -> bytes:
    """A whole page. ``scripts``: names of first-party scripts served under ``/console/static/`` (the only
    scripts a page may load); ``reload``: the page reloads itself every RELOAD_S seconds -- with ``scripts``,
    only in a browser that runs no script (they update the page instead): the refresh is then in a
    ``<noscript>`` of the head, the one place HTML allows a meta in a noscript."""
    head = f"<meta http-equiv='refresh' content='{RELOAD_S}'>" if reload else ""
    if head and scripts:
        head = f"<noscript>{head}</noscript>"
    head += "".join(f"<script src='/console/static/{e(name)}' defer></script>" for name in scripts)
    style = _STYLE + "".join(_COMPONENT_CSS.values())
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width'><meta name='color-scheme' content='light dark'>"
        f"{head}<title>{e(title)} · flyte-ls local</title><style>{style}</style></head>"
        "<body><header><a class='skip' href='#main'>Skip to main content</a>"
        f"<nav aria-label='breadcrumb'><a href='/console'>flyte-ls local</a>{nav}</nav></header>"
        f"<main id='main' tabindex='-1'>{body}</main></body></html>\n"
    ).encode()


def phase_span(name: str) -> str:
    return f"<span class='{e(name)}'>{e(name)}</span>"


def ts(t: timestamp_pb2.Timestamp) -> str:
    return t.ToDatetime().strftime("%Y-%m-%d %H:%M:%S UTC") if t.seconds or t.nanos else ""


def dur(d: duration_pb2.Duration) -> str:
    if not (d.seconds or d.nanos):
        return ""
    s = d.seconds + d.nanos / 1e9
    if s < 60:
        return f"{s:.2f} s"
    minutes, sec = divmod(int(s), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m {sec:02d}s" if hours else f"{minutes}m {sec:02d}s"


def literal(lit: literals_pb2.Literal) -> str:
    """A short, readable (unescaped) rendering of a literal."""
    kind = lit.WhichOneof("value")
    if kind == "scalar":
        return _scalar(lit.scalar)
    if kind == "collection":
        items = [literal(x) for x in lit.collection.literals[:MAX_LITERAL_ITEMS]]
        more = ", ..." if len(lit.collection.literals) > MAX_LITERAL_ITEMS else ""
        return "[" + ", ".join(items) + more + "]"
    if kind == "map":
        pairs = [f"{k!r}: {literal(v)}" for k, v in list(lit.map.literals.items())[:MAX_LITERAL_ITEMS]]
        more = ", ..." if len(lit.map.literals) > MAX_LITERAL_ITEMS else ""
        return "{" + ", ".join(pairs) + more + "}"
    if kind == "offloaded_metadata":
        return f"<offloaded: {lit.offloaded_metadata.uri}>"
    return ""


def _scalar(s: literals_pb2.Scalar) -> str:
    which = s.WhichOneof("value")
    if which == "primitive":
        p = s.primitive
        v = p.WhichOneof("value")
        if v == "datetime":
            return ts(p.datetime)
        if v == "duration":
            return dur(p.duration) or "0 s"
        return repr(getattr(p, v)) if v else ""
    if which == "blob":
        return s.blob.uri
    if which == "none_type":
        return "None"
    if which == "union":
        return literal(s.union.value)
    if which == "generic":
        return str(dict(s.generic))[:500]
    if which == "binary":
        return f"<{len(s.binary.value)} bytes {s.binary.tag}>"
    if which == "structured_dataset":
        return s.structured_dataset.uri
    if which == "error":
        return f"error from {s.error.failed_node_id}: {s.error.message}"
    return f"<{which}>"


def clip(text: str, limit: int = MAX_VALUE_CHARS) -> str:
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


def literal_table(lm: literals_pb2.LiteralMap) -> str:
    if not lm.literals:
        return "<p class='muted'>none</p>"
    rows = "".join(
        f"<tr><th>{e(k)}</th><td><pre>{e(clip(literal(v)))}</pre></td></tr>"
        for k, v in sorted(lm.literals.items())
    )
    return f"<table>{rows}</table>"


def table(
    head: list[str], rows: list[str], empty: str, *, caption: str = "", show_caption: bool = True
) -> str:
    """A table with column headers (``head``, escaped here) over ``rows`` (``<tr>`` markup), or ``empty`` as a
    note when there are no rows. ``caption`` (text) names the table; ``show_caption`` False keeps it for
    screen readers only (when a heading right above already says it on the page)."""
    if not rows:
        return f"<p class='muted'>{e(empty)}</p>"
    cells = "".join(f"<th scope='col'>{e(h)}</th>" for h in head)
    hidden = "" if show_caption else " class='vh'"
    cap = f"<caption{hidden}>{e(caption)}</caption>" if caption else ""
    return f"<table>{cap}<thead><tr>{cells}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
