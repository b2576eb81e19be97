"""HTML building blocks of the local console: the page frame, escaping, links, times, literals.

Everything that reaches a page goes through :func:`e` (text and attribute values, which are always
single-quoted) or :func:`href` (URLs: only ``http(s)://`` and same-origin paths become links). Pages carry no
JavaScript and load nothing: the style sheet is inline, and the HTTP server adds a Content-Security-Policy
that forbids scripts and any other origin.
"""

from __future__ import annotations

import html
from urllib.parse import quote

from flyteidl.core import execution_pb2 as core_execution_pb2
from flyteidl.core import literals_pb2
from google.protobuf import duration_pb2, timestamp_pb2

HTML = "text/html; charset=utf-8"
WF_PHASE = core_execution_pb2.WorkflowExecution.Phase
NODE_PHASE = core_execution_pb2.NodeExecution.Phase
TASK_PHASE = core_execution_pb2.TaskExecution.Phase
WF_TERMINAL = frozenset({"SUCCEEDED", "FAILED", "ABORTED", "TIMED_OUT"})
RELOAD_S = 2  # a running execution's page reloads itself this often
MAX_LITERAL_ITEMS = 20
MAX_VALUE_CHARS = 4000  # of one value's rendering on a page

_STYLE = (
    "body{font-family:sans-serif;margin:1.5em 2em;color:#222}table{border-collapse:collapse;margin:.3em 0}"
    "td,th{border:1px solid #ccc;padding:.25em .5em;text-align:left;vertical-align:top}"
    "th{background:#f4f4f4}a{color:#0550ae}nav{margin-bottom:1em;color:#555}"
    ".SUCCEEDED,.CACHE_HIT{color:#080}.FAILED,.TIMED_OUT,.FAILING{color:#b00}"
    ".RUNNING,.QUEUED,.DYNAMIC_RUNNING,.INITIALIZING,.WAITING_FOR_RESOURCES,.ABORTING{color:#06c}"
    ".ABORTED,.SKIPPED,.UNDEFINED{color:#777}.waiting{background:#fff6d6}"
    "pre{white-space:pre-wrap;max-width:70em;margin:0}.err{color:#b00}.muted{color:#777}"
    "td.node,td.kind{overflow-wrap:anywhere;max-width:24em}td.t,.nw{white-space:nowrap}.hl{background:#eef5ff}"
    "summary{cursor:pointer}details ul{margin:.2em 0;padding-left:1.2em}"
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


_COMPONENT_CSS: dict[str, str] = {}


def register_css(name: str, css: str) -> None:
    """Adds a component's style rules (the DAG, the timeline...) to every page's inline style sheet."""
    _COMPONENT_CSS[name] = css


def page(
    title: str, body: str, *, nav: str = "", reload: bool = False, scripts: tuple[str, ...] = ()
) -> bytes:
    """A whole page. ``scripts``: names of first-party scripts served under ``/console/static/`` (the only
    scripts a page may load); ``reload``: the page reloads itself every RELOAD_S seconds (without scripts)."""
    head = f"<meta http-equiv='refresh' content='{RELOAD_S}'>" if reload else ""
    head += "".join(f"<script src='/console/static/{e(name)}' defer></script>" for name in scripts)
    style = _STYLE + "".join(_COMPONENT_CSS.values())
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<meta name='viewport' content='width=device-width'>{head}"
        f"<title>{e(title)} · flyte-ls local</title><style>{style}</style></head>"
        f"<body><nav><a href='/console'>flyte-ls local</a>{nav}</nav>{body}</body></html>\n"
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


def table(head: list[str], rows: list[str], empty: str) -> str:
    if not rows:
        return f"<p class='muted'>{e(empty)}</p>"
    cells = "".join(f"<th>{e(h)}</th>" for h in head)
    return f"<table><tr>{cells}</tr>{''.join(rows)}</table>"
