"""The console of a real backend, as a user reaches it: unmodified `pyflyte run --remote` runs a workflow
(subworkflow, a task with a deck, a task that fails once then succeeds on retry, a cached task), and the
console URL it prints -- and the ones FlyteRemote.generate_console_url builds for the execution and the
registered task, workflow and launch plan, from the generated config and from a config without
console.endpoint (the gRPC port) -- open real pages. Real headless Chromium (launched with the flags of every
browser test, chromium_launch.py) renders them: the DOM has the expected content, the page requested nothing
outside this machine, and the browser sent no DNS query and connected only to this machine."""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import grpc
import pytest
from chromium_launch import CHROMIUM_ARGS, LOCAL_HOSTS, disable_features, require_chromium
from flyteidl.admin import execution_pb2, signal_pb2
from flyteidl.core import execution_pb2 as core_execution_pb2
from flyteidl.core import identifier_pb2, literals_pb2
from flyteidl.service import admin_pb2_grpc, signal_pb2_grpc
from local_backend import VENV_PYTHON, Backend, start_backend

pytestmark = [pytest.mark.flytekit, pytest.mark.timeout(300)]

WF = core_execution_pb2.WorkflowExecution

FLOWS = """
import os
from datetime import timedelta

import flytekit
from flytekit import LaunchPlan, approve, task, workflow
from flytekit.exceptions.user import FlyteRecoverableException


@task
def double(x: int) -> int:
    return x * 2


@task(enable_deck=True)
def report(x: int) -> int:
    flytekit.Deck("summary", f"<p>x is {x}</p>")
    return x + 1


@task(retries=1)
def flaky(x: int) -> int:
    if os.environ.get("FLYTE_ATTEMPT_NUMBER", "0") == "0":
        raise FlyteRecoverableException("first attempt <fails> on purpose")
    return x


@task(cache=True, cache_version="1")
def cached(x: int) -> int:
    return x - 1


@workflow
def inner(x: int) -> int:
    return double(x=x)


@workflow
def gated(x: int = 1) -> int:
    y = double(x=x)
    ok = approve(y, "go <now>", timeout=timedelta(minutes=10))
    return double(x=ok)


inner_lp = LaunchPlan.get_or_create(inner, name="flows.inner_lp")


@workflow
def pipeline(x: int = 3) -> int:
    a = inner(x=x)
    b = report(x=a)
    c = flaky(x=b)
    d = cached(x=c)
    return inner_lp(x=d)
"""

_URLS = """
import json, sys
from flytekit.configuration import Config
from flytekit.models.core.identifier import Identifier, ResourceType, WorkflowExecutionIdentifier
from flytekit.remote import FlyteRemote
remote = FlyteRemote(Config.auto(config_file=sys.argv[1]), default_project="flytesnacks",
                     default_domain="development")
name, version = sys.argv[2], sys.argv[3]
p, d = "flytesnacks", "development"
ex = remote.fetch_execution(name=name)
print(json.dumps({
    "execution": remote.generate_console_url(ex),
    "execution_id": remote.generate_console_url(WorkflowExecutionIdentifier(p, d, name)),
    "task": remote.generate_console_url(remote.fetch_task(name="flows.report", version=version)),
    "workflow": remote.generate_console_url(remote.fetch_workflow(name="flows.pipeline", version=version)),
    "launch_plan": remote.generate_console_url(
        Identifier(ResourceType.LAUNCH_PLAN, p, d, "flows.pipeline", version)
    ),
}))
"""


@dataclass
class Run:
    backend: Backend
    url: str  # the console URL pyflyte printed
    name: str
    version: str
    work: Path  # where flows.py is


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    work = tmp_path_factory.mktemp("browser")
    backend = start_backend(work / "state")
    try:
        (work / "flows.py").write_text(FLOWS)
        pyflyte = str(Path(VENV_PYTHON).parent / "pyflyte")
        cmd = [pyflyte, "--config", str(backend.config), "run", "--remote", "--wait", "flows.py", "pipeline"]
        proc = subprocess.run(cmd, cwd=work, capture_output=True, text=True, timeout=240)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        url = re.findall(r"http://\S+/console/projects/\S+/executions/[a-z0-9]+", proc.stdout)[-1]
        name = url.rsplit("/", 1)[-1]
        page = fetch(url)
        version = re.search(r"flows\.pipeline @ ([^<]+)</a>", page)
        assert version is not None, page
        yield Run(backend, url, name, version.group(1), work)
    finally:
        backend.stop()


def fetch(url: str) -> str:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(url, timeout=30) as resp:
        assert resp.status == 200, url
        return str(resp.read().decode())


def render(url: str, tmp: Path) -> tuple[str, list[str]]:
    """The DOM headless Chromium built from ``url``, and every URL the page itself requested."""
    netlog = tmp / "net.json"
    cmd = [
        require_chromium(),
        "--headless",
        *CHROMIUM_ARGS,  # as every browser test launches it
        # Chromium asks Google's autofill server about any page with a form field (the project page's
        # filters): the browser's request, not the page's, but the net log files it under the page
        disable_features("AutofillServerCommunication"),
        f"--user-data-dir={tmp / 'profile'}",
        f"--log-net-log={netlog}",
        "--dump-dom",
        url,
    ]
    assert sum(a.startswith("--disable-features=") for a in cmd) == 1  # Chromium keeps only the last one
    proc = subprocess.run(
        cmd, capture_output=True, text=True, timeout=90, env={**os.environ, "http_proxy": ""}
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    log = json.loads(netlog.read_text())
    names = {v: k for k, v in log["constants"]["logEventTypes"].items()}
    page_site = f"http://{urlsplit(url).hostname}"
    requested, dns, remote = [], [], []
    for event in log["events"]:
        kind, params = names.get(event["type"], ""), event.get("params", {})
        # requests of the page (its frame's isolation key), not the browser's own background fetches
        if kind == "URL_REQUEST_START_JOB" and page_site in params.get("network_isolation_key", ""):
            requested.append(params["url"])
        if kind == "DNS_TRANSACTION" and "hostname" in params:
            dns.append(params["hostname"])
        if kind == "TCP_CONNECT" and "remote_address" in params:
            remote.append(params["remote_address"])
    # nor does the browser itself reach out (launched as the browser tests launch it: no name resolves)
    assert not dns, f"Chromium sent DNS queries for {sorted(set(dns))}"
    assert all(a.rsplit(":", 1)[0] in ("127.0.0.1", "[::1]") for a in remote), remote
    return proc.stdout, requested


def assert_local(requested: list[str]) -> None:
    assert requested, "the net log shows no request of the page"
    outside = [u for u in requested if urlsplit(u).hostname not in LOCAL_HOSTS]
    assert not outside, outside


def test_printed_url_renders_in_chromium(run: Run, tmp_path: Path) -> None:
    dom, requested = render(run.url, tmp_path)
    assert_local(requested)
    assert f"Execution {run.name}" in dom and '<span class="SUCCEEDED">SUCCEEDED</span>' in dom
    assert "<h2>Outputs</h2>" in dom and "<pre>12</pre>" in dom  # (((3*2)+1) - 1) * 2
    nodes = dict(re.findall(r'<tr id="node-([^"]+)"[^>]*>(.*?)</tr>', dom, re.S))
    assert {"n0", "n0-0-n0", "n1", "n2", "n3", "n4"} <= set(nodes), list(nodes)
    assert "subworkflow flows.inner" in nodes["n0"]
    assert "padding-left: 2em" in nodes["n0-0-n0"] or "padding-left:2.0em" in nodes["n0-0-n0"]
    # the flaky task: two attempts, each with a log link; the failed one says why (escaped by the page)
    assert "attempt 0" in nodes["n2"] and "attempt 1" in nodes["n2"]
    assert "first attempt &lt;fails&gt; on purpose" in nodes["n2"]
    logs = re.findall(r'href="(http://[^"]+/files/[^"]+)"', nodes["n2"])
    assert len(logs) == 2
    assert "first attempt <fails> on purpose" in fetch(logs[0])
    assert "FlyteRecoverableException: USER:Recoverable: error=first attempt &lt;fails&gt;" in nodes["n2"]
    assert "refresh" not in dom  # finished: the page no longer reloads itself
    # the launch-plan node links its child execution, whose page links back
    child = re.search(r'child execution <a href="(/console/[^"]+)">', nodes["n4"])
    assert child is not None, nodes["n4"]
    page = fetch(f"http://{urlsplit(run.url).netloc}{child.group(1)}")
    assert "CHILD_WORKFLOW (launched by node <a href=" in page and f"{run.name}/n4</a>" in page
    assert "<span class='SUCCEEDED'>SUCCEEDED</span>" in page and "<pre>12</pre>" in page


def test_deck_of_a_real_run(run: Run) -> None:
    """The report task's deck is linked from its node and served on the same origin."""
    page = fetch(run.url)
    nodes = dict(re.findall(r"<tr id='node-([^']+)'[^>]*>(.*?)</tr>", page))
    deck = re.search(r"href='(/files/[^']+)'>deck<", nodes["n1"])
    assert deck is not None, nodes["n1"]
    assert "x is 6" in fetch(f"http://{urlsplit(run.url).netloc}{deck.group(1)}")


def test_flytekit_console_urls_open(run: Run, tmp_path: Path) -> None:
    """FlyteRemote.generate_console_url for the execution and the entities, from the generated config
    (console.endpoint = the HTTP port) and from one without console.endpoint (the gRPC port, by the mux)."""
    b = run.backend
    bare = tmp_path / "bare.yaml"
    bare.write_text(f"admin:\n  endpoint: dns:///127.0.0.1:{b.port}\n  insecure: true\n")
    for config, port in [(b.config, b.http_port), (bare, b.port)]:
        proc = subprocess.run(
            [VENV_PYTHON, "-c", _URLS, str(config), run.name, run.version],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode == 0, proc.stderr
        urls = json.loads(proc.stdout.strip().splitlines()[-1])
        for kind, url in urls.items():
            assert urlsplit(url).port == port, (kind, url)
            page = fetch(url)
            expect = {
                "execution": f"Execution {run.name}",
                "execution_id": f"Execution {run.name}",
                "task": "<h1>Task flows.report</h1>",
                "workflow": "<h1>Workflow flows.pipeline</h1>",
                "launch_plan": "<h1>Launch plan flows.pipeline</h1>",
            }[kind]
            assert expect in page, (kind, url)
            if kind in ("workflow", "launch_plan"):
                assert run.name in page  # the version page lists its executions
    dom, requested = render(
        f"http://127.0.0.1:{b.port}/console/projects/flytesnacks/domains/development/executions", tmp_path
    )
    assert_local(requested)
    assert run.name in dom and "flytesnacks / development: executions" in dom


def _admin(b: Backend) -> Iterator[tuple[admin_pb2_grpc.AdminServiceStub, signal_pb2_grpc.SignalServiceStub]]:
    with grpc.insecure_channel(f"127.0.0.1:{b.port}") as channel:
        yield admin_pb2_grpc.AdminServiceStub(channel), signal_pb2_grpc.SignalServiceStub(channel)


def _wait(admin: admin_pb2_grpc.AdminServiceStub, ident: identifier_pb2.WorkflowExecutionIdentifier) -> int:
    deadline = time.monotonic() + 120
    while True:
        phase = admin.GetExecution(
            execution_pb2.WorkflowExecutionGetRequest(id=ident), timeout=10
        ).closure.phase
        if phase in (WF.SUCCEEDED, WF.FAILED, WF.ABORTED, WF.TIMED_OUT):
            return int(phase)
        assert time.monotonic() < deadline, f"execution still in phase {WF.Phase.Name(phase)}"
        time.sleep(0.3)


def test_waiting_gate_page_updates_until_approved(run: Run, tmp_path: Path) -> None:
    """A real execution waiting at an approve gate: its page says which signal it waits for and updates
    itself (live.js; a <noscript> refresh without scripts); once SetSignal approves it, the page shows the
    end and loads no script."""
    for admin, signals in _admin(run.backend):
        pyflyte = str(Path(VENV_PYTHON).parent / "pyflyte")
        cmd = [pyflyte, "--config", str(run.backend.config), "run", "--remote", "flows.py", "gated"]
        proc = subprocess.run(cmd, cwd=run.work, capture_output=True, text=True, timeout=240)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        url = re.findall(r"http://\S+/console/projects/\S+/executions/[a-z0-9]+", proc.stdout)[-1]
        ident = identifier_pb2.WorkflowExecutionIdentifier(
            project="flytesnacks", domain="development", name=url.rsplit("/", 1)[-1]
        )
        deadline = time.monotonic() + 90
        while "waiting for approval" not in (page := fetch(url)):
            assert time.monotonic() < deadline, page
            time.sleep(0.3)
        dom, requested = render(url, tmp_path)
        assert_local(requested)
        assert '<script src="/console/static/live.js" defer=""></script>' in dom
        assert '<div id="live" data-terminal="false"' in dom
        assert "waiting for approval: signal <code>go &lt;now&gt;</code> (bool)" in dom
        assert "remote.approve('go &lt;now&gt;'" in dom
        value = literals_pb2.Literal(
            scalar=literals_pb2.Scalar(primitive=literals_pb2.Primitive(boolean=True))
        )
        signal = identifier_pb2.SignalIdentifier(signal_id="go <now>", execution_id=ident)
        signals.SetSignal(signal_pb2.SignalSetRequest(id=signal, value=value), timeout=10)
        assert _wait(admin, ident) == WF.SUCCEEDED
        page = fetch(url)
        assert "<span class='SUCCEEDED'>SUCCEEDED</span>" in page and "refresh" not in page
        assert "<script" not in page and "<div id='live' data-terminal='true'" in page
        assert "<tr><td><code>go &lt;now&gt;</code></td><td>bool</td><td><pre>True</pre></td></tr>" in page


def test_cache_hit_links_its_source(run: Run) -> None:
    """A relaunch of the run hits the cache of its `cached` task: its node says so and links the node
    execution that populated it."""
    for admin, _ in _admin(run.backend):
        original = identifier_pb2.WorkflowExecutionIdentifier(
            project="flytesnacks", domain="development", name=run.name
        )
        req = execution_pb2.ExecutionRelaunchRequest(id=original)
        ident = admin.RelaunchExecution(req, timeout=10).id
        assert _wait(admin, ident) == WF.SUCCEEDED
    base = run.url.rsplit("/", 1)[0]
    nodes = dict(re.findall(r"<tr id='node-([^']+)'[^>]*>(.*?)</tr>", fetch(f"{base}/{ident.name}")))
    assert "cache <span class='CACHE_HIT'>hit</span> from <a href=" in nodes["n3"], nodes["n3"]
    assert f"{run.name}/n3</a>" in nodes["n3"]
    first = dict(re.findall(r"<tr id='node-([^']+)'[^>]*>(.*?)</tr>", fetch(run.url)))
    assert "cache <span class='CACHE_POPULATED'>populated</span>" in first["n3"]


def test_pyflyte_register_urls_open(run: Run) -> None:
    """`pyflyte -v register` prints a console URL per registered entity: each opens its version page."""
    pyflyte = str(Path(VENV_PYTHON).parent / "pyflyte")
    cmd = [pyflyte, "-v", "--config", str(run.backend.config), "register", "--version", "vreg", "flows.py"]
    env = {**os.environ, "COLUMNS": "400"}  # rich would wrap the URLs at 80 columns
    proc = subprocess.run(cmd, cwd=run.work, capture_output=True, text=True, timeout=240, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    urls = re.findall(r"http://\S+/console/projects/\S+/version/vreg", proc.stdout)
    kinds = {url.split("/")[-4] for url in urls}
    assert kinds == {"task", "workflow", "launch_plan"}, proc.stdout
    titles = {"task": "Task", "workflow": "Workflow", "launch_plan": "Launch plan"}
    for url in urls:
        kind, name = url.split("/")[-4], url.split("/")[-3]
        page = fetch(url)
        assert f"<h1>{titles[kind]} {name}</h1>" in page and "version vreg" in page, url
