"""Arguments of the ``flyte.*`` commands: one JSON object each, validated field by field.

A bad argument is an ``InvalidParams`` error that names the command, the field, the form expected and an
example of the whole argument, so a client author (or a user typing in a command palette) can fix the call.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Mapping
from typing import Any

from pygls.exceptions import JsonRpcInvalidParams

from flyte_ls.remote.identifiers import WorkflowExecutionIdentifier

# The documented argument of each command (the contract; also the example in error messages).
FORMS: dict[str, str] = {
    "flyte.register": '{"uri": "file:///.../wf.py", "entity": "my_wf", "project"?, "domain"?, "version"?}',
    "flyte.execute": '{"uri": "file:///.../wf.py", "entity": "my_wf", "inputs"?: {"x": 1}, "inputsFile"?: '
    '"inputs.yaml", "project"?, "domain"?}',
    "flyte.relaunch": '{"execution": {"project", "domain", "name"}}',
    "flyte.terminate": '{"execution": {"project", "domain", "name"}, "cause"?: "why"}',
    "flyte.openConsole": '{"execution": {"project", "domain", "name"}} or {"uri": ..., "entity": ...}',
    "flyte.approve": '{"execution": {"project", "domain", "name"}, "signalId": "review"}',
    "flyte.reject": '{"execution": {"project", "domain", "name"}, "signalId": "review"}',
    "flyte.setInput": '{"execution": {"project", "domain", "name"}, "signalId": "title", "value": "x"}',
    "flyte.downloadOutputs": '{"execution": {"project", "domain", "name"}, "to"?: "folder"}',
    "flyte.activateLaunchPlan": '{"uri": "file:///.../lp.py", "entity": "my_lp"}',
    "flyte.backfill": '{"uri": ..., "entity": "my_lp", "from": "2026-01-01T00:00", "to": "2026-01-02", '
    '"parallel"?: false}',
    "flyte.trackExecution": '{"execution": {"project", "domain", "name"}} or {"url": "http://.../console/'
    'projects/p/domains/d/executions/name"}',
    "flyte.startLocalBackend": "{} (or no argument)",
    "flyte.stopLocalBackend": "{} (or no argument)",
}

_CONSOLE_URL = re.compile(r"/projects/([^/?#]+)/domains/([^/?#]+)/executions/([^/?#]+)")


class Args:
    """The argument object of one command call, with typed getters that raise ``InvalidParams``."""

    def __init__(self, command: str, arguments: tuple[Any, ...] | list[Any] | None) -> None:
        self.command = command
        items = [_plain(item) for item in arguments or []]
        if len(items) != 1 or not isinstance(items[0], Mapping):
            given = (
                "no argument"
                if not items
                else f"{len(items)} arguments"
                if len(items) > 1
                else "a non-object"
            )
            raise self._invalid(f"takes one JSON object argument, got {given}")
        self.raw: Mapping[str, Any] = items[0]

    def _invalid(self, problem: str) -> JsonRpcInvalidParams:
        return JsonRpcInvalidParams(
            f"{self.command}: {problem}. Expected {FORMS.get(self.command, '{...}')}."
        )

    def has(self, name: str) -> bool:
        return self.raw.get(name) is not None

    def string(self, name: str, *, required: bool = True) -> str | None:
        value = self.raw.get(name)
        if value is None:
            if required:
                raise self._invalid(f"`{name}` is missing (a non-empty string)")
            return None
        if not isinstance(value, str) or not value.strip():
            raise self._invalid(f"`{name}` must be a non-empty string, got {_show(value)}")
        return value

    def required(self, name: str) -> str:
        value = self.string(name)
        assert value is not None
        return value

    def boolean(self, name: str, default: bool = False) -> bool:
        value = self.raw.get(name)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise self._invalid(f"`{name}` must be true or false, got {_show(value)}")
        return value

    def obj(self, name: str) -> dict[str, Any] | None:
        value = self.raw.get(name)
        if value is None:
            return None
        if not isinstance(value, Mapping):
            raise self._invalid(f"`{name}` must be an object (input name → JSON value), got {_show(value)}")
        return dict(value)

    def value(self, name: str) -> Any:
        if name not in self.raw:
            raise self._invalid(f"`{name}` is missing")
        return self.raw[name]

    def date(self, name: str) -> datetime.datetime:
        text = self.required(name)
        try:
            return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise self._invalid(
                f"`{name}` must be an ISO date or date-time such as 2026-01-31 or 2026-01-31T12:00, "
                f"got {text!r}"
            ) from None

    def execution(self, default_project: str, default_domain: str) -> WorkflowExecutionIdentifier:
        """``execution``: ``{project, domain, name}`` (project/domain default to the settings), the string
        ``ex:<project>:<domain>:<name>``, a bare name, or a console URL."""
        value = self.raw.get("execution")
        if value is None:
            raise self._invalid("`execution` is missing")
        parsed = parse_execution(value, default_project, default_domain)
        if parsed is None:
            raise self._invalid(
                "`execution` must be {project, domain, name}, 'ex:<project>:<domain>:<name>', an execution "
                f"name or a console URL, got {_show(value)}"
            )
        return parsed


def parse_execution(
    value: Any, default_project: str, default_domain: str
) -> WorkflowExecutionIdentifier | None:
    if isinstance(value, Mapping):
        name, project, domain = value.get("name"), value.get("project"), value.get("domain")
        if not isinstance(name, str) or not name:
            return None
        project = project if isinstance(project, str) and project else default_project
        domain = domain if isinstance(domain, str) and domain else default_domain
        return WorkflowExecutionIdentifier(project, domain, name)
    if isinstance(value, str) and value:
        if "://" in value:
            return execution_from_url(value)
        if value.startswith("ex:"):
            try:
                return WorkflowExecutionIdentifier.parse(
                    value, default_project=default_project, default_domain=default_domain
                )
            except ValueError:
                return None
        if re.fullmatch(r"[A-Za-z0-9_-]+", value):
            return WorkflowExecutionIdentifier(default_project, default_domain, value)
    return None


def execution_from_url(url: str) -> WorkflowExecutionIdentifier | None:
    """The execution a console URL points at (``.../console/projects/<p>/domains/<d>/executions/<name>``,
    also a node or task page below it)."""
    match = _CONSOLE_URL.search(url)
    if match is None:
        return None
    project, domain, name = match.groups()
    return WorkflowExecutionIdentifier(project, domain, name)


def execution_json(ident: Any) -> dict[str, str]:
    return {"project": str(ident.project), "domain": str(ident.domain), "name": str(ident.name)}


def _plain(value: Any) -> Any:
    """pygls may hand JSON objects over as namedtuples; make them plain dicts and lists again."""
    if hasattr(value, "_asdict"):
        return {k: _plain(v) for k, v in value._asdict().items()}
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
