"""The console pages, in-process: a real AdminServicer over a temp Store with a workflow serialized by real
`pyflyte package` (task, subworkflow, launch-plan node, branch, gates, @dynamic, map task, cached task),
execution records written through the executor's records API, and the backend's own HttpServer + Console
answering real HTTP requests. Every page fetched is checked for escaping (no script, no event handler, no
link that is not http(s) or same-origin)."""

from __future__ import annotations

import http.client
import re
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

import pytest
from flyteidl.admin import execution_pb2, node_execution_pb2, project_pb2
from flyteidl.core import (
    catalog_pb2,
    compiler_pb2,
    identifier_pb2,
    literals_pb2,
    types_pb2,
    workflow_pb2,
)
from flyteidl.core import execution_pb2 as core_execution_pb2
from flyteidl.event import event_pb2
from test_admin_entities import hydrate

from flyte_ls.local.admin import AdminServicer
from flyte_ls.local.console import Console
from flyte_ls.local.console_html import page
from flyte_ls.local.executions.records import ExecutionRecords, NodePhase, TaskPhase, WorkflowPhase
from flyte_ls.local.flyte_urls import call_rpc
from flyte_ls.local.http import HttpServer
from flyte_ls.local.signals import signals_for
from flyte_ls.local.store import Store

pytestmark = pytest.mark.timeout(120)

P, D = "flytesnacks", "development"
V = "v1"
PYFLYTE = Path(sys.executable).parent / "pyflyte"
EVIL = "<script>alert('x')</script>\"'><img src=x onerror=alert(1)>"

FLOWS = """
from datetime import timedelta

from flytekit import LaunchPlan, approve, conditional, dynamic, map_task, sleep, task, wait_for_input
from flytekit import workflow


@task
def double(x: int) -> int:
    return x * 2


@task(cache=True, cache_version="1")
def shout(s: str) -> str:
    return s.upper()


@workflow
def inner(x: int) -> int:
    return double(x=x)


inner_lp = LaunchPlan.get_or_create(inner, name="flows.inner_lp")


@dynamic
def fan(n: int) -> list[int]:
    return [double(x=i) for i in range(n)]


@workflow
def everything(x: int = 2, s: str = "hi") -> int:
    a = double(x=x)
    b = inner(x=a)
    c = inner_lp(x=b)
    d = conditional("big").if_(c > 10).then(double(x=c)).else_().then(inner(x=c))
    ok = approve(c, "go", timeout=timedelta(hours=1))
    n = wait_for_input("count", timeout=timedelta(hours=1), expected_type=int)
    z = sleep(timedelta(seconds=1))
    f = fan(n=n)
    m = map_task(double)(x=f)
    t = shout(s=s)
    ok >> n
    z >> n
    return d
"""


# --- safety of every page -----------------------------------------------------------------------------


class _Checker(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.problems: list[str] = []
        self.hrefs: list[str] = []
        self.ids: set[str] = set()
        self.text: list[str] = []
        self.scripts = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "script":
            # the one script a page may load: the console's own live.js, deferred (no inline script)
            if attrs != [("src", "/console/static/live.js"), ("defer", None)]:
                self.problems.append(f"<script> element {attrs}")
            self.scripts += 1
        elif tag in ("iframe", "object", "embed", "img", "link", "base"):
            self.problems.append(f"<{tag}> element")
        if tag == "form" and dict(attrs).get("method") != "get":  # filters: GET forms to this origin only
            self.problems.append("<form> that is not method='get'")
        for name, value in attrs:
            if name == "id" and value is not None:
                self.ids.add(value)
            if name.startswith("on"):
                self.problems.append(f"{name} handler on <{tag}>")
            if name in ("href", "src", "action") and value is not None:
                if not (value.startswith(("http://", "https://", "#")) or re.match(r"^/[^/]", value)):
                    self.problems.append(f"{name}={value!r} on <{tag}>")
                if name == "href":
                    self.hrefs.append(value)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def check_page(body: str) -> _Checker:
    """Escaping (see the module docstring), and every in-page link (``#id``) lands on an element."""
    checker = _Checker()
    checker.feed(body)
    assert not checker.problems, checker.problems
    missing = [h for h in checker.hrefs if len(h) > 1 and h[0] == "#" and unquote(h[1:]) not in checker.ids]
    assert not missing, f"in-page links without a target: {missing}"
    return checker


@dataclass
class Console_:
    admin: AdminServicer
    records: ExecutionRecords
    http: HttpServer
    state: Path

    def get(self, target: str) -> tuple[int, str, dict[str, str]]:
        conn = http.client.HTTPConnection("127.0.0.1", self.http.port, timeout=30)
        try:
            conn.request("GET", target)
            resp = conn.getresponse()
            body = resp.read().decode(errors="replace")  # data files may be binary
            headers = dict(resp.getheaders())
        finally:
            conn.close()
        if target.startswith("/files/"):
            assert headers.get("X-Content-Type-Options") == "nosniff"
            if headers.get("Content-Type", "").startswith("text/html"):
                assert headers["Content-Security-Policy"].startswith("sandbox")
        elif headers.get("Content-Type", "").startswith("text/html"):
            check_page(body)
            csp = headers["Content-Security-Policy"]
            assert "default-src 'none'" in csp and "script-src 'self';" in csp and "unsafe-eval" not in csp
            assert "script-src 'self' " not in csp  # nothing but this origin's files
        return resp.status, body, headers

    def ok(self, target: str) -> str:
        status, body, _ = self.get(target)
        assert status == 200, (target, status, body)
        return body


def _package(work: Path) -> list[tuple[str, bytes]]:
    (work / "flows.py").write_text(FLOWS)
    out = work / "out.tgz"
    cmd = [str(PYFLYTE), "--pkgs", "flows", "package", "--image", "img:1", "-o", str(out), "-f"]
    subprocess.run(cmd, cwd=work, check=True, capture_output=True, timeout=90)
    entries = []
    with tarfile.open(out) as tar:
        for member in sorted(tar.getmembers(), key=lambda m: int(m.name.split("_", 1)[0])):
            f = tar.extractfile(member)
            assert f is not None
            entries.append((member.name.rsplit("_", 1)[1][0], f.read()))
    return entries


def _register(admin: AdminServicer, entries: list[tuple[str, bytes]]) -> None:
    from flyteidl.admin import launch_plan_pb2, task_pb2
    from flyteidl.admin import workflow_pb2 as admin_workflow_pb2

    for kind, data in entries:
        if kind == "1":
            spec = task_pb2.TaskSpec.FromString(data)
            hydrate(spec, V)
            call_rpc(admin, "CreateTask", task_pb2.TaskCreateRequest(id=spec.template.id, spec=spec))
        elif kind == "2":
            wf = admin_workflow_pb2.WorkflowSpec.FromString(data)
            hydrate(wf, V)
            call_rpc(
                admin, "CreateWorkflow", admin_workflow_pb2.WorkflowCreateRequest(id=wf.template.id, spec=wf)
            )
        else:
            lp = launch_plan_pb2.LaunchPlan.FromString(data)
            hydrate(lp, V)
            call_rpc(
                admin, "CreateLaunchPlan", launch_plan_pb2.LaunchPlanCreateRequest(id=lp.id, spec=lp.spec)
            )


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console_]:
    if not PYFLYTE.exists():
        pytest.skip("pyflyte is not installed in the test venv")
    work = tmp_path_factory.mktemp("console")
    state = work / "state"
    store = Store(state)
    admin = AdminServicer(store)
    _register(admin, _package(work))
    server = HttpServer("127.0.0.1", 0)
    server.files_root = state
    server.add_route("/console", Console(admin).route)
    server.start()
    try:
        yield Console_(admin, ExecutionRecords(store), server, state)
    finally:
        server.stop()
        store.close()


# --- building executions through the records API ------------------------------------------------------


def ident(kind: int, name: str) -> identifier_pb2.Identifier:
    return identifier_pb2.Identifier(resource_type=kind, project=P, domain=D, name=name, version=V)


def ex_id(name: str) -> identifier_pb2.WorkflowExecutionIdentifier:
    return identifier_pb2.WorkflowExecutionIdentifier(project=P, domain=D, name=name)


def lm(**values: object) -> literals_pb2.LiteralMap:
    out = literals_pb2.LiteralMap()
    for k, v in values.items():
        if isinstance(v, str):
            out.literals[k].scalar.primitive.string_value = v
        else:
            out.literals[k].scalar.primitive.integer = int(v)  # type: ignore[call-overload]
    return out


def write_lm(path: Path, literals: literals_pb2.LiteralMap) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(literals.SerializeToString())
    return str(path)


def launch(c: Console_, lp: str, name: str, **inputs: object) -> identifier_pb2.WorkflowExecutionIdentifier:
    req = execution_pb2.ExecutionCreateRequest(
        project=P,
        domain=D,
        name=name,
        spec=execution_pb2.ExecutionSpec(launch_plan=ident(identifier_pb2.LAUNCH_PLAN, lp)),
        inputs=lm(**inputs),
    )
    return call_rpc(c.admin, "CreateExecution", req).id  # type: ignore[no-any-return]


def err(message: str, code: str = "USER:ValueError") -> core_execution_pb2.ExecutionError:
    return core_execution_pb2.ExecutionError(
        code=code, message=message, kind=core_execution_pb2.ExecutionError.USER
    )


def task_node(
    c: Console_,
    e: identifier_pb2.WorkflowExecutionIdentifier,
    node: str,
    task: str,
    *,
    parent: str = "",
    spec: str = "",
    failures: int = 0,
    phase: int = NodePhase.SUCCEEDED,
    outputs: literals_pb2.LiteralMap | None = None,
    **finish: object,
) -> None:
    r = c.records
    data = r.data_dir(e) / node
    r.start_node(
        e,
        node,
        parent_node_id=parent,
        spec_node_id=spec or node,
        input_uri=write_lm(data / "inputs.pb", lm(x=1)),
    )
    for attempt in range(failures + 1):
        log = core_execution_pb2.TaskLog(
            uri=f"http://127.0.0.1:1/files/logs/{node}-{attempt}.log", name="Local log"
        )
        r.start_task_attempt(e, node, ident(identifier_pb2.TASK, task), attempt, logs=[log])
        failed = attempt < failures
        r.finish_task_attempt(
            e,
            node,
            attempt,
            TaskPhase.FAILED if failed else TaskPhase.SUCCEEDED,
            error=err(f"attempt {attempt} broke: {EVIL}") if failed else None,
        )
    out_uri = write_lm(data / "outputs.pb", outputs) if outputs is not None else ""
    r.finish_node(e, node, phase, output_uri=out_uri, **finish)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def running(console: Console_) -> identifier_pb2.WorkflowExecutionIdentifier:
    """A RUNNING execution of `everything` with every node kind recorded."""
    c, r = console, console.records
    e = launch(c, "flows.everything", "erun", x=2, s=EVIL)
    r.set_execution_phase(e, WorkflowPhase.RUNNING)
    r.start_node(e, "start-node")  # as the executor records it: the timeline's spans start from it
    r.finish_node(e, "start-node", NodePhase.SUCCEEDED)
    deck = c.state / "executions" / "deck.html"
    deck.parent.mkdir(parents=True, exist_ok=True)
    deck.write_text("<html>deck</html>")
    # n0: a task that failed once, then succeeded, with a deck
    task_node(c, e, "n0", "flows.double", failures=1, outputs=lm(o0=4), deck_uri=str(deck))
    # n1: a subworkflow with one task inside
    r.start_node(e, "n1", is_parent=True)
    task_node(c, e, "n1-0-n0", "flows.double", parent="n1", spec="n0", outputs=lm(o0=8))
    r.finish_node(e, "n1", NodePhase.SUCCEEDED)
    # n2: a launch-plan node with its child execution
    child = ex_id("erun-child")
    spec = execution_pb2.ExecutionSpec(launch_plan=ident(identifier_pb2.LAUNCH_PLAN, "flows.inner_lp"))
    spec.metadata.mode = execution_pb2.ExecutionMetadata.CHILD_WORKFLOW
    spec.metadata.parent_node_execution.CopyFrom(
        identifier_pb2.NodeExecutionIdentifier(node_id="n2", execution_id=e)
    )
    r.create_execution(
        child, spec, spec.launch_plan, ident(identifier_pb2.WORKFLOW, "flows.inner"), lm(x=8), lm(x=8)
    )
    r.start_node(e, "n2", child_execution=child)
    r.finish_node(e, "n2", NodePhase.SUCCEEDED)
    # n3: a branch whose else case (compiled id n3-n1) is the subworkflow `inner` (two levels below it)
    r.start_node(e, "n3", is_parent=True)
    r.start_node(e, "n3-0-n3-n1", parent_node_id="n3", spec_node_id="n3-n1", is_parent=True)
    task_node(c, e, "n3-0-n3-n1-0-n0", "flows.double", parent="n3-0-n3-n1", spec="n0", outputs=lm(o0=16))
    r.finish_node(e, "n3-0-n3-n1", NodePhase.SUCCEEDED)
    r.finish_node(e, "n3", NodePhase.SUCCEEDED)
    # n4 approved, n6 slept, n5 waits for its signal (the signals as the gates leave them in the store)
    signals = signals_for(c.admin.store)
    go = identifier_pb2.SignalIdentifier(signal_id="go", execution_id=e)
    signals.get_or_create(go, types_pb2.LiteralType(simple=types_pb2.BOOLEAN))
    signals.set(
        go, literals_pb2.Literal(scalar=literals_pb2.Scalar(primitive=literals_pb2.Primitive(boolean=True)))
    )
    count = identifier_pb2.SignalIdentifier(signal_id="count", execution_id=e)
    signals.get_or_create(count, types_pb2.LiteralType(simple=types_pb2.INTEGER))
    r.start_node(e, "n4")
    r.finish_node(e, "n4", NodePhase.SUCCEEDED)
    r.start_node(e, "n6")
    r.finish_node(e, "n6", NodePhase.SUCCEEDED)
    r.start_node(e, "n5")
    # n7: a dynamic node that generated two tasks, one still running
    r.start_node(e, "n7")
    double = ident(identifier_pb2.TASK, "flows.double")
    dyn = compiler_pb2.CompiledWorkflowClosure()
    dyn.primary.template.id.CopyFrom(ident(identifier_pb2.WORKFLOW, "dynamic_n7"))
    for i in range(2):
        dyn.primary.template.nodes.append(
            workflow_pb2.Node(id=f"dn{i}", task_node=workflow_pb2.TaskNode(reference_id=double))
        )
    r.set_dynamic_workflow(e, "n7", dyn)
    task_node(c, e, "n7-0-dn0", "flows.double", parent="n7", spec="dn0", outputs=lm(o0=0))
    r.start_node(e, "n7-0-dn1", parent_node_id="n7", spec_node_id="dn1")
    # n8: a map task whose attempt lists its indexes (one failed once, one cached)
    r.start_node(e, "n8", is_array=True)
    arraytask = ident(identifier_pb2.TASK, "flows.map_double_6b3bd0353da5de6e84d7982921ead2b3-arraynode")
    r.start_task_attempt(e, "n8", arraytask, 0)
    subtasks = [
        event_pb2.ExternalResourceInfo(
            index=i,
            retry_attempt=1 if i == 1 else 0,
            phase=TaskPhase.SUCCEEDED,
            cache_status=catalog_pb2.CACHE_HIT if i == 2 else catalog_pb2.CACHE_DISABLED,
            logs=[
                core_execution_pb2.TaskLog(uri=f"http://127.0.0.1:1/files/logs/n8-{i}.log", name=f"index {i}")
            ],
        )
        for i in range(3)
    ]
    r.finish_task_attempt(e, "n8", 0, TaskPhase.SUCCEEDED, external_resources=subtasks)
    r.finish_node(e, "n8", NodePhase.SUCCEEDED)
    # n9: a cache hit
    source = identifier_pb2.TaskExecutionIdentifier(
        task_id=ident(identifier_pb2.TASK, "flows.shout"),
        node_execution_id=identifier_pb2.NodeExecutionIdentifier(node_id="n9", execution_id=ex_id("eolder")),
    )
    meta = node_execution_pb2.TaskNodeMetadata(
        cache_status=catalog_pb2.CACHE_HIT,
        catalog_key=catalog_pb2.CatalogMetadata(source_task_execution=source),
    )
    r.start_node(e, "n9")
    r.finish_node(
        e,
        "n9",
        NodePhase.SUCCEEDED,
        task_node_metadata=meta,
        output_uri=write_lm(c.state / "o9", lm(o0="HI")),
    )
    return e


@pytest.fixture(scope="module")
def failed(console: Console_) -> identifier_pb2.WorkflowExecutionIdentifier:
    """A FAILED execution with a hostile error message, and a node that failed the same way."""
    c, r = console, console.records
    e = launch(c, "flows.inner", "efail", x=EVIL.count("<"))
    r.set_execution_phase(e, WorkflowPhase.RUNNING)
    task_node(c, e, "n0", "flows.double", phase=NodePhase.FAILED, error=err(f"boom {EVIL}"))
    r.set_execution_phase(e, WorkflowPhase.FAILED, error=err(f"boom {EVIL}"))
    return e


@pytest.fixture(scope="module")
def succeeded(console: Console_) -> identifier_pb2.WorkflowExecutionIdentifier:
    c, r = console, console.records
    e = launch(c, "flows.inner", "edone", x=21)
    r.set_execution_phase(e, WorkflowPhase.RUNNING)
    task_node(c, e, "n0", "flows.double", outputs=lm(o0=42))
    out = write_lm(r.data_dir(e) / "end" / "outputs.pb", lm(o0=42))
    r.set_execution_phase(e, WorkflowPhase.SUCCEEDED, outputs_uri=out)
    return e


def page_of(e: identifier_pb2.WorkflowExecutionIdentifier) -> str:
    return f"/console/projects/{e.project}/domains/{e.domain}/executions/{quote(e.name, safe='')}"


# --- the execution page ---------------------------------------------------------------------------------


def rows(body: str) -> dict[str, str]:
    """node id -> its table row."""
    return dict(re.findall(r"<tr id='node-([^']+)'[^>]*>(.*?)</tr>", body))


def test_running_execution_page(
    console: Console_, running: identifier_pb2.WorkflowExecutionIdentifier
) -> None:
    body = console.ok(page_of(running))
    assert "<h1>Execution erun <span class='RUNNING'>RUNNING</span></h1>" in body
    assert "<noscript><meta http-equiv='refresh' content='2'></noscript>" in body  # without scripts
    # inputs, with the hostile string escaped
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in body
    assert "<h2>Outputs</h2>" not in body
    nodes = rows(body)
    # every node, nested ones right after their parent, in creation order; start/end nodes hidden
    assert list(nodes) == [
        "n0", "n1", "n1-0-n0", "n2", "n3", "n3-0-n3-n1", "n3-0-n3-n1-0-n0", "n4", "n6", "n5", "n7",
        "n7-0-dn0", "n7-0-dn1", "n8", "n9",
    ]  # fmt: skip
    assert "padding-left:3.5em" in nodes["n3-0-n3-n1-0-n0"]  # three levels down
    # kinds from the compiled workflow (and the dynamic workflow)
    assert (
        "task <a href='/console/projects/flytesnacks/domains/development/task/flows.double/version/v1'>"
        in nodes["n0"]
    )
    assert "subworkflow flows.inner" in nodes["n1"] and "subworkflow flows.inner" in nodes["n3-0-n3-n1"]
    assert "launch plan <a href=" in nodes["n2"] and "branch" in nodes["n3"]
    assert "flows.double" in nodes["n7-0-dn1"] and "dynamic" not in nodes["n7-0-dn1"]
    # attempts: both of n0 with log links, the failed one with its (escaped) error
    assert "attempt 0 <span class='FAILED'>FAILED</span>" in nodes["n0"]
    assert "attempt 1 <span class='SUCCEEDED'>SUCCEEDED</span>" in nodes["n0"]
    assert "href='http://127.0.0.1:1/files/logs/n0-0.log'" in nodes["n0"]
    assert "href='http://127.0.0.1:1/files/logs/n0-1.log'" in nodes["n0"]
    assert "attempt 0 broke: &lt;script&gt;" in nodes["n0"]
    # the deck, served from the state dir on the same origin
    deck = re.search(r"href='(/files/[^']+)'>deck<", nodes["n0"])
    assert deck is not None
    assert console.get(deck.group(1))[:2] == (200, "<html>deck</html>")
    # the launch-plan node links its child execution, which links back
    assert f"child execution <a href='{page_of(ex_id('erun-child'))}'>erun-child</a>" in nodes["n2"]
    child = console.ok(page_of(ex_id("erun-child")))
    assert "CHILD_WORKFLOW (launched by node <a href='" in child and "erun/n2</a>" in child
    # gates: what they wait for, by signal id and type
    assert "gate (approve)" in nodes["n4"] and "approval: signal <code>go</code> (bool)" in nodes["n4"]
    assert (
        "<div class='waiting'>waiting for input: signal <code>count</code> of type int (output o0)"
        in nodes["n5"]
    )
    assert "sleep 1.00 s" in nodes["n6"]
    assert "approval: signal <code>go</code> (bool) &middot; value True" in nodes["n4"]
    assert "value" not in nodes["n5"]
    signals = body.split("<h2>Signals</h2>")[1].split("<h2>")[0]
    assert "<tr><td><code>go</code></td><td>bool</td><td><pre>True</pre></td></tr>" in signals
    assert "<tr><td><code>count</code></td><td>int</td><td><span class='waiting'>waiting</span>" in signals
    assert "remote.set_input(&#x27;count&#x27;, &#x27;erun&#x27;, value)" in signals
    # the map task: its kind and its indexes
    assert "array (map task) flows.map_double_" in nodes["n8"]
    assert "<summary>3 sub-tasks</summary>" in nodes["n8"]
    assert "<li>index 1 (attempt 1) <span class='SUCCEEDED'>SUCCEEDED</span> <a href=" in nodes["n8"]
    assert (
        "<li>index 2 <span class='SUCCEEDED'>SUCCEEDED</span> cache hit <a href='http://127.0.0.1:1/files/logs/n8-2.log'>"
        in nodes["n8"]
    )
    # the cache hit, with where the cached outputs came from
    assert (
        "cache <span class='CACHE_HIT'>hit</span> from <a href=" in nodes["n9"] and "eolder/n9" in nodes["n9"]
    )
    # start times and durations
    assert re.search(
        r"<td class='t'>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC</td><td class='t'>\d+\.\d\d s</td>", nodes["n0"]
    )


def test_finished_pages(
    console: Console_,
    failed: identifier_pb2.WorkflowExecutionIdentifier,
    succeeded: identifier_pb2.WorkflowExecutionIdentifier,
) -> None:
    body = console.ok(page_of(failed))
    assert "<span class='FAILED'>FAILED</span>" in body and "refresh" not in body
    assert "USER:ValueError (user error)<pre>boom &lt;script&gt;" in body
    assert "<div class='err'>" in rows(body)["n0"]
    body = console.ok(page_of(succeeded))
    assert "<span class='SUCCEEDED'>SUCCEEDED</span>" in body and "refresh" not in body
    assert "<h2>Outputs</h2><table><tr><th>o0</th><td><pre>42</pre>" in body
    assert "<th>x</th><td><pre>21</pre>" in body
    assert (
        "<a href='/console/projects/flytesnacks/domains/development/launch_plan/flows.inner/version/v1'>"
        in body
    )


TIMELINE = re.compile(r"<section id='timeline'>.*?</section>", re.S)


def live_part(body: str) -> str:
    """The page's ``<div id='live'>`` (it ends where the page's status line or its main element begins)."""
    found = re.search(r"<div id='live' .*</div>(?=<p id='live-status'|</main>)", body, re.S)
    assert found is not None, body[:2000]
    return found.group(0)


def test_running_page_updates_live(
    console: Console_, running: identifier_pb2.WorkflowExecutionIdentifier
) -> None:
    """A running execution's page loads live.js (and only it); ?part=live answers the same live part alone."""
    status, body, headers = console.get(page_of(running))
    assert status == 200 and check_page(body).scripts == 1
    head, rest = body.split("</head>")
    assert "<script src='/console/static/live.js' defer></script>" in head
    # the script updates the page; only a browser without scripts reloads it (<noscript>: in the head, the
    # only place HTML allows its meta)
    assert "<noscript><meta http-equiv='refresh' content='2'></noscript>" in head
    assert head.count("refresh") == 1 and "noscript" not in rest and "refresh" not in rest
    assert "<p id='live-status' class='vh' role='status' aria-live='polite'></p>" in body
    live = live_part(body)
    assert live.startswith(
        "<div id='live' data-terminal='false' data-phase='RUNNING' data-title='erun RUNNING' "
        "data-interval='1500'><h1>Execution erun <span class='RUNNING'>RUNNING</span></h1>"
    )
    assert "This page updates itself while the execution runs." in live
    status, part, headers = console.get(page_of(running) + "?part=live")
    assert status == 200 and headers["Content-Type"] == "text/html; charset=utf-8"
    assert "script-src 'self'" in headers["Content-Security-Policy"]
    # the same markup (the script swaps one for the other); the running timeline is drawn up to now
    assert re.sub(TIMELINE, "", part) == re.sub(TIMELINE, "", live)
    assert check_page(part).scripts == 0 and "<html" not in part
    # summary, graph, timeline, signals, node table, inputs: in this order, all inside the live part
    marks = ["<h1>", "<section id='graph'>", "<section id='timeline'>", "<section id='signals'>"]
    marks += ["<section id='nodes'>", "<h2>Inputs</h2>"]
    where = [part.index(m) for m in marks]
    assert where == sorted(where)
    # a node's deep link has its own live part, with the node's section
    part = console.ok(page_of(running) + "/nodeId/n0/nodes?part=live")
    assert part.startswith("<div id='live' data-terminal='false'") and "<h2 id='node'>Node n0 " in part
    assert "data-title='erun RUNNING · n0'" in part


@pytest.mark.timeout(10)
def test_page_reloads_with_or_without_scripts() -> None:
    """page(reload=True): a meta refresh in the head; with scripts, the refresh is only the fallback of a
    browser without them: a <noscript> in the head (HTML allows meta in noscript only there), then them."""
    script = "<script src='/console/static/live.js' defer></script>"
    head, rest = page("t", "<p>b</p>", reload=True, scripts=("live.js",)).decode().split("</head>")
    assert f"<noscript><meta http-equiv='refresh' content='2'></noscript>{script}" in head
    assert (
        "noscript" not in rest and "refresh" not in rest and "<main id='main' tabindex='-1'><p>b</p>" in rest
    )
    head, rest = page("t", "<p>b</p>", reload=True).decode().split("</head>")
    assert "<meta http-equiv='refresh' content='2'>" in head and "noscript" not in head + rest
    head, rest = page("t", "<p>b</p>", scripts=("live.js",)).decode().split("</head>")
    assert script in head and "refresh" not in head + rest and "noscript" not in head + rest


def test_finished_pages_load_no_script(
    console: Console_,
    failed: identifier_pb2.WorkflowExecutionIdentifier,
    succeeded: identifier_pb2.WorkflowExecutionIdentifier,
) -> None:
    for ex, phase in [(failed, "FAILED"), (succeeded, "SUCCEEDED")]:
        body = console.ok(page_of(ex))
        assert check_page(body).scripts == 0
        assert "refresh" not in body and "live-status" not in body and "updates itself" not in body
        part = console.ok(page_of(ex) + "?part=live")
        assert part.startswith(f"<div id='live' data-terminal='true' data-phase='{phase}'")
        assert part == live_part(body)
    assert "<h2>Outputs</h2>" in console.ok(page_of(succeeded) + "?part=live")


def test_live_part_not_found_and_bad_requests(
    console: Console_, running: identifier_pb2.WorkflowExecutionIdentifier
) -> None:
    status, body, _ = console.get(page_of(ex_id("nope")) + "?part=live")
    assert status == 404 and "[flytesnacks/development/nope] does not exist" in body
    status, body, _ = console.get(page_of(running) + "/nodeId/n42/nodes?part=live")
    assert status == 404 and "has no node execution [n42]" in body
    status, body, _ = console.get(page_of(running) + "?part=" + quote(EVIL, safe=""))
    assert status == 400 and "unknown part &#x27;&lt;script&gt;" in body
    # a hostile execution's live part is escaped as its page is (check_page runs on every response)
    name = "live'><b>" + EVIL
    e, lp = ex_id(name), ident(identifier_pb2.LAUNCH_PLAN, "flows.inner")
    console.records.create_execution(e, execution_pb2.ExecutionSpec(launch_plan=lp), lp, lp, lm(), lm())
    console.records.set_execution_phase(e, WorkflowPhase.RUNNING)
    console.records.start_node(e, EVIL)
    part = console.ok(page_of(e) + "?part=live")
    assert "data-title='live&#x27;&gt;&lt;b&gt;&lt;script&gt;" in part and "<b>" not in part
    assert "<tr id='node-&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in part  # its node, as text


def test_console_static_files(console: Console_) -> None:
    status, body, headers = console.get("/console/static/live.js")
    assert status == 200 and headers["Content-Type"] == "text/javascript; charset=utf-8"
    assert headers["X-Content-Type-Options"] == "nosniff" and headers["Cache-Control"] == "no-cache"
    assert "part" in body and "data-terminal" in body and "Content-Security-Policy" not in headers
    assert not re.search(r"https?://", body)  # it fetches this page only, nothing from elsewhere
    assert "eval(" not in body and "innerHTML" not in body
    bad_names = ["nope.js", "..%2fhttp.py", "../http.py", "%2e%2e/http.py", ".live.js", "live.js/x", ""]
    for bad in [*bad_names, "x.py"]:
        status, body, _ = console.get("/console/static/" + bad)
        assert status == 404, bad
    assert console.get("/console/static")[0] == 404  # a console path, not a file
    assert console.get("/favicon.ico")[0] == 204  # browsers ask for it: no icon, and no error either


def test_timeline_graph_and_node_data_on_the_page(
    console: Console_, running: identifier_pb2.WorkflowExecutionIdentifier
) -> None:
    import xml.etree.ElementTree as ET

    svg_ns = "{http://www.w3.org/2000/svg}"
    body = console.ok(page_of(running))
    # the timeline, from GetExecutionMetrics: a row per node span, with bars
    timeline = body.split("<section id='timeline'>")[1].split("</section>")[0]
    found = re.search(r"<svg class='tl'.*?</svg>", timeline, re.S)
    assert found is not None, timeline
    svg = ET.fromstring(found.group(0))
    rows = {g.get("data-span"): g for g in svg.iter(f"{svg_ns}g") if g.get("class") == "tl-row"}
    assert "execution erun" in rows
    assert {f"node n{i}" for i in range(10)} <= set(rows), list(rows)
    assert "attempt 0 of n0 (task flows.double)" in rows and "attempt 1 of n0 (task flows.double)" in rows
    bars = [r for r in svg.iter(f"{svg_ns}rect") if r.get("class", "").startswith("tl-bar ")]
    assert len(bars) >= 10 and all(float(b.get("width", "0")) > 0 for b in bars)
    link = rows["node n0"].find(f"{svg_ns}a")
    assert link is not None and link.get("href") == "#node-n0"
    assert "<details class='tl-alt'><summary>the timeline as a table</summary>" in timeline
    # the graph: every node with its phase, linked to its row (a launch-plan node to its child execution)
    graph = body.split("<section id='graph'>")[1].split("</section>")[0]
    names = re.findall(r"<a class='dag-node[^']*' href='([^']+)' aria-label='([^']+)'", graph)
    assert ("#node-n0", "node n0 (task double): SUCCEEDED") in names
    assert ("#node-n5", "node n5 (gate count): RUNNING") in names
    assert (page_of(ex_id("erun-child")), "node n2 (launch plan inner_lp): SUCCEEDED") in names
    # nested nodes: the subworkflow's task and the dynamic node's generated tasks, linked to their rows
    assert "href='#node-n1-0-n0' aria-label='node n0 (task double): SUCCEEDED'" in graph
    assert "href='#node-n7-0-dn0' aria-label='node dn0 (task double): SUCCEEDED'" in graph
    assert "href='#node-n7-0-dn1' aria-label='node dn1 (task double): RUNNING'" in graph
    # the branch's then case never ran: drawn and named, but it has no row to link (check_page: links land)
    assert re.search(r"<a class='dag-node[^']*' aria-label='node n3-n0 \(task double\)'>", graph), graph
    # the node table: inputs and outputs per node, short, the tables folded
    nodes = rows_of_table(body)
    assert "<td class='io'><details><summary>in: x=1 · out: o0=4</summary>" in nodes["n0"]
    assert "<div class='muted'>outputs</div><table><tr><th>o0</th><td><pre>4</pre>" in nodes["n0"]
    assert "<summary>out: o0=&#x27;HI&#x27;</summary>" in nodes["n9"]  # a cache hit has no inputs here
    assert "<td class='io'></td>" in nodes["n4"]  # a gate without data


def rows_of_table(body: str) -> dict[str, str]:
    return dict(re.findall(r"<tr id='node-([^']+)'[^>]*>(.*?)</tr>(?=<tr|</tbody>)", body, re.S))


def test_node_deep_link(console: Console_, running: identifier_pb2.WorkflowExecutionIdentifier) -> None:
    """propeller's FLYTE_EXECUTION_URL form: the node's inputs, outputs and attempts above the node list."""
    for suffix in ("/nodeId/n3-0-n3-n1-0-n0/nodes", "/nodeId/n3-0-n3-n1-0-n0"):
        body = console.ok(page_of(running) + suffix)
        assert "<h2 id='node'>Node n3-0-n3-n1-0-n0 <span class='SUCCEEDED'>SUCCEEDED</span></h2>" in body
        assert "<h2>Execution inputs</h2>" in body
        assert "<h3>Outputs</h3><table><tr><th>o0</th><td><pre>16</pre>" in body
        assert "flyte://v1/flytesnacks/development/erun/n3-0-n3-n1-0-n0/o" in body
        assert "<tr id='node-n3-0-n3-n1-0-n0' class='hl'>" in body
    status, body, _ = console.get(page_of(running) + "/nodeId/n42/nodes")
    assert status == 404 and "has no node execution [n42]" in body


# --- lists and entity pages ----------------------------------------------------------------------------


def test_executions_list_pages(console: Console_) -> None:
    names = {launch(console, "flows.inner", f"elist{i}", x=i).name for i in range(7)}
    base = "/console/projects/flytesnacks/domains/development/executions"
    seen: list[str] = []
    target = base + "?limit=3"
    for _ in range(20):
        body = console.ok(target)
        seen += re.findall(r"executions/([a-z0-9-]+)'>", body)
        more = re.search(r"href='([^']+)'>next page<", body)
        if more is None:
            break
        target = more.group(1).replace("&amp;", "&")
        assert "limit=3" in target
    assert len(seen) == len(set(seen)) and names <= set(seen)
    # the other form of the URL, and a phase filter
    body = console.ok("/console/projects/flytesnacks/executions?domain=development&phase=FAILED")
    assert "efail" in body and "elist0" not in body
    assert f"<a href='{base}?phase=RUNNING'>RUNNING</a>" in body and "<b>FAILED</b>" in body
    assert console.get(base + "?phase=NOPE")[0] == 400
    assert console.get(base + "?limit=x")[0] == 400


def test_entity_pages(console: Console_) -> None:
    base = "/console/projects/flytesnacks/domains/development"
    for word in ("task", "tasks"):
        body = console.ok(f"{base}/{word}/flows.double/version/v1")
        assert "<h1>Task flows.double</h1>" in body and "<th>x</th><td>int</td>" in body
        assert "pyflyte-execute" in body
    body = console.ok(f"{base}/workflow/flows.everything/version/v1")
    assert "<tr id='node-n3'>" in body and "<th>s</th><td>str</td>" in body
    body = console.ok(f"{base}/launchPlans/flows.inner/version/v1")
    assert "workflow flows.inner @ v1" in body and "edone" in body  # its recent executions
    body = console.ok(f"{base}/tasks/flows.double")
    assert f"href='{base}/tasks/flows.double/version/v1'" in body
    for word, name in [
        ("tasks", "flows.shout"),
        ("workflows", "flows.inner"),
        ("launchPlans", "flows.inner_lp"),
    ]:
        assert name in console.ok(f"{base}/{word}")
        assert name in console.ok(f"/console/projects/flytesnacks/{word}?domain=development")
    body = console.ok("/console")
    assert "flytesnacks" in body and f"href='{base}/executions'" in body
    assert console.ok("/console/select-project") == body
    assert "launchPlans" in console.ok("/console/projects/flytesnacks")


_DEV = "/console/projects/flytesnacks/domains/development"


@pytest.mark.parametrize(
    ("path", "says"),
    [
        (f"{_DEV}/executions/nope", "[flytesnacks/development/nope] does not exist"),
        ("/console/projects/nope/domains/development/executions", "project [nope] does not exist"),
        ("/console/projects/flytesnacks/domains/nope/executions", "has no domain [nope]"),
        (f"{_DEV}/task/flows.double/version/v9", "does not exist"),
        (f"{_DEV}/tasks/flows.nope", "[flytesnacks/development/flows.nope] does not exist"),
        (f"{_DEV}/elsewhere", "no console page at"),
        ("/console/nowhere", "no console page at /console/nowhere"),
    ],
)
def test_not_found_pages(console: Console_, path: str, says: str) -> None:
    status, body, headers = console.get(path)
    assert status == 404 and headers["Content-Type"].startswith("text/html")
    assert says in body, body
    assert "<a href='/console'>all projects</a>" in body


# --- hostile input --------------------------------------------------------------------------------------


def test_hostile_names_are_escaped(console: Console_) -> None:
    """Names and values that are markup, quotes or URLs stay text: in lists, pages, links and 404s."""
    c, r = console, console.records
    name = "x'><b>" + EVIL
    e = ex_id(name)
    lp = ident(identifier_pb2.LAUNCH_PLAN, "flows.inner")
    r.create_execution(e, execution_pb2.ExecutionSpec(launch_plan=lp), lp, lp, lm(**{EVIL: EVIL}), lm())
    r.start_node(e, EVIL)
    logs = [
        core_execution_pb2.TaskLog(uri="javascript:alert(1)", name=EVIL),
        core_execution_pb2.TaskLog(uri="//evil.example/x", name="protocol-relative"),
    ]
    r.start_task_attempt(e, EVIL, ident(identifier_pb2.TASK, "flows.double"), 0, logs=logs)
    r.finish_node(e, EVIL, NodePhase.FAILED, error=err(EVIL, code=EVIL), deck_uri="/etc/passwd")
    evil_signal = identifier_pb2.SignalIdentifier(signal_id=EVIL, execution_id=e)
    signals_for(c.admin.store).get_or_create(evil_signal, types_pb2.LiteralType(simple=types_pb2.BOOLEAN))
    r.set_execution_phase(e, WorkflowPhase.ABORTED, abort_cause=EVIL, principal=EVIL)
    body = c.ok(page_of(e))  # check_page: no script, no handler, no javascript:/protocol-relative link
    assert "&lt;b&gt;&lt;script&gt;" in body and "<b>" not in body
    assert "href='javascript:" not in body and "href='//" not in body
    assert "protocol-relative" in body  # the log is listed, as text
    assert "deck (not available)" in body and "passwd" not in body  # a deck outside the state dir
    assert "<h2>Aborted by " in body
    assert "<h2>Signals</h2>" in body and "never set" in body  # the hostile signal id, as text
    listing = c.ok("/console/projects/flytesnacks/domains/development/executions?limit=500")
    assert f"href='{page_of(e)}'" in listing  # quote() leaves nothing an attribute could break on
    for path in [
        "/console/projects/" + quote(EVIL, safe="") + "/domains/development/executions",
        "/console/projects/flytesnacks/domains/" + quote(EVIL, safe="") + "/executions/x",
        "/console/projects/flytesnacks/domains/development/task/" + quote(EVIL, safe="") + "/version/v1",
        "/console/" + quote(EVIL, safe=""),
        page_of(e) + "/nodeId/" + quote(EVIL, safe="") + "/nodes",
    ]:
        status, body, _ = c.get(path)
        assert status in (200, 400, 404), path
        assert "<script>" not in body


def test_registered_projects_with_markup(console: Console_) -> None:
    req = project_pb2.ProjectRegisterRequest(
        project=project_pb2.Project(id="evilproj", name=EVIL, description=EVIL)
    )
    call_rpc(console.admin, "RegisterProject", req)
    body = console.ok("/console")
    assert "evilproj" in body and "&lt;script&gt;" in body


@pytest.mark.timeout(10)
def test_console_urls_have_one_definition() -> None:
    """The URL of an execution's or an entity's page is built in one place, console_html, which the other
    console modules import (a copy would drift)."""
    import ast

    from flyte_ls.local import console_html

    defined: dict[str, list[str]] = {}
    for path in sorted(Path(console_html.__file__).parent.glob("*.py")):
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.FunctionDef) and node.name in ("exec_url", "entity_url"):
                defined.setdefault(node.name, []).append(path.name)
    assert defined == {"exec_url": ["console_html.py"], "entity_url": ["console_html.py"]}, defined


def test_no_console_route_is_a_plain_page() -> None:
    server = HttpServer("127.0.0.1", 0)
    server.start()
    try:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        conn.request("GET", "/console/projects/" + quote(EVIL, safe=""))
        resp = conn.getresponse()
        body = resp.read().decode()
        assert resp.status == 200 and "no console attached" in body
        check_page(body)
    finally:
        server.stop()


def test_urls_in_pages_are_well_formed(
    console: Console_, running: identifier_pb2.WorkflowExecutionIdentifier
) -> None:
    """Every same-origin link of the execution page opens (no 404 or 500 from our own links)."""
    checker = check_page(console.ok(page_of(running)))
    own = sorted({h.replace("&amp;", "&") for h in checker.hrefs if h.startswith("/")})
    assert len(own) > 10
    for h in own:
        status, body, _ = console.get(h)
        # the cache source execution ("eolder") was never recorded: its page says so
        assert status == 200 or (status == 404 and "eolder" in h), (h, status, body[:300])
    assert all(urlsplit(h).scheme in ("http", "") for h in checker.hrefs)


def test_root_is_the_landing_page(console: Console_) -> None:
    assert "flyte-ls local Flyte backend" in console.ok("/")


def test_hostile_entity_names(console: Console_) -> None:
    """A task registered under a name full of markup, quotes and slashes: listed, linked and shown as text."""
    from flyteidl.admin import common_pb2, task_pb2

    name = "a/b " + EVIL
    got = call_rpc(
        console.admin, "GetTask", common_pb2.ObjectGetRequest(id=ident(identifier_pb2.TASK, "flows.double"))
    )
    template = got.closure.compiled_task.template
    template.id.name = name
    req = task_pb2.TaskCreateRequest(id=template.id, spec=task_pb2.TaskSpec(template=template))
    call_rpc(console.admin, "CreateTask", req)
    base = "/console/projects/flytesnacks/domains/development"
    listing = console.ok(f"{base}/tasks")
    link = f"{base}/tasks/{quote(name, safe='')}"
    assert f"href='{link}'" in listing
    versions = console.ok(link)
    assert f"href='{link}/version/v1'" in versions
    page = console.ok(f"{link}/version/v1")
    assert "<h1>Task a/b &lt;script&gt;" in page
    assert "<th>x</th><td>int</td>" in page


def test_large_values(console: Console_) -> None:
    """A long value is clipped on the page; a literal map too large for Get…Data to inline (over 8 MiB) is
    linked as its file instead of shown."""
    c, r = console, console.records
    e = launch(c, "flows.inner", "ebig", x=1)
    r.set_execution_phase(e, WorkflowPhase.RUNNING)
    task_node(c, e, "n0", "flows.double", outputs=lm(o0="y" * (9 * 1024 * 1024)))
    task_node(c, e, "n1", "flows.double", spec="n0", outputs=lm(o0="z" * 100_000))
    body = c.ok(page_of(e) + "/nodeId/n0/nodes")
    assert len(body) < 200_000
    big = re.search(
        r"too large to show here \(9\.0 MiB\): <a href='(/files/[^']+)'>the literal map file</a>", body
    )
    assert big is not None, body[-3000:]
    status, _, headers = c.get(big.group(1))
    assert status == 200 and int(headers["Content-Length"]) > 9 * 1024 * 1024
    body = c.ok(page_of(e) + "/nodeId/n1/nodes")
    assert "... (100002 characters)" in body and len(body) < 50_000  # repr() adds the quotes
