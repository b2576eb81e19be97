"""How executions show in the editor: diagnostics, lens titles, frame diagnostics, gate code actions, hover,
the JSON of ``flyte/executionChanged`` — on hand-built ``Tracked`` values (the tracker's own dataclass)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import attrs
import pytest
from lsprotocol import types

from flyte_ls.analysis import analyze
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

pytestmark = pytest.mark.timeout(10)

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
