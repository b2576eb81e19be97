"""The timeline (a Gantt chart) of an execution's console page, drawn from the span tree that the
AdminService's own GetExecutionMetrics returns (reference local-backend.md §7, built by
:mod:`flyte_ls.local.executions.metrics`).

- One row per span that is not an operation: the execution, each node, each task attempt and a launch-plan
  node's child execution, in the tree's order and indented by nesting.
- A row's bars are its direct operation spans (``WORKFLOW_SETUP``, ``NODE_TRANSITION``, ``TASK_RUNTIME``
  ...), coloured by category (setup, runtime, teardown, reset, transition, idle: the legend names them); a row
  without operations (the recursion's ``depth`` ran out) has one bar for its whole span. A thin line behind
  the bars marks the row's whole extent.
  Every bar has a ``<title>``: operation, whose, start offset and duration.
- A time axis with ticks in seconds since the execution was created; node labels link to the node's row of
  the node table (``#node-<id>``, or ``links[node id]`` for this execution's nodes).
- A text alternative: the same rows and breakdowns as a table, in a ``<details>``.
- While the execution runs, the spans still going on (they end at their last recorded event) are drawn up to
  now (``now``, ``running``): the bar of what a running node or attempt is doing gets ``tl-open``.

Markup that tests (and the browser tests) rely on: ``svg.tl``; one ``g.tl-row`` per row with ``data-span``
("node n0", "attempt 1 of n0", "execution <name>"); one ``rect.tl-bar`` per bar with ``tl-<category>``.
Colours are CSS custom properties ``--tl-<category>`` with a light and a dark set.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

from flyteidl.core import identifier_pb2, metrics_pb2

from flyte_ls.local.console_html import e, href, register_css, seg

CATEGORIES = ("setup", "runtime", "teardown", "reset", "transition", "idle")
MAX_ROWS = 1500  # a larger tree is cut, and the chart says so

_LABEL_W = 220  # px of the label column
_CHART_W = 720  # px of the time axis
_RIGHT = 16  # room for the last tick label
_AXIS_H = 24
_ROW_H = 18
_BAR_H = 12
_CHAR_W = 6.4  # average width of an 11px sans-serif character, for truncating labels
_INDENT = 10  # px per nesting level
_MIN_BAR = 1.0  # px: a zero-length bar stays visible
_NICE_STEPS = [m * 10.0**p for p in range(-3, 2) for m in (1, 2, 5)] + [
    60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400,
]  # fmt: skip

_LIGHT = {
    "setup": "#9a6700",
    "runtime": "#0969da",
    "teardown": "#8250df",
    "reset": "#cf222e",
    "transition": "#6e7781",
    "idle": "#1b7c83",
    "other": "#57606a",
}
_DARK = {
    "setup": "#d29922",
    "runtime": "#58a6ff",
    "teardown": "#bc8cff",
    "reset": "#ff7b72",
    "transition": "#8b949e",
    "idle": "#39c5cf",
    "other": "#adbac7",
}


def _vars(colours: dict[str, str]) -> str:
    return ";".join(f"--tl-{name}:{value}" for name, value in colours.items())


TIMELINE_CSS = (
    f":root{{{_vars(_LIGHT)};--tl-band:rgba(127,127,127,.09);--tl-grid:rgba(127,127,127,.45)}}"
    f"@media (prefers-color-scheme:dark){{:root{{{_vars(_DARK)}}}}}"
    "svg.tl{display:block;max-width:100%;height:auto;font:11px sans-serif;margin:.3em 0}"
    ".tl text{fill:currentColor}.tl a text{fill:var(--link);text-decoration:underline}"
    ".tl a:focus{outline:none}.tl a:focus text,.tl a:hover text{font-weight:bold}"
    ".tl a:focus-visible{outline:2px solid currentColor}"
    ".tl-open{stroke:currentColor;stroke-width:1;stroke-dasharray:3 2}"
    ".tl-grid{stroke:var(--tl-grid);stroke-width:1}.tl-band{fill:var(--tl-band)}.tl-extent{fill:var(--tl-grid)}"
    + "".join(f".tl-{c}{{fill:var(--tl-{c});background:var(--tl-{c})}}" for c in _LIGHT)
    + ".tl-legend{list-style:none;padding:0;margin:.2em 0;display:flex;flex-wrap:wrap;gap:.4em 1.2em}"
    ".tl-key{display:inline-block;width:.9em;height:.9em;margin-right:.35em;vertical-align:-.1em;"
    "border-radius:2px}.tl-alt td.tl-name{white-space:nowrap}"
)
register_css("timeline", TIMELINE_CSS)


def category(operation: str) -> str:
    """The category of an operation span: WORKFLOW_SETUP → setup, TASK_RUNTIME → runtime...; else other."""
    suffix = operation.rsplit("_", 1)[-1].lower()
    return suffix if suffix in CATEGORIES else "other"


@dataclass
class Bar:
    operation: str
    category: str
    start: int  # ns since the epoch
    end: int
    open: bool = False  # still going on: drawn up to now


@dataclass
class Row:
    """One span of the tree that is not an operation, with the operation spans right under it."""

    key: str  # "node n0", "attempt 0 of n0", "execution name"
    label: str  # short text shown on the chart
    depth: int
    start: int
    end: int
    url: str | None = None
    bars: list[Bar] = field(default_factory=list)
    open: bool = False  # still going on: its extent is drawn up to now


def _ns(span: metrics_pb2.Span) -> tuple[int, int]:
    start = span.start_time.ToNanoseconds()
    return start, max(start, span.end_time.ToNanoseconds())


class _Rows:
    """Flattens a span tree into rows (depth first, in the tree's order)."""

    def __init__(
        self,
        root: identifier_pb2.WorkflowExecutionIdentifier | None,
        links: Mapping[str, str],
        now: int | None = None,
        running: Collection[str] = (),
    ) -> None:
        self.root = root
        self.links = links
        self.now = now
        self.running = running
        self.rows: list[Row] = []
        self.truncated = False

    def walk(self, span: metrics_pb2.Span, depth: int, is_open: bool = False) -> None:
        """Rows of ``span`` and below; ``is_open``: the span is still going on (drawn up to ``now``)."""
        which = span.WhichOneof("id")
        if which == "operation_id":
            return
        if len(self.rows) >= MAX_ROWS:
            self.truncated = True
            return
        row = self._row(span, which, depth)
        inner = [c for c in span.spans if c.WhichOneof("id") != "operation_id"]
        for child in span.spans:
            if child.WhichOneof("id") == "operation_id":
                start, end = _ns(child)
                row.bars.append(Bar(child.operation_id, category(child.operation_id), start, end))
        if not row.bars:
            row.bars.append(Bar("", "other", row.start, row.end))
        if is_open and self.now is not None:
            row.end, row.open = max(row.end, self.now), True
            if not inner or which == "task_id":  # the row's own last operation is what goes on
                last = row.bars[-1]
                last.end, last.open = max(last.end, self.now), True
        self.rows.append(row)
        attempts = [c for c in inner if c.WhichOneof("id") == "task_id"]
        for child in span.spans:
            self.walk(child, depth + 1, is_open and self._child_open(child, attempts))

    def _child_open(self, child: metrics_pb2.Span, attempts: list[metrics_pb2.Span]) -> bool:
        which = child.WhichOneof("id")
        if which == "node_id":
            return child.node_id.node_id in self.running and (
                self.root is None or child.node_id.execution_id == self.root
            )
        if which == "task_id":
            return child is attempts[-1]  # a running node's last attempt
        return which == "workflow_id"  # a running launch-plan node's child execution

    def _row(self, span: metrics_pb2.Span, which: str | None, depth: int) -> Row:
        start, end = _ns(span)
        if which == "workflow_id":
            w = span.workflow_id
            whose = "execution" if depth == 0 else "child execution"
            url = None if depth == 0 else _exec_path(w)
            return Row(f"{whose} {w.name}", f"{whose} {w.name}", depth, start, end, url)
        if which == "node_id":
            nid = span.node_id
            return Row(f"node {nid.node_id}", nid.node_id, depth, start, end, self._node_url(nid))
        if which == "task_id":
            t = span.task_id
            node = t.node_execution_id
            key = f"attempt {t.retry_attempt} of {node.node_id}"
            row = Row(key, f"attempt {t.retry_attempt}", depth, start, end, self._node_url(node))
            row.key += f" (task {t.task_id.name})" if t.task_id.name else ""
            return row
        return Row("span", "span", depth, start, end)

    def _node_url(self, nid: identifier_pb2.NodeExecutionIdentifier) -> str | None:
        ex = nid.execution_id
        if self.root is None or ex == self.root:
            given = self.links.get(nid.node_id)
            if given is not None:
                return href(given)
            return f"#node-{seg(nid.node_id)}"
        return f"{_exec_path(ex)}#node-{seg(nid.node_id)}"


def _exec_path(ex: identifier_pb2.WorkflowExecutionIdentifier) -> str:
    return f"/console/projects/{seg(ex.project)}/domains/{seg(ex.domain)}/executions/{seg(ex.name)}"


def seconds(ns: int) -> str:
    """A duration for people: 0.42 s, 12.3 s, 2m 05s, 1h 02m."""
    s = ns / 1e9
    if s < 10:
        return f"{s:.2f} s"
    if s < 60:
        return f"{s:.1f} s"
    minutes, sec = divmod(int(s), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m" if hours else f"{minutes}m {sec:02d}s"


def ticks(total_s: float) -> tuple[float, list[float]]:
    """A readable tick step (1, 2 or 5 times a power of ten seconds, or whole minutes and hours) and the
    ticks in [0, total]."""
    want = total_s / 8
    step = next((s for s in _NICE_STEPS if s >= want), want)
    count = math.floor(total_s / step + 1e-9)
    return step, [i * step for i in range(count + 1)]


def tick_label(t: float, step: float) -> str:
    if step >= 3600:
        return f"{t / 3600:g} h"
    if step >= 60:
        return f"{t / 60:g} min"
    decimals = max(0, math.ceil(-math.log10(step) - 1e-9)) if step < 1 else 0
    return f"{t:.{decimals}f} s"


def _clip(text: str, room: float) -> str:
    chars = max(3, int(room / _CHAR_W))
    return text if len(text) <= chars else text[: chars - 1] + "…"


def render_timeline(
    span: metrics_pb2.Span,
    *,
    links: Mapping[str, str] | None = None,
    now: int | None = None,
    running: Collection[str] = (),
) -> str:
    """The timeline of one execution's span tree (GetExecutionMetrics): an SVG Gantt chart, its legend and a
    text alternative. ``links``: node id → URL for this execution's node labels (default: the node table's
    row ``#node-<id>``). For an execution still running, ``now`` (ns since the epoch) and ``running`` (ids of
    its nodes not finished yet): their spans, which end at their last recorded event, are drawn up to now —
    the execution's, each running node's and its last attempt's, and what each is doing (its last
    operation)."""
    root = span.workflow_id if span.WhichOneof("id") == "workflow_id" else None
    walker = _Rows(root, links or {}, now, running)
    walker.walk(span, 0, now is not None)
    rows = walker.rows
    if not rows:
        return "<p class='muted'>no timeline yet</p>"
    t0 = rows[0].start
    t_end = max(max([r.end, *(b.end for b in r.bars)]) for r in rows)
    total = max(t_end - t0, 1)
    name = root.name if root is not None else rows[0].label
    used = sorted({b.category for r in rows for b in r.bars}, key=_order)
    out = [_svg(rows, t0, total, name, used), _legend(used)]
    if walker.truncated:
        out.append(f"<p class='muted'>only the first {MAX_ROWS} spans are drawn</p>")
    out.append(_table(rows, t0, name))
    return "".join(out)


def _order(cat: str) -> int:
    return CATEGORIES.index(cat) if cat in CATEGORIES else len(CATEGORIES)


def _svg(rows: list[Row], t0: int, total: int, name: str, used: list[str]) -> str:
    width = _LABEL_W + _CHART_W + _RIGHT
    height = _AXIS_H + len(rows) * _ROW_H + 4
    total_s = total / 1e9

    def x(t: int) -> float:
        return _LABEL_W + (t - t0) / total * _CHART_W

    nodes = sum(1 for r in rows if r.key.startswith("node "))
    attempts = sum(1 for r in rows if r.key.startswith("attempt "))
    desc = (
        f"{len(rows)} rows over {seconds(total)}: {nodes} node spans, {attempts} task attempts; "
        f"bar categories: {', '.join(used)}. The table below lists the same spans."
    )
    out = [
        f"<svg class='tl' xmlns='http://www.w3.org/2000/svg' viewBox='0 0 {width} {height}' "
        f"width='{width}' height='{height}' role='img' aria-labelledby='tl-title tl-desc'>"
        f"<title id='tl-title'>Timeline of execution {e(name)}</title><desc id='tl-desc'>{e(desc)}</desc>",
        "<g class='tl-axis'>",
    ]
    step, marks = ticks(total_s)
    for t in marks:
        tx = _LABEL_W + t / total_s * _CHART_W
        out.append(
            f"<line class='tl-grid' x1='{tx:.1f}' y1='{_AXIS_H - 6}' x2='{tx:.1f}' y2='{height}'/>"
            f"<text x='{tx:.1f}' y='{_AXIS_H - 10}' text-anchor='middle'>{e(tick_label(t, step))}</text>"
        )
    out.append(f"<text x='4' y='{_AXIS_H - 10}'>since created</text></g>")
    for i, row in enumerate(rows):
        y = _AXIS_H + i * _ROW_H
        mid = y + _ROW_H / 2
        out.append(f"<g class='tl-row' data-span='{e(row.key)}'>")
        if i % 2:
            out.append(f"<rect class='tl-band' x='0' y='{y}' width='{width}' height='{_ROW_H}'/>")
        indent = 4 + row.depth * _INDENT
        text = (
            f"<text x='{indent}' y='{mid + 4:.1f}'><title>{e(row.key)}</title>"
            f"{e(_clip(row.label, _LABEL_W - indent - 6))}</text>"
        )
        out.append(f"<a href='{e(row.url)}'>{text}</a>" if row.url else text)
        ex0, ex1 = x(row.start), x(row.end)
        out.append(
            f"<rect class='tl-extent' x='{ex0:.1f}' y='{mid - 1:.1f}' width='{max(ex1 - ex0, _MIN_BAR):.1f}' "
            "height='2'/>"
        )
        for bar in row.bars:
            bx0, bx1 = x(bar.start), x(bar.end)
            what = bar.operation or "whole span"
            length = seconds(bar.end - bar.start)
            took = f"going on for {length} so far" if bar.open else f"takes {length}"
            tip = f"{what} of {row.key}: starts at +{seconds(bar.start - t0)}, {took}"
            cls = f"tl-bar tl-{bar.category}" + (" tl-open" if bar.open else "")
            out.append(
                f"<rect class='{cls}' x='{bx0:.1f}' y='{mid - _BAR_H / 2:.1f}' "
                f"width='{max(bx1 - bx0, _MIN_BAR):.1f}' height='{_BAR_H}'><title>{e(tip)}</title></rect>"
            )
        out.append("</g>")
    out.append("</svg>")
    return "".join(out)


def _legend(used: list[str]) -> str:
    names = {"other": "whole span (no breakdown)"}
    items = "".join(
        f"<li><span class='tl-key tl-{c}' aria-hidden='true'></span>{e(names.get(c, c))}</li>" for c in used
    )
    return f"<ul class='tl-legend' aria-label='timeline legend'>{items}</ul>"


def _table(rows: list[Row], t0: int, name: str) -> str:
    body = []
    for row in rows:
        parts: dict[str, int] = {}
        for bar in row.bars:
            label = bar.operation.lower() or "whole span"
            parts[label] = parts.get(label, 0) + bar.end - bar.start
        breakdown = " · ".join(f"{k} {seconds(v)}" for k, v in parts.items())
        so_far = " so far" if row.open else ""
        label = e(row.key)
        if row.url:
            label = f"<a href='{e(row.url)}'>{label}</a>"
        body.append(
            f"<tr><td class='tl-name' style='padding-left:{0.5 + row.depth:.1f}em'>{label}</td>"
            f"<td>+{seconds(row.start - t0)}</td><td>{seconds(row.end - row.start)}{so_far}</td>"
            f"<td>{e(breakdown)}</td></tr>"
        )
    return (
        "<details class='tl-alt'><summary>the timeline as a table</summary><table>"
        f"<caption>Spans of execution {e(name)}, from its creation</caption>"
        "<tr><th scope='col'>span</th><th scope='col'>starts at</th><th scope='col'>takes</th>"
        f"<th scope='col'>breakdown</th></tr>{''.join(body)}</table></details>"
    )
