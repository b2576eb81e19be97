"""A real local backend (``flyte-ls local start``) with a package registered by real ``pyflyte register`` and
executions run by the backend itself, for the tests of the console's list and entity pages; fetching its
pages over HTTP and checking each one: escaping (no script, no event handler, only same-origin or http(s)
links), the frame's landmarks, table headers with a scope, labelled form fields, unique ids, and fragment
links that land on an element of the page."""

from __future__ import annotations

import time
import urllib.error
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import grpc
from flyteidl.admin import execution_pb2
from flyteidl.core import execution_pb2 as core_execution_pb2
from flyteidl.core import identifier_pb2, literals_pb2
from flyteidl.service import admin_pb2_grpc
from local_backend import NO_PROXY, Backend, register_copy, start_backend

P, D = "flytesnacks", "development"
TERMINAL = {
    core_execution_pb2.WorkflowExecution.SUCCEEDED,
    core_execution_pb2.WorkflowExecution.FAILED,
    core_execution_pb2.WorkflowExecution.ABORTED,
    core_execution_pb2.WorkflowExecution.TIMED_OUT,
}
# markup, quotes and a URL scheme, without parentheses (which the filter grammar refuses)
HOSTILE = "x'\"><script>alert`1`</script><img src=x onerror=alert`2`>javascript:"


class PageChecker(HTMLParser):
    """Collects the problems of a console page, its links, ids and text."""

    def __init__(self) -> None:
        super().__init__()
        self.problems: list[str] = []
        self.hrefs: list[str] = []
        self.ids: list[str] = []
        self.labels_for: set[str] = set()
        self.fields: list[str] = []
        self.text: list[str] = []
        self._in_label = 0
        self._in_thead = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag in ("script", "iframe", "object", "embed", "img", "link", "base"):
            self.problems.append(f"<{tag}> element")
        if tag == "form" and (a.get("method") != "get" or not a.get("action", "").startswith("/console/")):
            self.problems.append(f"a form that is not a GET to the console: {a}")
        for name, value in a.items():
            if name.startswith("on"):
                self.problems.append(f"{name} handler on <{tag}>")
            if name in ("href", "src", "action"):
                if not (
                    value.startswith(("http://", "https://", "#")) or (value[:1] == "/" and value[1:2] != "/")
                ):
                    self.problems.append(f"{name}={value!r} on <{tag}>")
                if name == "href":
                    self.hrefs.append(value)
        if "id" in a:
            self.ids.append(a["id"])
        if tag == "thead":
            self._in_thead = True
        if tag == "th" and self._in_thead and a.get("scope") != "col":
            self.problems.append("a column header without scope")
        if tag == "label":
            self._in_label += 1
            if a.get("for"):
                self.labels_for.add(a["for"])
        if tag in ("input", "select", "textarea"):
            if not (self._in_label or a.get("id", "") in self.labels_for or a.get("aria-label")):
                self.problems.append(f"<{tag} name={a.get('name')!r}> without a label")
            self.fields.append(a.get("name", ""))

    def handle_endtag(self, tag: str) -> None:
        if tag == "thead":
            self._in_thead = False
        if tag == "label":
            self._in_label -= 1

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def check_page(body: str) -> PageChecker:
    checker = PageChecker()
    checker.feed(body)
    assert not checker.problems, checker.problems
    duplicates = {i for i in checker.ids if checker.ids.count(i) > 1}
    assert not duplicates, duplicates
    for h in checker.hrefs:
        if h.startswith("#") and len(h) > 1:  # a fragment is percent-decoded before it is matched
            assert unquote(h[1:]) in checker.ids, f"the link {h} has no target on the page"
    assert "<a class='skip' href='#main'>" in body and "<main id='main'" in body
    assert "<nav aria-label='breadcrumb'>" in body
    return checker


@dataclass
class Site:
    backend: Backend
    stub: admin_pb2_grpc.AdminServiceStub
    executions: dict[str, list[str]] = field(default_factory=dict)  # launch plan name -> execution names

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.backend.http_port}"

    def get(self, path: str) -> tuple[int, str, dict[str, str]]:
        """Status, body and headers of a GET; every HTML page of the console is checked (:func:`check_page`),
        execution pages too."""
        try:
            with NO_PROXY.open(self.base + path, timeout=30) as resp:
                status, body, headers = resp.status, resp.read().decode(), dict(resp.headers)
        except urllib.error.HTTPError as exc:
            status, body, headers = exc.code, exc.read().decode(), dict(exc.headers)
        if headers.get("Content-Type", "").startswith("text/html") and path.startswith("/console"):
            csp = headers["Content-Security-Policy"]
            assert "default-src 'none'" in csp and "form-action 'self'" in csp, csp
            check_page(body)
        return status, body, headers

    def ok(self, path: str) -> str:
        status, body, _ = self.get(path)
        assert status == 200, (path, status, body[-2000:])
        return body

    def launch(self, lp: str, version: str, resource: int = identifier_pb2.LAUNCH_PLAN, **ints: int) -> str:
        """Starts an execution of launch plan (or task) ``lp`` with integer inputs ``ints``; its name."""
        ident = identifier_pb2.Identifier(
            resource_type=resource, project=P, domain=D, name=lp, version=version
        )
        inputs = literals_pb2.LiteralMap()
        for k, v in ints.items():
            inputs.literals[k].scalar.primitive.integer = v
        spec = execution_pb2.ExecutionSpec(launch_plan=ident)
        req = execution_pb2.ExecutionCreateRequest(project=P, domain=D, spec=spec, inputs=inputs)
        name = str(self.stub.CreateExecution(req, timeout=30).id.name)
        self.executions.setdefault(lp, []).append(name)
        return name

    def wait_all(self, deadline_s: float = 120) -> dict[str, int]:
        """Waits until every launched execution ended; their phases."""
        deadline = time.monotonic() + deadline_s
        phases: dict[str, int] = {}
        for name in [n for names in self.executions.values() for n in names]:
            ident = identifier_pb2.WorkflowExecutionIdentifier(project=P, domain=D, name=name)
            while True:
                req = execution_pb2.WorkflowExecutionGetRequest(id=ident)
                phase = self.stub.GetExecution(req, timeout=10).closure.phase
                if phase in TERMINAL:
                    phases[name] = phase
                    break
                assert time.monotonic() < deadline, f"{name} still in phase {phase}"
                time.sleep(0.1)
        return phases


@contextmanager
def site(work: Path, package: dict[str, str], versions: tuple[str, ...] = ("v1",)) -> Iterator[Site]:
    """A backend with ``package`` (file name -> source of package ``flows``) registered at each version."""
    backend = start_backend(work / "state")
    try:
        src = work / "src" / "flows"
        src.mkdir(parents=True)
        for name, text in {"__init__.py": "", **package}.items():
            (src / name).write_text(text)
        for version in versions:
            register_copy(backend, src, work / f"register-{version}", P, D, version)
        with grpc.insecure_channel(f"127.0.0.1:{backend.port}") as channel:
            yield Site(backend, admin_pb2_grpc.AdminServiceStub(channel))
    finally:
        backend.stop()


def same_origin(href: str) -> bool:
    return href.startswith("/") and not urlsplit(href).netloc
