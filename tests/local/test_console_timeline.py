"""The timeline of the execution page (console_timeline.render_timeline) from span trees shaped as
GetExecutionMetrics builds them: rows, bars by category, the axis, links, the text table, escaping."""

from __future__ import annotations

import re
import subprocess
import time
import urllib.error
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from flyteidl.core import identifier_pb2, metrics_pb2
from google.protobuf import timestamp_pb2

from flyte_ls.local import console_timeline
from flyte_ls.local.console_html import page
from flyte_ls.local.console_timeline import category, render_timeline, seconds, tick_label, ticks

pytestmark = pytest.mark.timeout(30)

SVG = "{http://www.w3.org/2000/svg}"
T0 = 1_700_000_000 * 10**9
EVIL = "<script>alert('x')</script>\"'><img src=x onerror=alert(1)>"
EX = identifier_pb2.WorkflowExecutionIdentifier(project="p", domain="d", name="ex1")


def ts(offset_s: float) -> timestamp_pb2.Timestamp:
    out = timestamp_pb2.Timestamp()
    out.FromNanoseconds(T0 + int(offset_s * 1e9))
    return out


def op(name: str, start: float, end: float) -> metrics_pb2.Span:
    return metrics_pb2.Span(start_time=ts(start), end_time=ts(end), operation_id=name)


def node(
    nid: str,
    start: float,
    end: float,
    *spans: metrics_pb2.Span,
    ex: identifier_pb2.WorkflowExecutionIdentifier = EX,
) -> metrics_pb2.Span:
    ident = identifier_pb2.NodeExecutionIdentifier(node_id=nid, execution_id=ex)
    return metrics_pb2.Span(start_time=ts(start), end_time=ts(end), node_id=ident, spans=list(spans))


def attempt(nid: str, n: int, start: float, end: float) -> metrics_pb2.Span:
    tid = identifier_pb2.TaskExecutionIdentifier(
        task_id=identifier_pb2.Identifier(resource_type=identifier_pb2.TASK, name="flows.double"),
        node_execution_id=identifier_pb2.NodeExecutionIdentifier(node_id=nid, execution_id=EX),
        retry_attempt=n,
    )
    mid = (start + end) / 2
    return metrics_pb2.Span(
        start_time=ts(start),
        end_time=ts(end),
        task_id=tid,
        spans=[
            op("TASK_SETUP", start, start + 0.1),
            op("TASK_RUNTIME", start + 0.1, mid),
            op("TASK_TEARDOWN", mid, end),
        ],
    )


def tree() -> metrics_pb2.Span:
    """An execution: a task node retried once, a subworkflow node with a task inside, a launch-plan node
    with its child execution, a gate that waited (zero-length teardown)."""
    child = identifier_pb2.WorkflowExecutionIdentifier(project="p", domain="d", name="ex1-child")
    return metrics_pb2.Span(
        start_time=ts(0),
        end_time=ts(9.5),
        workflow_id=EX,
        spans=[
            op("WORKFLOW_SETUP", 0, 0.5),
            node(
                "n0", 0.5, 4,
                op("NODE_SETUP", 0.5, 0.7), attempt("n0", 0, 0.7, 2), op("NODE_RESET", 2, 2.2),
                attempt("n0", 1, 2.2, 3.9), op("NODE_TEARDOWN", 3.9, 4),
            ),
            node(
                "n1", 4, 6,
                op("NODE_TRANSITION", 4, 4.1), op("NODE_SETUP", 4.1, 4.3),
                node("n1-0-n0", 4.3, 5.9, op("NODE_SETUP", 4.3, 4.4), attempt("n1-0-n0", 0, 4.4, 5.8)),
                op("NODE_TEARDOWN", 5.9, 6),
            ),
            node(
                "n2", 6, 8,
                op("NODE_SETUP", 6, 6.2),
                metrics_pb2.Span(
                    start_time=ts(6.2), end_time=ts(7.9), workflow_id=child,
                    spans=[op("WORKFLOW_SETUP", 6.2, 6.4), node("n0", 6.4, 7.8, ex=child)],
                ),
                op("NODE_TEARDOWN", 7.9, 8),
            ),
            node("n3", 8, 9, op("NODE_SETUP", 8, 8.1), op("NODE_IDLE", 8.1, 9), op("NODE_TEARDOWN", 9, 9)),
            op("WORKFLOW_TEARDOWN", 9, 9.5),
        ],
    )  # fmt: skip


def svg_of(html: str) -> ET.Element:
    found = re.search(r"<svg.*?</svg>", html, re.S)
    assert found is not None, html
    return ET.fromstring(found.group(0))


def rows_of(root: ET.Element) -> dict[str, ET.Element]:
    out: dict[str, ET.Element] = {}
    for g in root.iter(f"{SVG}g"):
        if g.get("class") == "tl-row":
            out.setdefault(g.get("data-span", ""), g)  # the first of equal keys
    return out


def bars_of(row: ET.Element) -> list[tuple[str, float, float, str]]:
    out = []
    for rect in row.iter(f"{SVG}rect"):
        cls = rect.get("class", "")
        if cls.startswith("tl-bar "):
            title = rect.find(f"{SVG}title")
            assert title is not None and title.text
            out.append((cls.split()[1], float(rect.get("x", "")), float(rect.get("width", "")), title.text))
    return out


def test_rows_bars_and_categories() -> None:
    html = render_timeline(tree())
    root = svg_of(html)
    rows = rows_of(root)
    # "node n0" of the child execution has the same key as this execution's n0: count rows from the DOM
    keys = [g.get("data-span") for g in root.iter(f"{SVG}g") if g.get("class") == "tl-row"]
    assert keys == [
        "execution ex1", "node n0", "attempt 0 of n0 (task flows.double)",
        "attempt 1 of n0 (task flows.double)",
        "node n1", "node n1-0-n0", "attempt 0 of n1-0-n0 (task flows.double)", "node n2",
        "child execution ex1-child", "node n0", "node n3",
    ]  # fmt: skip
    assert [b[0] for b in bars_of(rows["execution ex1"])] == ["tl-setup", "tl-teardown"]
    n0 = [b[0] for b in bars_of(rows["node n0"])]
    assert n0 == ["tl-setup", "tl-reset", "tl-teardown"]
    assert [b[0] for b in bars_of(rows["attempt 1 of n0 (task flows.double)"])] == [
        "tl-setup", "tl-runtime", "tl-teardown",
    ]  # fmt: skip
    assert [b[0] for b in bars_of(rows["node n1"])] == ["tl-transition", "tl-setup", "tl-teardown"]
    assert [b[0] for b in bars_of(rows["node n3"])] == ["tl-setup", "tl-idle", "tl-teardown"]
    # every bar is visible, within the chart, and says what it is, whose, when and how long
    for row in rows.values():
        for _, x, width, _ in bars_of(row):
            assert width >= 1.0 and 220 <= x <= 220 + 720 + 0.1
    setup = bars_of(rows["node n1"])[1]
    assert setup[3] == "NODE_SETUP of node n1: starts at +4.10 s, takes 0.20 s"
    assert setup[1] == pytest.approx(220 + 4.1 / 9.5 * 720, abs=0.1)
    # the zero-length teardown of n3 is still drawn
    assert bars_of(rows["node n3"])[2][2] == 1.0
    # the legend names every category used, in a fixed order
    legend = re.search(r"<ul class='tl-legend'[^>]*>(.*?)</ul>", html)
    assert legend is not None
    assert re.findall(r"</span>([a-z ()]+)</li>", legend.group(1)) == [
        *console_timeline.CATEGORIES,
        "whole span (no breakdown)",
    ]


def test_nesting_links_and_axis() -> None:
    html = render_timeline(tree(), links={"n2": "/console/projects/p/domains/d/executions/ex1-child"})
    root = svg_of(html)
    labels: dict[str | None, tuple[float, str | None]] = {}
    for g in root.iter(f"{SVG}g"):
        if g.get("class") != "tl-row":
            continue
        link = g.find(f"{SVG}a")
        text = (link if link is not None else g).find(f"{SVG}text")
        assert text is not None
        labels.setdefault(
            g.get("data-span"), (float(text.get("x", "")), link.get("href") if link is not None else None)
        )
    assert labels["execution ex1"] == (4, None)
    assert labels["node n0"] == (14, "#node-n0")  # the node table's row
    assert labels["attempt 0 of n0 (task flows.double)"] == (24, "#node-n0")
    assert labels["node n1-0-n0"] == (24, "#node-n1-0-n0")
    assert labels["node n2"][1] == "/console/projects/p/domains/d/executions/ex1-child"  # given
    assert labels["child execution ex1-child"] == (24, "/console/projects/p/domains/d/executions/ex1-child")
    # a node of the child execution links to its row on the child's page
    child_n0 = [g.find(f"{SVG}a") for g in root.iter(f"{SVG}g") if g.get("data-span") == "node n0"][1]
    assert child_n0 is not None
    assert child_n0.get("href") == "/console/projects/p/domains/d/executions/ex1-child#node-n0"
    # the axis: 0 .. 9.5 s in steps of 2 s (about eight ticks at most)
    axis = root.find(f"{SVG}g[@class='tl-axis']")
    assert axis is not None
    assert [t.text for t in axis.iter(f"{SVG}text")] == ["0 s", "2 s", "4 s", "6 s", "8 s", "since created"]
    assert len(axis.findall(f"{SVG}line")) == 5
    # accessible: role img, labelled by its title and description
    assert root.get("role") == "img" and root.get("aria-labelledby") == "tl-title tl-desc"
    desc = root.find(f"{SVG}desc")
    assert desc is not None and desc.text is not None
    assert desc.text.startswith("11 rows over 9.50 s: 6 node spans, 3 task attempts")


def test_text_alternative_table() -> None:
    html = render_timeline(tree())
    table = html.split("<details class='tl-alt'>")[1]
    assert "<summary>the timeline as a table</summary>" in table
    rows = re.findall(
        r"<tr><td class='tl-name'[^>]*>(.*?)</td><td>(.*?)</td><td>(.*?)</td><td>(.*?)</td></tr>", table
    )
    assert len(rows) == 11
    name, start, takes, breakdown = rows[3]
    assert name == "<a href='#node-n0'>attempt 1 of n0 (task flows.double)</a>"
    assert (start, takes) == ("+2.20 s", "1.70 s")
    assert breakdown == "task_setup 0.10 s · task_runtime 0.75 s · task_teardown 0.85 s"


def test_hostile_names_are_escaped() -> None:
    ex = identifier_pb2.WorkflowExecutionIdentifier(project="p", domain="d", name=EVIL)
    span = metrics_pb2.Span(
        start_time=ts(0),
        end_time=ts(1),
        workflow_id=ex,
        spans=[node(EVIL, 0, 1, op(EVIL, 0, 0.5), ex=ex)],
    )
    html = render_timeline(span, links={EVIL: "javascript:alert(1)"})
    assert "<script" not in html and "<img" not in html and "javascript:" not in html
    root = svg_of(html)  # well-formed, so nothing broke out of an attribute
    rows = rows_of(root)
    assert f"node {EVIL}" in rows
    bars = bars_of(rows[f"node {EVIL}"])
    assert bars[0][0] == "tl-other" and bars[0][3].startswith(EVIL)
    # the unsafe link is dropped: the label is plain text
    assert rows[f"node {EVIL}"].find(f"{SVG}a") is None
    # a safe id with markup links to its row, percent-encoded
    html = render_timeline(span)
    assert (
        "href='#node-%3Cscript%3Ealert%28%27x%27%29%3C%2Fscript%3E%22%27%3E%3Cimg%20src%3Dx%20onerror" in html
    )


def test_spans_without_breakdown_long_labels_and_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    long = "n" + "x" * 80
    span = metrics_pb2.Span(
        start_time=ts(0), end_time=ts(0), workflow_id=EX, spans=[node(long, 0, 0), node("late", 0, 0)]
    )
    root = svg_of(render_timeline(span))
    rows = rows_of(root)
    bars = bars_of(rows[f"node {long}"])
    assert [b[0] for b in bars] == ["tl-other"] and bars[0][2] == 1.0  # the whole (empty) span
    label = rows[f"node {long}"].find(f"{SVG}a/{SVG}text")
    assert label is not None
    assert "".join(label.itertext()).endswith("…") and label.find(f"{SVG}title") is not None
    monkeypatch.setattr(console_timeline, "MAX_ROWS", 2)
    html = render_timeline(span)
    assert len(rows_of(svg_of(html))) == 2 and "only the first 2 spans are drawn" in html
    assert render_timeline(metrics_pb2.Span()) != ""


def test_units() -> None:
    assert category("WORKFLOW_SETUP") == "setup" and category("TASK_RUNTIME") == "runtime"
    assert category("NODE_IDLE") == "idle" and category("SOMETHING") == "other"
    assert ticks(10) == (2, [0, 2, 4, 6, 8, 10])
    step, marks = ticks(0.05)
    assert step == pytest.approx(0.01) and len(marks) == 6
    assert tick_label(0.03, 0.01) == "0.03 s" and tick_label(4, 2) == "4 s"
    assert (
        ticks(3 * 3600)[0] == 1800 and tick_label(5400, 1800) == "90 min" and tick_label(7200, 3600) == "2 h"
    )
    assert tick_label(600, 300) == "10 min"
    assert seconds(420_000_000) == "0.42 s" and seconds(12_340_000_000) == "12.3 s"
    assert seconds(125 * 10**9) == "2m 05s" and seconds(3720 * 10**9) == "1h 02m"


def test_css_is_on_every_page() -> None:
    body = page("t", "x").decode()
    assert "--tl-runtime:" in body and "@media (prefers-color-scheme:dark)" in body


# --- on a real backend: a real run's page while it runs and once it ended -------------------------------

REAL_FLOWS = """
import os
import time

from flytekit import task, workflow


@task
def wait(x: int) -> int:
    while not os.path.exists(GO):
        time.sleep(0.1)
    return x + 1


@task
def double(x: int) -> int:
    return x * 2


@workflow
def inner(x: int) -> int:
    return double(x=x)


@workflow
def wf(x: int = 1) -> int:
    return double(x=inner(x=wait(x=x)))
"""


def _get(url: str) -> tuple[int, str, dict[str, str]]:
    from local_backend import NO_PROXY

    try:
        with NO_PROXY.open(url, timeout=30) as resp:
            return resp.status, resp.read().decode(), dict(resp.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(), dict(exc.headers)


@pytest.mark.flytekit
@pytest.mark.timeout(300)
def test_live_page_of_a_real_run(tmp_path: Path) -> None:
    """`pyflyte run --remote` on `flyte-ls local start`: while the first task waits for a file, the page loads
    live.js under a CSP that allows only this origin's scripts and its live part says not terminal; once the
    file exists the live part turns terminal, and the page then loads no script. The timeline comes from the
    backend's own GetExecutionMetrics (a row per node and attempt, nested), the graph shows the phases."""
    from local_backend import VENV_PYTHON, start_backend

    go = tmp_path / "go"
    work = tmp_path / "work"
    work.mkdir()
    (work / "flows.py").write_text(f"GO = {str(go)!r}\n" + REAL_FLOWS)
    backend = start_backend(tmp_path / "state")
    try:
        pyflyte = str(Path(VENV_PYTHON).parent / "pyflyte")
        cmd = [pyflyte, "--config", str(backend.config), "run", "--remote", "flows.py", "wf"]
        proc = subprocess.run(cmd, cwd=work, capture_output=True, text=True, timeout=240)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        url = re.findall(r"http://\S+/console/projects/\S+/executions/[a-z0-9]+", proc.stdout)[-1]
        deadline = time.monotonic() + 120
        while True:  # until the waiting task runs
            status, body, headers = _get(url)
            assert status == 200
            if "<span class='RUNNING'>RUNNING</span></td>" in body or time.monotonic() > deadline:
                break
            time.sleep(0.3)
        assert "<div id='live' data-terminal='false'" in body
        assert "<script src='/console/static/live.js' defer></script>" in body
        csp = headers["Content-Security-Policy"]
        assert "script-src 'self';" in csp and "connect-src 'self';" in csp and "default-src 'none'" in csp
        status, script, headers = _get(f"{backend.http}/console/static/live.js")
        assert status == 200 and headers["Content-Type"] == "text/javascript; charset=utf-8"
        assert 'searchParams.set("part", "live")' in script
        status, part, _ = _get(url + "?part=live")
        assert status == 200 and part.startswith("<div id='live' data-terminal='false'")
        go.write_text("go")
        deadline = time.monotonic() + 120
        while part.startswith("<div id='live' data-terminal='false'") and time.monotonic() < deadline:
            time.sleep(0.3)
            status, part, _ = _get(url + "?part=live")
            assert status == 200
        assert part.startswith("<div id='live' data-terminal='true' data-phase='SUCCEEDED'"), part[:300]
        status, body, _ = _get(url)
        assert "<script" not in body and "refresh" not in body and part in body
    finally:
        backend.stop()
    # the timeline of the finished run
    found = re.search(r"<svg class='tl'.*?</svg>", body, re.S)
    assert found is not None
    svg = ET.fromstring(found.group(0))
    keys = [g.get("data-span") for g in svg.iter(f"{SVG}g") if g.get("class") == "tl-row"]
    assert [k for k in keys if k and k.startswith(("node", "attempt"))] == [
        "node n0", "attempt 0 of n0 (task flows.wait)", "node n1", "node n1-0-n0",
        "attempt 0 of n1-0-n0 (task flows.double)", "node n2", "attempt 0 of n2 (task flows.double)",
    ]  # fmt: skip
    rows = rows_of(svg)
    runtime = [b for b in bars_of(rows["attempt 0 of n0 (task flows.wait)"]) if b[0] == "tl-runtime"]
    assert len(runtime) == 1 and runtime[0][2] > 10  # it waited for the file: a visible share of the run
    # the graph: each node SUCCEEDED, linked to its row
    for node, label in [("n0", "task wait"), ("n1", "subworkflow inner"), ("n2", "task double")]:
        assert f"href='#node-{node}' aria-label='node {node} ({label}): SUCCEEDED'" in body


def test_running_spans_are_drawn_up_to_now() -> None:
    """A running execution's spans end at their last recorded event: with ``now`` and the running nodes, the
    execution, the running node and its last attempt reach now, and the attempt's current operation (its
    last recorded operation) is drawn open; finished nodes and operations keep their ends."""
    span = metrics_pb2.Span(
        start_time=ts(0),
        end_time=ts(1),
        workflow_id=EX,
        spans=[
            op("WORKFLOW_SETUP", 0, 0.2),
            node("n0", 0.2, 0.4, op("NODE_SETUP", 0.2, 0.4)),
            node(
                "n1", 0.5, 1, op("NODE_SETUP", 0.5, 0.6), attempt("n1", 0, 0.6, 0.8), attempt("n1", 1, 0.9, 1)
            ),
        ],
    )
    html = render_timeline(span, now=T0 + 5 * 10**9, running={"n1"})
    rows = rows_of(svg_of(html))
    full = 220 + 720  # the axis now ends at 5 s

    def ends(key: str) -> list[tuple[str, float]]:
        return [(b[0], round(b[1] + b[2], 1)) for b in bars_of(rows[key])]

    last = bars_of(rows["attempt 1 of n1 (task flows.double)"])[-1]
    assert last[0] == "tl-teardown" and round(last[1] + last[2]) == full
    assert "going on for 4.05 s so far" in last[3]
    assert ends("attempt 0 of n1 (task flows.double)")[-1][1] < 400  # an earlier attempt ended
    assert ends("node n1")[-1][1] < 400  # its setup ended; the attempts are its own rows
    assert ends("node n0") == [("tl-setup", round(220 + 0.4 / 5 * 720, 1))]  # finished: not extended
    assert "tl-open" in html and html.count("tl-bar tl-teardown tl-open") == 1
    extent = next(r for r in rows["node n1"].iter(f"{SVG}rect") if r.get("class") == "tl-extent")
    assert round(float(extent.get("x", "")) + float(extent.get("width", ""))) == full
    assert "<td>+0.50 s</td><td>4.50 s so far</td>" in html
    # without now, the same tree is drawn as recorded
    assert "tl-open" not in render_timeline(span) and "so far" not in render_timeline(span)
