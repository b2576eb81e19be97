"""How a tracked execution reads in the editor: diagnostics, lens titles, hover lines, the JSON clients get.

Pure presentation, no server state: :func:`view` turns the tracker's ``Tracked`` value (attributes or dict
keys, snake_case or camelCase) into an :class:`ExecutionView`; everything else formats a view. The clock is a
parameter (``now``, epoch seconds) so that relative times are testable.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from lsprotocol import types

from flyte_ls.server.constants import SOURCE_EXEC

TERMINAL = frozenset({"SUCCEEDED", "FAILED", "ABORTED", "TIMED_OUT", "UNKNOWN"})  # UNKNOWN: gone from Admin
_PHASES = (
    "UNDEFINED",
    "QUEUED",
    "RUNNING",
    "SUCCEEDING",
    "SUCCEEDED",
    "FAILING",
    "FAILED",
    "ABORTED",
    "TIMED_OUT",
    "ABORTING",
)  # flyteidl's WorkflowExecution.Phase, by number
MAX_MESSAGE = 2000  # characters of an error message in a diagnostic (the console has the rest)
MAX_OUTPUTS = 200  # characters of the outputs summary in a diagnostic or lens


@dataclass(frozen=True)
class Frame:
    file: str  # absolute path of a workspace file
    line: int  # 1-based, as in a traceback
    name: str = ""


@dataclass(frozen=True)
class Gate:
    signal_id: str
    node_id: str = ""
    kind: str = ""  # "approve" (approve/reject) or "signal" (an input the user provides)
    type: str = ""  # the signal's type ("bool", "int"...)
    type_info: dict[str, Any] | None = field(default=None, compare=False)  # literals_types.type_info

    @property
    def is_approval(self) -> bool:
        return self.kind.lower() == "approve"

    def to_json(self) -> dict[str, Any]:
        """A ``gates`` item: ``kind`` is ``approve`` or ``input``; ``typeInfo`` describes the value's type (a
        gate tracked by an older version has none: ``bool`` for an approval, else ``unknown``)."""
        info = self.type_info or {"kind": "bool" if self.is_approval else "unknown"}
        return {
            "signalId": self.signal_id,
            "nodeId": self.node_id,
            "kind": "approve" if self.is_approval else "input",
            "type": self.type,
            "typeInfo": info,
        }


@dataclass(frozen=True)
class ExecutionView:
    """One tracked execution, normalised."""

    execution: dict[str, str]  # {project, domain, name}
    uri: str
    entity: str  # the Python name of the entity in ``uri``
    phase: str
    console_url: str | None = None
    started_at: float | None = None  # epoch seconds
    duration: float | None = None  # seconds
    nodes_done: int | None = None
    nodes_total: int | None = None
    error_message: str | None = None
    error_kind: str | None = None
    frames: tuple[Frame, ...] = ()
    outputs: str | None = None
    gates: tuple[Gate, ...] = field(default=())
    inputs: dict[str, Any] | None = None  # what it was launched with (Re-run)

    @property
    def name(self) -> str:
        return self.execution.get("name", "")

    @property
    def key(self) -> tuple[str, str, str]:
        e = self.execution
        return (e.get("project", ""), e.get("domain", ""), e.get("name", ""))

    @property
    def done(self) -> bool:
        return self.phase in TERMINAL

    @property
    def finished_at(self) -> float | None:
        if self.started_at is None or self.duration is None:
            return None
        return self.started_at + self.duration

    def elapsed(self, now: float) -> float | None:
        if self.done or self.started_at is None:
            return self.duration
        return max(0.0, now - self.started_at)


# -- reading the tracker's values ---------------------------------------------------------------------------
def _get(obj: Any, name: str, default: Any = None) -> Any:
    camel = name.split("_")[0] + "".join(p.title() for p in name.split("_")[1:])
    for key in (name, camel):
        if isinstance(obj, Mapping):
            if key in obj and obj[key] is not None:
                return obj[key]
        elif getattr(obj, key, None) is not None:
            return getattr(obj, key)
    return default


def _seconds(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _epoch(value: Any) -> float | None:
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return (value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)).timestamp()
    if isinstance(value, str):
        try:
            return _epoch(dt.datetime.fromisoformat(value.replace("Z", "+00:00")))
        except ValueError:
            return None
    return _seconds(value)


def _phase(value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        return _PHASES[value] if 0 <= value < len(_PHASES) else "UNDEFINED"
    text = str(getattr(value, "name", value) or "UNDEFINED").upper()
    return text.rpartition(".")[2]


def _execution(value: Any) -> dict[str, str]:
    return {k: str(_get(value, k, "")) for k in ("project", "domain", "name")}


def _outputs(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, Mapping):
        return ", ".join(f"{k}={v}" for k, v in value.items())
    return str(value)


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def view(tracked: Any) -> ExecutionView:
    """Normalise one ``Tracked`` value (see :mod:`flyte_ls.run.tracker`)."""
    error = _get(tracked, "error")
    frames: list[Frame] = []
    if error is not None:
        for f in _get(error, "frames", []) or []:
            file, line = _get(f, "file"), _get(f, "line")
            if isinstance(file, str) and isinstance(line, int):
                frames.append(Frame(file, line, str(_get(f, "name", ""))))
    gates = tuple(
        Gate(
            signal_id=str(_get(g, "signal_id", "")),
            node_id=str(_get(g, "node_id", "")),
            kind=str(_get(g, "kind", "")),
            type=str(_get(g, "type", "")),
            type_info=info if isinstance(info := _get(g, "type_info"), dict) else None,
        )
        for g in _get(tracked, "gates", []) or []
    )
    message = _get(error, "message") if error is not None else None
    kind = _get(error, "kind") if error is not None else None
    return ExecutionView(
        execution=_execution(_get(tracked, "execution", {})),
        uri=str(_get(tracked, "uri", "")),
        entity=str(_get(tracked, "entity", "")),
        phase=_phase(_get(tracked, "phase")),
        console_url=_get(tracked, "console_url"),
        started_at=_epoch(_get(tracked, "started_at")),
        duration=_seconds(_get(tracked, "duration")),
        nodes_done=_int(_get(tracked, "nodes_done")),
        nodes_total=_int(_get(tracked, "nodes_total")),
        error_message=None if message is None else str(message),
        error_kind=None if kind is None else str(kind),
        frames=tuple(frames),
        outputs=_outputs(_get(tracked, "outputs_summary")),
        gates=gates,
        inputs=inputs if isinstance(inputs := _get(tracked, "inputs"), dict) else None,
    )


# -- text ---------------------------------------------------------------------------------------------------
def duration_text(seconds: float | None) -> str:
    """``850ms``, ``12s``, ``3m 05s``, ``2h 04m``."""
    if seconds is None:
        return "?"
    if seconds < 1:
        return f"{round(seconds * 1000)}ms"
    s = round(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m {s % 60:02d}s"
    return f"{s // 3600}h {s % 3600 // 60:02d}m"


def ago_text(seconds: float) -> str:
    """``just now``, ``45s ago``, ``3m ago``, ``2h ago``, ``3d ago``."""
    s = max(0, round(seconds))
    if s < 5:
        return "just now"
    if s < 60:
        return f"{s}s ago"
    if s < 3600:
        return f"{s // 60}m ago"
    if s < 86400:
        return f"{s // 3600}h ago"
    return f"{s // 86400}d ago"


def _truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def error_summary(message: str | None) -> str:
    """The gist of an error: the exception line of a traceback (its last non-blank line), else the first."""
    if not message:
        return "no error message"
    lines = [line.strip() for line in message.strip().splitlines() if line.strip()]
    if not lines:
        return "no error message"
    if any(line.startswith("Traceback (most recent call last)") for line in lines):
        for line in reversed(lines):
            if not line.startswith(("File ", "^", "~")) and ":" in line:
                return _truncate(line, 300)
        return _truncate(lines[-1], 300)
    return _truncate(lines[0], 300)


def progress_text(v: ExecutionView) -> str:
    if v.nodes_total:
        return f"{v.nodes_done or 0}/{v.nodes_total}"
    return ""


def status_text(v: ExecutionView, now: float) -> str:
    """One line: ``RUNNING 2/5 nodes · 12s``, ``SUCCEEDED in 12s · o0=2``, ``FAILED after 3s: Value…``."""
    if v.phase == "SUCCEEDED":
        text = f"SUCCEEDED in {duration_text(v.duration)}"
        return text + (f" · {_truncate(v.outputs, MAX_OUTPUTS)}" if v.outputs else "")
    if v.phase in ("FAILED", "TIMED_OUT"):
        return f"{v.phase} after {duration_text(v.duration)}: {error_summary(v.error_message)}"
    if v.phase == "ABORTED":
        return f"ABORTED after {duration_text(v.duration)}" + (
            f": {error_summary(v.error_message)}" if v.error_message else ""
        )
    progress = progress_text(v)
    text = v.phase + (f" {progress} nodes" if progress else "")
    elapsed = v.elapsed(now)
    return text + (f" · {duration_text(elapsed)}" if elapsed is not None else "")


def lens_title(v: ExecutionView, now: float) -> str:
    """The outcome lens: ``✓ SUCCEEDED 12s · 3m ago``, ``✗ FAILED 4s · just now``, ``● RUNNING 2/5``."""
    if v.done:
        mark = "✓" if v.phase == "SUCCEEDED" else "✗"
        text = f"{mark} {v.phase}"
        if v.duration is not None:
            text += f" {duration_text(v.duration)}"
        finished = v.finished_at
        if finished is not None:
            text += f" · {ago_text(now - finished)}"
        return text
    if v.gates:
        return "⏸ WAITING " + ", ".join(g.signal_id for g in v.gates)
    progress = progress_text(v)
    return f"● {v.phase}" + (f" {progress}" if progress else "")


# -- diagnostics --------------------------------------------------------------------------------------------
def _severity(v: ExecutionView) -> types.DiagnosticSeverity:
    if v.phase == "SUCCEEDED":
        return types.DiagnosticSeverity.Hint
    if v.phase in ("FAILED", "TIMED_OUT"):
        return types.DiagnosticSeverity.Error
    if v.phase == "ABORTED":
        return types.DiagnosticSeverity.Warning
    return types.DiagnosticSeverity.Information


def diagnostic_data(v: ExecutionView, **extra: Any) -> dict[str, Any]:
    return {"execution": dict(v.execution), "phase": v.phase, "consoleUrl": v.console_url, **extra}


def _base(
    v: ExecutionView,
    rng: types.Range,
    message: str,
    severity: types.DiagnosticSeverity,
    data: dict[str, Any],
    related: list[types.DiagnosticRelatedInformation] | None = None,
) -> types.Diagnostic:
    return types.Diagnostic(
        range=rng,
        message=message,
        severity=severity,
        source=SOURCE_EXEC,
        code=v.name or None,
        code_description=types.CodeDescription(href=v.console_url) if v.console_url else None,
        data=data,
        related_information=related or None,
    )


def status_diagnostic(
    v: ExecutionView,
    rng: types.Range,
    now: float,
    raised_at: types.Location | None = None,
) -> types.Diagnostic:
    """The execution's status on the entity's name; ``raised_at``: the failing line, as related info."""
    message = f"{v.entity}: {status_text(v, now)}"
    if v.phase in ("FAILED", "TIMED_OUT", "ABORTED") and v.error_message:
        full = v.error_message.strip()
        if full != error_summary(full):
            message += "\n\n" + _truncate(full, MAX_MESSAGE)
    related = None
    if raised_at is not None:
        related = [types.DiagnosticRelatedInformation(location=raised_at, message="raised here")]
    return _base(v, rng, message, _severity(v), diagnostic_data(v), related)


def gate_diagnostics(v: ExecutionView, rng: types.Range) -> list[types.Diagnostic]:
    """One per waiting gate, on the entity's name; code actions answer them (see :func:`gate_actions`)."""
    out: list[types.Diagnostic] = []
    if v.done:
        return out
    for gate in v.gates:
        what = "approval" if gate.is_approval else "input" + (f" ({gate.type})" if gate.type else "")
        node = f" (node {gate.node_id})" if gate.node_id else ""
        message = f"{v.entity}: waiting for {what} on signal '{gate.signal_id}'{node}"
        data = diagnostic_data(
            v, signalId=gate.signal_id, gateKind=gate.kind, signalType=gate.type, nodeId=gate.node_id
        )
        out.append(_base(v, rng, message, types.DiagnosticSeverity.Warning, data))
    return out


def deepest_frame(frames: Sequence[Frame], in_workspace: Callable[[str], bool]) -> Frame | None:
    """The innermost traceback frame whose file is a workspace file (``in_workspace(path) -> bool``)."""
    for frame in reversed(frames):
        if in_workspace(frame.file):
            return frame
    return None


def line_range(line_text: str | None, line: int) -> types.Range:
    """A 0-based line's code, from its first non-blank character to its end (the whole line if unknown)."""
    if line_text is None:
        return types.Range(
            start=types.Position(line=line, character=0), end=types.Position(line=line + 1, character=0)
        )
    start = len(line_text) - len(line_text.lstrip())
    end = len(line_text.rstrip())
    return types.Range(
        start=types.Position(line=line, character=start),
        end=types.Position(line=line, character=max(end, start)),
    )


def frame_diagnostic(
    v: ExecutionView, frame: Frame, rng: types.Range, entity_at: types.Location
) -> types.Diagnostic:
    """The error on the line that raised it, pointing back to the entity whose run failed."""
    where = f" in {frame.name}" if frame.name else ""
    message = f"{error_summary(v.error_message)} (raised{where} during execution {v.name} of {v.entity})"
    related = [
        types.DiagnosticRelatedInformation(
            location=entity_at, message=f"{v.entity}: {v.phase} (execution {v.name})"
        )
    ]
    data = diagnostic_data(v, frame={"file": frame.file, "line": frame.line, "name": frame.name})
    return _base(v, rng, message, types.DiagnosticSeverity.Error, data, related)


# -- code actions -------------------------------------------------------------------------------------------
def gate_actions(diagnostic: types.Diagnostic, commands: Mapping[str, str]) -> list[types.CodeAction]:
    """Approve / Reject / Provide input… for a gate diagnostic. ``commands``: {"approve", "reject",
    "setInput"} -> command id. ``Provide input…`` carries ``{execution, signalId}`` without ``value``: the
    client prompts for the value and adds it before running the command."""
    data = diagnostic.data if isinstance(diagnostic.data, Mapping) else {}
    signal_id = data.get("signalId")
    execution = data.get("execution")
    if diagnostic.source != SOURCE_EXEC or not signal_id or not isinstance(execution, Mapping):
        return []
    arg = {"execution": dict(execution), "signalId": signal_id}
    gate = Gate(str(signal_id), kind=str(data.get("gateKind", "")))
    choices = [("Approve", "approve"), ("Reject", "reject")] if gate.is_approval else []
    if not gate.is_approval:
        choices.append(("Provide input…", "setInput"))
    return [
        types.CodeAction(
            title=f"{title} ({signal_id})",
            kind=types.CodeActionKind.QuickFix,
            diagnostics=[diagnostic],
            is_preferred=key == "approve",
            command=types.Command(title=title, command=commands[key], arguments=[dict(arg)]),
        )
        for title, key in choices
    ]


# -- JSON for clients ---------------------------------------------------------------------------------------
def iso(epoch: float | None) -> str | None:
    if epoch is None:
        return None
    return dt.datetime.fromtimestamp(epoch, dt.timezone.utc).isoformat().replace("+00:00", "Z")


def execution_json(v: ExecutionView, now: float) -> dict[str, Any]:
    """The ``flyte/executionChanged`` params and a ``flyte/executions`` item."""
    item: dict[str, Any] = {
        "execution": dict(v.execution),
        "phase": v.phase,
        "uri": v.uri,
        "entity": v.entity,
        "consoleUrl": v.console_url,
        "startedAt": iso(v.started_at),
        "duration": v.elapsed(now),
        "nodesDone": v.nodes_done,
        "nodesTotal": v.nodes_total,
        "outputs": v.outputs,
        "gates": [g.to_json() for g in v.gates],
    }
    if v.error_message is not None or v.frames:
        item["error"] = {
            "message": v.error_message,
            "kind": v.error_kind,
            "frames": [{"file": f.file, "line": f.line, "name": f.name} for f in v.frames],
        }
    return item


def hover_lines(views: list[ExecutionView], now: float, markdown: bool, limit: int = 5) -> list[str]:
    """Recent executions, newest first (``views`` oldest tracked first): phase, name (linked to the console),
    start, duration."""
    lines = []
    ordered = list(reversed(views))[:limit]
    for v in ordered:
        name = v.name
        if markdown:
            name = f"[{name}]({v.console_url})" if v.console_url else f"`{name}`"
        started = f"started {ago_text(now - v.started_at)}" if v.started_at is not None else "not started"
        elapsed = v.elapsed(now)
        took = f" · {duration_text(elapsed)}" if elapsed is not None else ""
        phase = f"**{v.phase}**" if markdown else v.phase
        lines.append(f"- {phase} {name} · {started}{took}")
    return lines
