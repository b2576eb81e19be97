"""How executions show in the editor: diagnostics, lens titles, frame diagnostics, gate code actions, hover,
the JSON of ``flyte/executionChanged`` — on hand-built ``Tracked`` values (the tracker's own dataclass)."""

from __future__ import annotations

import asyncio
import atexit
import datetime as dt
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import attrs
import pytest
import pytest_lsp
from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pygls.uris import from_fs_path
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

from flyte_ls.analysis import analyze
from flyte_ls.run.failures import frames_from_error
from flyte_ls.run.paths import workspace_state_dir
from flyte_ls.run.tracker import Tracked
from flyte_ls.server import execution_status as status
from flyte_ls.server.constants import (
    APPROVE_COMMAND,
    EXECUTE_COMMAND,
    OPEN_CONSOLE_COMMAND,
    REGISTER_COMMAND,
    REJECT_COMMAND,
    SET_INPUT_COMMAND,
    SOURCE_EXEC,
)
from flyte_ls.server.features.code_lens import execution_commands, static_command, static_kinds
from flyte_ls.server.features.executions import GATE_COMMANDS, source_root
from flyte_ls.server.features.hover import describe_runs
from flyte_ls.server.settings import Settings, parse_settings

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "local"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))
from local_backend import VENV_PYTHON, Backend, free_port, start_backend
from lsp_helpers import make_client, raw_request, to_json

pytestmark = pytest.mark.timeout(300)  # the live tests run a real backend; the unit tests take milliseconds

FIXTURES = Path(__file__).resolve().parents[1] / "run" / "fixtures"
NOW = 1_800_000_000.0
URI = "file:///ws/trackflows/flows.py"
EXECUTION = {"project": "flytesnacks", "domain": "development", "name": "a1b2c3"}
CONSOLE = "http://localhost:30080/console/projects/flytesnacks/domains/development/executions/a1b2c3"
RNG = types.Range(start=types.Position(line=27, character=4), end=types.Position(line=27, character=13))


def iso(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.timezone.utc).isoformat()


def tracked(phase: str, **kw: object) -> Tracked:
    base: dict[str, object] = {
        "execution": dict(EXECUTION),
        "uri": URI,
        "entity": "two_steps",
        "phase": phase,
        "console_url": CONSOLE,
        "started_at": iso(NOW - 12),
    }
    base.update(kw)
    return Tracked(**base)  # type: ignore[arg-type]


def failed() -> Tracked:
    message = (FIXTURES / "user_error_workflow.txt").read_text()
    frames = [
        {"file": "/work/main/.venv/lib/python3.11/site-packages/flytekit/core/base_task.py", "line": 767},
        {"file": "/tmp/x/work/n1-0/trackflows/flows.py", "line": 24, "name": "validate"},
        {"file": "/tmp/x/work/n1-0/trackflows/helpers.py", "line": 6, "name": "check_positive"},
    ]
    return tracked(
        "FAILED",
        entity="failing",
        duration=4.2,
        error={"message": message, "kind": "USER", "frames": frames},
        started_at=iso(NOW - 200),
    )


def test_a_tracked_value_reads_as_a_view() -> None:
    v = status.view(
        tracked(
            "RUNNING",
            nodes_done=2,
            nodes_total=5,
            inputs={"seconds": 3},
            gates=[{"signal_id": "go", "node_id": "n1", "kind": "approve", "type": "bool"}],
        )
    )
    assert v.key == ("flytesnacks", "development", "a1b2c3")
    assert v.started_at == pytest.approx(NOW - 12)
    assert (v.nodes_done, v.nodes_total, v.inputs) == (2, 5, {"seconds": 3})
    assert v.gates == (status.Gate("go", "n1", "approve", "bool"),) and v.gates[0].is_approval
    assert not v.done and v.elapsed(NOW) == pytest.approx(12)
    # Plain dicts in camelCase and datetimes work too; so does a phase number.
    other = status.view({"execution": EXECUTION, "phase": 4, "startedAt": dt.datetime.fromtimestamp(NOW)})
    assert other.phase == "SUCCEEDED" and other.done


def test_texts_for_durations_and_ages() -> None:
    assert [status.duration_text(s) for s in (0.25, 12, 185, 7440)] == ["250ms", "12s", "3m 05s", "2h 04m"]
    assert [status.ago_text(s) for s in (2, 45, 180, 7200, 3 * 86400)] == [
        "just now",
        "45s ago",
        "3m ago",
        "2h ago",
        "3d ago",
    ]


def test_running_is_information_with_progress_and_elapsed() -> None:
    v = status.view(tracked("RUNNING", nodes_done=2, nodes_total=5))
    d = status.status_diagnostic(v, RNG, NOW)
    assert d.severity == types.DiagnosticSeverity.Information
    assert d.message == "two_steps: RUNNING 2/5 nodes · 12s"
    assert d.source == SOURCE_EXEC and d.range == RNG and d.code == "a1b2c3"
    assert d.code_description is not None and d.code_description.href == CONSOLE
    assert d.data == {"execution": EXECUTION, "phase": "RUNNING", "consoleUrl": CONSOLE}
    queued = status.status_diagnostic(status.view(tracked("QUEUED", started_at=None)), RNG, NOW)
    assert queued.message == "two_steps: QUEUED" and queued.severity == types.DiagnosticSeverity.Information


def test_success_is_a_hint_with_duration_and_outputs() -> None:
    v = status.view(tracked("SUCCEEDED", duration=12.4, outputs_summary="o0=42"))
    d = status.status_diagnostic(v, RNG, NOW + 500)
    assert d.severity == types.DiagnosticSeverity.Hint
    assert d.message == "two_steps: SUCCEEDED in 12s · o0=42"


def test_failure_is_an_error_with_the_exception_line_and_the_whole_message() -> None:
    v = status.view(failed())
    d = status.status_diagnostic(v, RNG, NOW)
    assert d.severity == types.DiagnosticSeverity.Error
    first, _, rest = d.message.partition("\n\n")
    assert first == "failing: FAILED after 4s: ValueError: x must be positive, got -3"
    assert "Traceback (most recent call last)" in rest
    assert d.data["phase"] == "FAILED"  # type: ignore[index]


def test_outcome_lens_titles() -> None:
    done = status.view(tracked("SUCCEEDED", duration=12, started_at=iso(NOW - 192)))
    assert status.lens_title(done, NOW) == "✓ SUCCEEDED 12s · 3m ago"
    assert status.lens_title(status.view(failed()), NOW).startswith("✗ FAILED 4s · ")
    running = status.view(tracked("RUNNING", nodes_done=2, nodes_total=5))
    assert status.lens_title(running, NOW) == "● RUNNING 2/5"
    assert status.lens_title(status.view(tracked("QUEUED")), NOW) == "● QUEUED"
    gated = status.view(tracked("RUNNING", gates=[{"signal_id": "go", "kind": "approve"}]))
    assert status.lens_title(gated, NOW) == "⏸ WAITING go"


def test_the_failure_lands_on_the_deepest_workspace_frame(tmp_path: Path) -> None:
    from flyte_ls.run.failures import Frame as RunFrame
    from flyte_ls.run.failures import map_to_workspace

    pkg = tmp_path / "trackflows"
    pkg.mkdir()
    for name in ("flows.py", "helpers.py"):
        (pkg / name).write_text("\n" * 30)
    v = status.view(failed())
    mapped = map_to_workspace([RunFrame(f.file, f.line, f.name) for f in v.frames], tmp_path)
    frames = [status.Frame(f.file, f.line, f.name) for f in mapped]
    deepest = status.deepest_frame(frames, lambda p: True)
    assert deepest == status.Frame(str(pkg / "helpers.py"), 6, "check_positive")
    assert status.deepest_frame(frames, lambda p: p.endswith("flows.py")) == frames[0]
    assert source_root(str(pkg / "flows.py"), "trackflows.flows") == str(tmp_path)
    assert source_root(str(pkg / "__init__.py"), "trackflows") == str(tmp_path)

    line = status.line_range('        raise ValueError(f"x must be positive, got {x}")', 5)
    assert (line.start.character, line.end.character, line.start.line) == (8, 56, 5)
    entity_at = types.Location(uri=URI, range=RNG)
    d = status.frame_diagnostic(v, deepest, line, entity_at)  # type: ignore[arg-type]
    assert d.severity == types.DiagnosticSeverity.Error and d.source == SOURCE_EXEC
    assert d.message.startswith("ValueError: x must be positive, got -3 (raised in check_positive")
    assert d.related_information is not None
    assert d.related_information[0].location == entity_at
    assert d.code_description is not None and d.code_description.href == CONSOLE


def test_gate_code_actions() -> None:
    v = status.view(
        tracked(
            "RUNNING",
            gates=[
                {"signal_id": "go", "node_id": "n1", "kind": "approve", "type": "bool"},
                {"signal_id": "title", "node_id": "n2", "kind": "signal", "type": "str"},
            ],
        )
    )
    approve, signal = status.gate_diagnostics(v, RNG)
    assert approve.severity == types.DiagnosticSeverity.Warning
    assert approve.message == "two_steps: waiting for approval on signal 'go' (node n1)"
    assert signal.message == "two_steps: waiting for input (str) on signal 'title' (node n2)"
    actions = status.gate_actions(approve, GATE_COMMANDS)
    assert [a.title for a in actions] == ["Approve (go)", "Reject (go)"]
    assert [a.command.command for a in actions if a.command] == [APPROVE_COMMAND, REJECT_COMMAND]
    assert actions[0].command is not None
    assert actions[0].command.arguments == [{"execution": EXECUTION, "signalId": "go"}]
    assert actions[0].diagnostics == [approve] and actions[0].kind == types.CodeActionKind.QuickFix
    (provide,) = status.gate_actions(signal, GATE_COMMANDS)
    assert provide.title == "Provide input… (title)" and provide.command is not None
    assert provide.command.command == SET_INPUT_COMMAND
    assert provide.command.arguments == [
        {"execution": EXECUTION, "signalId": "title"}
    ]  # the client adds value
    # A finished execution waits for nothing; a lint diagnostic has no actions.
    assert status.gate_diagnostics(status.view(tracked("SUCCEEDED", gates=v.gates)), RNG) == []
    lint = types.Diagnostic(range=RNG, message="x", source="flyte", data={"signalId": "go"})
    assert status.gate_actions(lint, GATE_COMMANDS) == []


def test_execution_json_is_the_notification_shape() -> None:
    item = status.execution_json(status.view(failed()), NOW)
    assert item["execution"] == EXECUTION and item["phase"] == "FAILED"
    assert (item["uri"], item["entity"], item["consoleUrl"]) == (URI, "failing", CONSOLE)
    assert item["startedAt"] == "2027-01-15T07:56:40Z" and item["duration"] == 4.2
    assert item["error"]["kind"] == "USER" and item["error"]["frames"][-1]["line"] == 6
    running = status.execution_json(status.view(tracked("RUNNING")), NOW)
    assert "error" not in running and running["duration"] == pytest.approx(12)


def test_gates_in_the_json_carry_kind_and_type_info() -> None:
    optional_int = {"kind": "union", "variants": [{"kind": "int"}, {"kind": "none"}]}
    gates = [
        {
            "signal_id": "go",
            "node_id": "n1",
            "kind": "approve",
            "type": "bool",
            "type_info": {"kind": "bool"},
        },
        {
            "signal_id": "n",
            "node_id": "n2",
            "kind": "signal",
            "type": "int | none",
            "type_info": optional_int,
        },
        {"signal_id": "old", "node_id": "n3", "kind": "signal", "type": "str"},  # tracked by an older version
        {"signal_id": "old-approve", "kind": "approve", "type": "bool"},
    ]
    item = status.execution_json(status.view(tracked("RUNNING", gates=gates)), NOW)
    assert item["gates"] == [
        {"signalId": "go", "nodeId": "n1", "kind": "approve", "type": "bool", "typeInfo": {"kind": "bool"}},
        {"signalId": "n", "nodeId": "n2", "kind": "input", "type": "int | none", "typeInfo": optional_int},
        {"signalId": "old", "nodeId": "n3", "kind": "input", "type": "str", "typeInfo": {"kind": "unknown"}},
        {
            "signalId": "old-approve",
            "nodeId": "",
            "kind": "approve",
            "type": "bool",
            "typeInfo": {"kind": "bool"},
        },
    ]


SOURCE = """
from flytekit import task, workflow
from flytekit.core.base_task import TaskMetadata


@task
def add(x: int, y: int) -> int:
    return x + y


@workflow
def two_steps(x: int = 1) -> int:
    return add(x=x, y=1)
"""


def test_static_lenses_follow_the_settings() -> None:
    entity = analyze(SOURCE, "trackflows.flows").entity("two_steps")
    assert entity is not None
    assert static_kinds(entity, Settings()) == ["run", "register", "info"]
    no_run, problems, _ = parse_settings({"codeLens": {"run": False}})
    assert not problems and static_kinds(entity, no_run) == ["register", "info"]
    none, _, _ = parse_settings({"codeLens": {"run": False, "register": False}})
    assert static_kinds(entity, none) == ["info"]
    run = static_command("run", entity, URI)
    assert run == {
        "title": "▶ Run",
        "command": EXECUTE_COMMAND,
        "arguments": [{"uri": URI, "entity": "two_steps"}],
    }
    register = static_command("register", entity, URI)
    assert register["command"] == REGISTER_COMMAND and register["title"] == "⬆ Register"


def test_execution_lenses_after_a_run() -> None:
    v = status.view(tracked("SUCCEEDED", duration=12, started_at=iso(NOW - 192), inputs={"x": 3}))
    lenses = execution_commands(v, URI, "two_steps", v.inputs, NOW)
    assert [(kind, c["title"]) for kind, c in lenses] == [
        ("outcome", "✓ SUCCEEDED 12s · 3m ago"),
        ("rerun", "⟳ Re-run"),
        ("console", "Open console"),
    ]
    assert lenses[1][1]["arguments"] == [{"uri": URI, "entity": "two_steps", "inputs": {"x": 3}}]
    # The outcome opens the console too: a lens with an empty command is an error in Neovim.
    assert lenses[0][1]["command"] == OPEN_CONSOLE_COMMAND
    assert lenses[0][1]["arguments"] == [{"execution": EXECUTION}]
    assert lenses[2][1] == {
        "title": "Open console",
        "command": OPEN_CONSOLE_COMMAND,
        "arguments": [{"execution": EXECUTION}],
    }


@attrs.define
class FakeRegistration:  # the two fields hover reads of flyte_ls.run.registration.Registration
    version: str
    console_url: str


def test_hover_lists_recent_executions_version_outputs_and_links() -> None:
    older = status.view(failed())
    newer = status.view(
        tracked(
            "SUCCEEDED",
            execution={**EXECUTION, "name": "newer1"},
            console_url=CONSOLE.replace("a1b2c3", "newer1"),
            duration=12,
            outputs_summary="o0=" + "9" * 400,
        )
    )
    text = describe_runs([older, newer], FakeRegistration("v-abc123", "http://console/tasks"), True, NOW)
    assert text is not None
    lines = text.splitlines()
    assert lines[0] == "Registered version: `v-abc123`"
    assert "**Recent executions**" in lines
    recent = [line for line in lines if line.startswith("- ")]
    assert recent[0].startswith(f"- **SUCCEEDED** [newer1]({CONSOLE.replace('a1b2c3', 'newer1')}) · started")
    assert recent[0].endswith("· 12s")
    assert recent[1].startswith(f"- **FAILED** [a1b2c3]({CONSOLE}) · started 3m ago · 4s")
    outputs = lines[lines.index("**Last outputs** (newer1)") + 1]
    assert outputs.startswith("`o0=999") and outputs.endswith("…`") and len(outputs) < 310
    plain = describe_runs([newer], None, False, NOW)
    assert plain is not None and "SUCCEEDED newer1" in plain and "[" not in plain
    assert describe_runs([], None, True, NOW) is None


# -----------------------------------------------------------------------------------------------------------
# Over stdio (pytest-lsp), with the real server process.
#
# ``resumed``: the tracker's state file (as a previous session left it) names a failed, a succeeded and a
# gated execution; the server starts with an unreachable backend (nothing is polled into a new state) and
# shows them.
# ``live``: a real local backend and a real worker; runs started with flyte.execute.
# -----------------------------------------------------------------------------------------------------------
TRACKFLOWS = Path(__file__).resolve().parents[1] / "run" / "data" / "trackflows"
CACHE = Path(tempfile.mkdtemp(prefix="flyte-ls-executions-cache-"))
RESUMED_WS = Path(tempfile.mkdtemp(prefix="flyte-ls-executions-resumed-"))
LIVE_WS = Path(tempfile.mkdtemp(prefix="flyte-ls-executions-live-"))
for _made in (CACHE, RESUMED_WS, LIVE_WS):  # made at import: the server's environment names them
    atexit.register(shutil.rmtree, _made, True)
WAIT_S = 20.0
RUN_DEADLINE_S = 180.0


def _client_with_notifications() -> LanguageClient:
    client = make_client()
    client.execution_changes = []  # type: ignore[attr-defined]

    @client.feature("flyte/executionChanged")
    def changed(ls: LanguageClient, params: Any) -> None:
        ls.execution_changes.append(to_json(params))  # type: ignore[attr-defined]

    return client


SERVER = ClientServerConfig(
    server_command=[sys.executable, "-m", "flyte_ls", "serve", "-v"],
    client_factory=_client_with_notifications,
    server_env={**os.environ, "XDG_CACHE_HOME": str(CACHE)},
)


async def until(cond: Any, what: str, timeout: float = WAIT_S) -> Any:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = cond()
        if value:
            return value
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        await asyncio.sleep(0.05)


def exec_diagnostics(client: LanguageClient, uri: str) -> list[types.Diagnostic]:
    return [d for d in client.diagnostics.get(uri, []) if d.source == SOURCE_EXEC]


def on_entity(client: LanguageClient, uri: str, name: str, line: int | None = None) -> list[types.Diagnostic]:
    return [
        d
        for d in exec_diagnostics(client, uri)
        if d.message.startswith(f"{name}: ") and (line is None or d.range.start.line == line)
    ]


async def rpc(client: LanguageClient, method: str, params: Any, timeout: float = WAIT_S) -> Any:
    return to_json(await asyncio.wait_for(client.protocol.send_request_async(method, params), timeout))


async def lens_titles(client: LanguageClient, uri: str, line: int) -> list[str]:
    params = types.CodeLensParams(text_document=types.TextDocumentIdentifier(uri=uri))
    lenses = await asyncio.wait_for(client.text_document_code_lens_async(params), WAIT_S)
    titles = []
    for lens in lenses or []:
        if lens.range.start.line != line:
            continue
        if lens.command is None:
            lens = await asyncio.wait_for(client.code_lens_resolve_async(lens), WAIT_S)
        assert lens.command is not None
        titles.append(lens.command.title)
    return titles


async def code_actions(client: LanguageClient, uri: str, rng: types.Range) -> list[dict[str, Any]]:
    """``textDocument/codeAction`` as plain JSON (pytest-lsp's client reads a CodeAction as a Command)."""
    where = {
        "start": {"line": rng.start.line, "character": rng.start.character},
        "end": {"line": rng.end.line, "character": rng.end.character},
    }
    params = {"textDocument": {"uri": uri}, "range": where, "context": {"diagnostics": []}}
    return to_json(await raw_request(client, "textDocument/codeAction", params, WAIT_S)) or []


def open_file(client: LanguageClient, path: Path) -> str:
    uri = from_fs_path(str(path))
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(
                uri=uri, language_id="python", version=1, text=path.read_text()
            )
        )
    )
    return uri


def line_of(path: Path, fragment: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines()) if fragment in line)


# -- resumed from the state file -----------------------------------------------------------------------------
def _write_resumed_state() -> dict[str, str]:
    shutil.copytree(TRACKFLOWS, RESUMED_WS / "trackflows", dirs_exist_ok=True)
    flows = from_fs_path(str(RESUMED_WS / "trackflows" / "flows.py"))
    message = (FIXTURES / "user_error_workflow.txt").read_text()

    def item(name: str, entity: str, phase: str, started: float, **kw: Any) -> dict[str, Any]:
        execution = {"project": "flytesnacks", "domain": "development", "name": name}
        url = f"http://127.0.0.1:1/console/projects/flytesnacks/domains/development/executions/{name}"
        return Tracked(execution, flows, entity, phase, url, iso(started), **kw).to_json()  # type: ignore[arg-type]

    now = time.time()
    executions = [
        item(
            "fail01",
            "failing",
            "FAILED",
            now - 600,
            duration=4.0,
            error={
                "message": message,
                "kind": "USER",
                "frames": [f.to_json() for f in frames_from_error(message)],
            },
        ),
        item(
            "okay01",
            "two_steps",
            "SUCCEEDED",
            now - 300,
            duration=12.0,
            outputs_summary="o0=42",
            inputs={"seconds": 3},
        ),
        item(
            "gate01",
            "gated",
            "RUNNING",
            now - 60,
            nodes_done=1,
            nodes_total=3,
            gates=[{"signal_id": "go", "node_id": "n1", "kind": "approve", "type": "bool"}],
        ),
    ]
    saved = os.environ.get("XDG_CACHE_HOME")
    os.environ["XDG_CACHE_HOME"] = str(CACHE)  # the server's user cache (paths read it at each call)
    try:
        state = workspace_state_dir(RESUMED_WS)
    finally:
        if saved is None:
            del os.environ["XDG_CACHE_HOME"]
        else:
            os.environ["XDG_CACHE_HOME"] = saved
    state.mkdir(parents=True, exist_ok=True)
    (state / "executions.json").write_text(json.dumps({"version": 1, "executions": executions}))
    return {"flows": flows, "helpers": from_fs_path(str(RESUMED_WS / "trackflows" / "helpers.py"))}


@pytest_lsp.fixture(config=SERVER, scope="module", params=["visual-studio-code", "neovim"])
async def resumed(request: pytest.FixtureRequest, lsp_client: LanguageClient):
    """VS Code gets complete lenses and can refresh them; Neovim resolves lenses and cannot refresh."""
    lsp_client.uris = _write_resumed_state()  # type: ignore[attr-defined]  # before `initialized` loads it
    lsp_client.preset = request.param  # type: ignore[attr-defined]
    params = types.InitializeParams(
        capabilities=client_capabilities(request.param),
        root_uri=from_fs_path(str(RESUMED_WS)),
        workspace_folders=[types.WorkspaceFolder(uri=from_fs_path(str(RESUMED_WS)), name="ws")],
        initialization_options={
            "endpoint": f"127.0.0.1:{free_port()}",
            "insecure": True,
            "local": {"autoStart": False},
        },
    )
    await asyncio.wait_for(lsp_client.initialize_session(params), 30)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT_S
    while len(await rpc(lsp_client, "flyte/executions", {})) < 3:  # the state loads on `initialized`
        assert loop.time() < deadline, "the tracked executions were not loaded"
        await asyncio.sleep(0.05)
    yield
    await asyncio.wait_for(lsp_client.shutdown_session(), 30)


RESUMED_FLOWS = RESUMED_WS / "trackflows" / "flows.py"


async def test_resumed_executions_show_on_closed_files(resumed: LanguageClient) -> None:
    uris: dict[str, str] = resumed.uris  # type: ignore[attr-defined]
    # The failure: on the raising line of the helper module (never opened), pointing back to the entity.
    (raised,) = await until(lambda: exec_diagnostics(resumed, uris["helpers"]), "the failure's line")
    raise_line = line_of(RESUMED_WS / "trackflows" / "helpers.py", "raise ValueError")
    assert raised.range.start.line == raise_line and raised.range.start.character == 8
    assert raised.severity == types.DiagnosticSeverity.Error
    assert raised.message.startswith("ValueError: x must be positive, got -3")
    assert raised.related_information is not None
    back = raised.related_information[0].location
    assert back.uri == uris["flows"] and back.range.start.line == line_of(RESUMED_FLOWS, "def failing")
    # The statuses on the entities' names.
    failing_line = line_of(RESUMED_FLOWS, "def failing")
    (failing,) = await until(lambda: on_entity(resumed, uris["flows"], "failing"), "failing's status")
    assert failing.severity == types.DiagnosticSeverity.Error and failing.range.start.line == failing_line
    assert failing.code_description is not None and failing.code_description.href.endswith("/fail01")
    assert failing.data["execution"]["name"] == "fail01" and failing.data["phase"] == "FAILED"
    (ok,) = on_entity(resumed, uris["flows"], "two_steps")
    assert (
        ok.severity == types.DiagnosticSeverity.Hint and ok.message == "two_steps: SUCCEEDED in 12s · o0=42"
    )
    gated = on_entity(resumed, uris["flows"], "gated")
    assert sorted(d.severity for d in gated) == [
        types.DiagnosticSeverity.Warning,
        types.DiagnosticSeverity.Information,
    ]


async def test_flyte_executions_lists_them(resumed: LanguageClient) -> None:
    uris: dict[str, str] = resumed.uris  # type: ignore[attr-defined]
    items = await rpc(resumed, "flyte/executions", {})
    assert [i["execution"]["name"] for i in items] == ["fail01", "okay01", "gate01"]
    assert items[0]["error"]["kind"] == "USER" and items[1]["duration"] == 12.0
    assert set(items[2]) >= {"execution", "phase", "uri", "entity", "consoleUrl", "startedAt", "duration"}
    names = [i["execution"]["name"] for i in await rpc(resumed, "flyte/executions", {"uri": uris["flows"]})]
    assert names == ["fail01", "okay01", "gate01"]
    assert await rpc(resumed, "flyte/executions", {"uri": "file:///elsewhere.py"}) == []


async def test_lenses_hover_and_gate_actions_of_resumed_executions(resumed: LanguageClient) -> None:
    uri = open_file(resumed, RESUMED_FLOWS)
    line = line_of(RESUMED_FLOWS, "def two_steps") - 1  # the lenses sit on the decorator
    titles = await lens_titles(resumed, uri, line)
    assert titles[:3] == ["▶ Run", "⬆ Register", "workflow · 1 input → 1 output · calls 2 entities"]
    assert titles[3] == "✓ SUCCEEDED 12s · 4m ago" and titles[4:] == ["⟳ Re-run", "Open console"]
    gated_line = line_of(RESUMED_FLOWS, "def gated")
    assert "⏸ WAITING go" in await lens_titles(resumed, uri, gated_line - 1)
    # Lenses asked for before the state was loaded lacked the outcome: clients that can are told to refresh.
    if resumed.preset == "visual-studio-code":  # type: ignore[attr-defined]
        await until(lambda: resumed.code_lens_refreshes > 0, "workspace/codeLens/refresh")  # type: ignore[attr-defined]
    else:
        await asyncio.sleep(0.5)
        assert resumed.code_lens_refreshes == 0  # type: ignore[attr-defined]

    hover = await asyncio.wait_for(
        resumed.text_document_hover_async(
            types.HoverParams(
                text_document=types.TextDocumentIdentifier(uri=uri),
                position=types.Position(line=line + 1, character=6),
            )
        ),
        WAIT_S,
    )
    assert hover is not None and isinstance(hover.contents, types.MarkupContent)
    assert "**Recent executions**" in hover.contents.value
    assert "- **SUCCEEDED** [okay01](http://127.0.0.1:1/console/" in hover.contents.value
    assert "`o0=42`" in hover.contents.value

    (gate,) = [d for d in on_entity(resumed, uri, "gated") if d.severity == types.DiagnosticSeverity.Warning]
    actions = await code_actions(resumed, uri, gate.range)
    assert [a["title"] for a in actions] == ["Approve (go)", "Reject (go)"]
    command = actions[0]["command"]
    assert command["command"] == "flyte.approve"
    assert command["arguments"] == [
        {"execution": {"project": "flytesnacks", "domain": "development", "name": "gate01"}, "signalId": "go"}
    ]


async def test_status_diagnostics_follow_edits(resumed: LanguageClient) -> None:
    uri = open_file(resumed, RESUMED_FLOWS)
    before = line_of(RESUMED_FLOWS, "def failing")
    await until(lambda: on_entity(resumed, uri, "failing", before), "failing's status")
    resumed.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
            content_changes=[
                types.TextDocumentContentChangePartial(
                    range=types.Range(
                        start=types.Position(line=0, character=0), end=types.Position(line=0, character=0)
                    ),
                    text="# one\n# two\n",
                )
            ],
        )
    )
    (moved,) = await until(lambda: on_entity(resumed, uri, "failing", before + 2), "the status to move")
    assert moved.range.start.character == 4 and moved.range.end.character == 4 + len("failing")


# -- live: a real local backend, a real worker ---------------------------------------------------------------
@pytest.fixture(scope="module")
def backend(tmp_path_factory: pytest.TempPathFactory):
    shutil.copytree(TRACKFLOWS, LIVE_WS / "trackflows", dirs_exist_ok=True)
    started = start_backend(tmp_path_factory.mktemp("backend") / "state")
    try:
        yield started
    finally:
        started.stop()


@pytest_lsp.fixture(config=SERVER, scope="module")
async def live(request: pytest.FixtureRequest, lsp_client: LanguageClient):
    backend: Backend = request.getfixturevalue("backend")
    capabilities = client_capabilities("visual-studio-code")  # code lens refresh; complete lenses
    params = types.InitializeParams(
        capabilities=capabilities,
        root_uri=from_fs_path(str(LIVE_WS)),
        workspace_folders=[types.WorkspaceFolder(uri=from_fs_path(str(LIVE_WS)), name="ws")],
        initialization_options={
            "endpoint": f"127.0.0.1:{backend.port}",
            "insecure": True,
            "pythonPath": VENV_PYTHON,
            "local": {"autoStart": False},
        },
    )
    await asyncio.wait_for(lsp_client.initialize_session(params), 30)
    yield
    await asyncio.wait_for(lsp_client.shutdown_session(), 30)


LIVE_FLOWS = LIVE_WS / "trackflows" / "flows.py"
LIVE_HELPERS = LIVE_WS / "trackflows" / "helpers.py"


async def execute(client: LanguageClient, entity: str, inputs: dict[str, Any]) -> dict[str, Any]:
    arguments = [{"uri": from_fs_path(str(LIVE_FLOWS)), "entity": entity, "inputs": inputs}]
    params = types.ExecuteCommandParams(command=EXECUTE_COMMAND, arguments=arguments)
    return to_json(await asyncio.wait_for(client.workspace_execute_command_async(params), RUN_DEADLINE_S))  # type: ignore[no-any-return]


def of_execution(client: LanguageClient, uri: str, entity: str, name: str) -> list[types.Diagnostic]:
    return [d for d in on_entity(client, uri, entity) if d.data and d.data["execution"]["name"] == name]


async def test_a_run_goes_from_information_to_hint_and_its_lenses_follow(live: LanguageClient) -> None:
    uri = open_file(live, LIVE_FLOWS)
    line = line_of(LIVE_FLOWS, "def two_steps") - 1
    assert await lens_titles(live, uri, line) == [
        "▶ Run",
        "⬆ Register",
        "workflow · 1 input → 1 output · calls 2 entities",
    ]
    refreshes = live.code_lens_refreshes  # type: ignore[attr-defined]
    run = await execute(live, "two_steps", {"seconds": 3})
    name = run["execution"]["name"]

    def status_of() -> types.Diagnostic | None:
        found = of_execution(live, uri, "two_steps", name)
        return found[0] if found else None

    running = await until(
        lambda: (d := status_of()) is not None and d.severity == types.DiagnosticSeverity.Information and d,
        "the running status",
        RUN_DEADLINE_S,
    )
    assert running.message.startswith(("two_steps: QUEUED", "two_steps: RUNNING", "two_steps: UNDEFINED"))
    assert running.range.start.line == line + 1 and running.range.start.character == 4
    assert running.code_description is not None and running.code_description.href == run["consoleUrl"]
    assert running.data["consoleUrl"] == run["consoleUrl"]
    done = await until(
        lambda: (d := status_of()) is not None and d.severity != types.DiagnosticSeverity.Information and d,
        "the run to end",
        RUN_DEADLINE_S,
    )
    assert done.severity == types.DiagnosticSeverity.Hint, done.message
    assert done.message.startswith("two_steps: SUCCEEDED in ") and "o0=43" in done.message
    changes = [c for c in live.execution_changes if c["execution"]["name"] == name]  # type: ignore[attr-defined]
    assert changes[-1]["phase"] == "SUCCEEDED" and changes[-1]["entity"] == "two_steps"
    assert changes[-1]["consoleUrl"] == run["consoleUrl"] and changes[-1]["uri"] == uri
    assert any(c["phase"] in ("QUEUED", "RUNNING") for c in changes)

    titles = await lens_titles(live, uri, line)
    assert titles[3].startswith("✓ SUCCEEDED ") and titles[3].endswith(("just now", "s ago")), titles
    assert titles[4:] == ["⟳ Re-run", "Open console"]
    await until(lambda: live.code_lens_refreshes > refreshes, "workspace/codeLens/refresh")  # type: ignore[attr-defined]
    lenses = await asyncio.wait_for(
        live.text_document_code_lens_async(
            types.CodeLensParams(text_document=types.TextDocumentIdentifier(uri=uri))
        ),
        WAIT_S,
    )
    rerun = next(lens for lens in lenses or [] if lens.command and lens.command.title == "⟳ Re-run")
    assert to_json(rerun.command.arguments) == [{"uri": uri, "entity": "two_steps", "inputs": {"seconds": 3}}]  # type: ignore[union-attr]

    hover = await asyncio.wait_for(
        live.text_document_hover_async(
            types.HoverParams(
                text_document=types.TextDocumentIdentifier(uri=uri),
                position=types.Position(line=line + 1, character=6),
            )
        ),
        WAIT_S,
    )
    assert hover is not None and isinstance(hover.contents, types.MarkupContent)
    text = hover.contents.value
    assert f"Registered version: `{run['version']}`" in text, text
    assert f"- **SUCCEEDED** [{name}]({run['consoleUrl']}) · started " in text, text
    assert "**Last outputs** (" in text and "`o0=43`" in text, text


async def test_a_failure_is_shown_on_the_raising_line_of_the_helper_module(live: LanguageClient) -> None:
    flows = open_file(live, LIVE_FLOWS)
    helpers = from_fs_path(str(LIVE_HELPERS))
    run = await execute(live, "failing", {"x": -3})
    name = run["execution"]["name"]

    def raised() -> list[types.Diagnostic]:
        return [d for d in exec_diagnostics(live, helpers) if d.data and d.data["execution"]["name"] == name]

    (error,) = await until(raised, "the error on helpers.py", RUN_DEADLINE_S)
    assert error.severity == types.DiagnosticSeverity.Error
    assert error.range.start.line == line_of(LIVE_HELPERS, "raise ValueError")
    assert error.message.startswith("ValueError: x must be positive, got -3"), error.message
    assert error.related_information is not None
    back = error.related_information[0].location
    assert back.uri == flows and back.range.start.line == line_of(LIVE_FLOWS, "def failing")
    (status_diagnostic,) = of_execution(live, flows, "failing", name)
    assert status_diagnostic.severity == types.DiagnosticSeverity.Error
    assert "x must be positive, got -3" in status_diagnostic.message
    titles = await lens_titles(live, flows, line_of(LIVE_FLOWS, "def failing") - 1)
    assert titles[3].startswith("✗ FAILED"), titles


async def test_a_new_run_of_the_entity_clears_the_old_failure(live: LanguageClient) -> None:
    flows = open_file(live, LIVE_FLOWS)
    helpers = from_fs_path(str(LIVE_HELPERS))
    await until(lambda: exec_diagnostics(live, helpers), "the earlier failure's line")
    run = await execute(live, "failing", {"x": 3})  # the newest execution of the entity wins
    done = await until(
        lambda: [
            d
            for d in of_execution(live, flows, "failing", run["execution"]["name"])
            if d.data["phase"] == "SUCCEEDED"
        ],
        "the new run to succeed",
        RUN_DEADLINE_S,
    )
    assert done[0].severity == types.DiagnosticSeverity.Hint
    assert len(on_entity(live, flows, "failing")) == 1
    await until(lambda: not exec_diagnostics(live, helpers), "the helper's Error to go")


async def test_a_gate_is_approved_through_its_code_action(live: LanguageClient) -> None:
    uri = open_file(live, LIVE_FLOWS)
    run = await execute(live, "gated", {"x": 1})
    name = run["execution"]["name"]

    def gate() -> list[types.Diagnostic]:
        return [
            d
            for d in of_execution(live, uri, "gated", name)
            if d.severity == types.DiagnosticSeverity.Warning
        ]

    (waiting,) = await until(gate, "the gate's diagnostic", RUN_DEADLINE_S)
    assert (
        waiting.message == "gated: waiting for approval on signal 'go'" + waiting.message.partition("'go'")[2]
    )
    actions = await code_actions(live, uri, waiting.range)
    approve = next(a for a in actions if a["title"].startswith("Approve"))
    command = approve["command"]
    assert command["arguments"] == [{"execution": run["execution"], "signalId": "go"}]
    params = types.ExecuteCommandParams(command=command["command"], arguments=command["arguments"])
    await asyncio.wait_for(live.workspace_execute_command_async(params), RUN_DEADLINE_S)
    done = await until(
        lambda: [
            d for d in of_execution(live, uri, "gated", name) if d.data["phase"] in ("SUCCEEDED", "FAILED")
        ],
        "the approved run to end",
        RUN_DEADLINE_S,
    )
    assert [d.data["phase"] for d in done] == ["SUCCEEDED"], done
    assert not gate()


async def test_flyte_executions_lists_the_runs(live: LanguageClient) -> None:
    items = await rpc(live, "flyte/executions", {"uri": from_fs_path(str(LIVE_FLOWS))})
    assert [i["entity"] for i in items] == ["two_steps", "failing", "failing", "gated"]
    assert [i["phase"] for i in items] == ["SUCCEEDED", "FAILED", "SUCCEEDED", "SUCCEEDED"]
    assert all(i["startedAt"] and i["duration"] and i["consoleUrl"] for i in items)
    assert items[1]["error"]["frames"] and "x must be positive" in items[1]["error"]["message"]
    with pytest.raises(JsonRpcException):  # a typo in the arguments is the client's error, not a crash
        await asyncio.wait_for(
            live.workspace_execute_command_async(
                types.ExecuteCommandParams(command="flyte.approve", arguments=[{"execution": 3}])
            ),
            WAIT_S,
        )
