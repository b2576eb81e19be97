"""What the promise checker reports: one method per kind of misuse, with flytekit's failure and the fix."""

from __future__ import annotations

import ast
from dataclasses import dataclass, field

from flyte_ls.analysis.lints.base import FunctionNode, LintModule
from flyte_ls.analysis.lints.promise_values import (
    COMPARISON,
    COND,
    COROUTINE,
    HOLDER,
    MULTI,
    PROMISE,
    STRING,
    VOID,
    Env,
    Issue,
    Val,
    short,
)
from flyte_ls.analysis.lints.registry import default_severity
from flyte_ls.analysis.model import Severity


@dataclass
class PromiseReporter:
    """State of one body's interpretation, and the reports it makes."""

    m: LintModule
    fn: FunctionNode
    mode: str  # "workflow" | "dynamic" | "helper"
    seeds: Env
    depth: int = 0
    stack: tuple[str, ...] = ()
    issues: list[Issue] = field(default_factory=list)
    returns: list[tuple[ast.Return, Val | None]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.local = self.m.scopes.locals_of(self.fn)
        self._seen: set[tuple[str, int, int]] = set()

    def run(self) -> PromiseReporter:
        """Interpret the body (the subclass does); returns self with :attr:`issues` filled."""
        raise NotImplementedError

    # -- reporting -------------------------------------------------------------------------------------------
    def report(
        self, code: str, node: ast.AST, message: str, certain: bool, severity: Severity | None = None
    ) -> None:
        key = (code, getattr(node, "lineno", 0), getattr(node, "col_offset", 0))
        if key in self._seen:
            return
        self._seen.add(key)
        sev = severity or default_severity(code)
        if not certain and sev == Severity.ERROR:
            sev = Severity.WARNING
        self.issues.append(Issue(code, node, message, sev))

    def q(self, node: ast.AST) -> str:
        return f"`{short(self.m.text(node))}`"

    # -- statements ------------------------------------------------------------------------------------------
    def truth(self, v: Val | None, node: ast.AST, certain: bool) -> None:
        if v is None:
            return
        if v.kind == PROMISE:
            self.report(
                "FL020",
                node,
                f"{self.q(node)} tests the truth of a promise, which has no value while the workflow is "
                "compiled: serialization fails (Flytekit does not support ... truth value testing) — branch "
                "with "
                'conditional("name").if_(x.is_true()).then(...).else_().then(...), or decide inside a task',
                certain,
            )
        elif v.kind == COMPARISON:
            self.report(
                "FL020",
                node,
                f"{self.q(node)} compares promises in plain Python: the comparison cannot be tested while "
                "the workflow is compiled (Cannot perform truth value testing) — use "
                'conditional("name").if_(<comparison>).then(...).else_().then(...) (combine with & and |)',
                certain,
            )
        elif v.kind == VOID:
            self.report(
                "FL020",
                node,
                f"{self.q(node)} tests the result of an entity that returns nothing: serialization fails "
                "(NoneType return cannot be used)",
                certain,
            )

    def iterated(self, v: Val | None, node: ast.AST, how: str, certain: bool) -> None:
        if v is not None and v.kind in (PROMISE, VOID):
            self.report(
                "FL022",
                node,
                f"{how} iterates over a promise, which has no value while the workflow is compiled: "
                "serialization fails (Promise objects are not iterable) — loop inside a task, use map_task, "
                "or an @dynamic workflow",
                certain,
            )

    def passed(self, v: Val | None, node: ast.AST, where: str, certain: bool) -> None:
        """Checks a value that becomes an entity input or a workflow output."""
        if v is None:
            return
        if v.kind == COMPARISON:
            self.report(
                "FL024",
                node,
                f"{self.q(node)} is a comparison of promises, not a value, {where}: serialization fails "
                "(Expected value of type ... ComparisonExpression) — compute it in a task, or branch with "
                "conditional()",
                certain,
            )
        elif v.kind == VOID:
            self.report(
                "FL012",
                node,
                f"{self.q(node)} is the result of an entity that has no outputs, {where}: serialization "
                "fails (Cannot pass output ... that produces no outputs) — give that entity an output, or "
                "use `>>` to order the two",
                certain,
            )
        elif v.kind == MULTI and not where.startswith("returned"):
            self.report(
                "FL012",
                node,
                f"{self.q(node)} holds {len(v.names)} outputs ({', '.join(v.names)}), {where}: serialization "
                "fails (cannot receive a multi-valued tuple) — pass one of them, e.g. "
                f"{short(self.m.text(node))}.{v.names[0]}",
                certain,
            )
        elif v.kind == HOLDER:
            self.report(
                "FL016",
                node,
                f"{self.q(node)} puts a promise inside a dataclass, {where}: flytekit cannot serialize it "
                "(can not serialize 'Promise' object) — pass the promise as its own input, or build the "
                "dataclass inside a task",
                certain,
            )
        elif v.kind == STRING:
            self.report(
                "FL025",
                node,
                f"{self.q(node)} formats a promise into a string, {where}: the string holds the promise's "
                "repr (Promise(node:...)), not its value — build the string inside a task",
                certain,
            )
        elif v.kind == COND and not v.has_else:
            self.report(
                "FL030",
                node,
                f"{self.q(node)} is a conditional without else_(), {where}: serialization fails (Failed to "
                "bind output ... condition(...)) — end it with .else_().then(...) or "
                '.else_().fail("...")',
                certain,
            )
        elif v.kind == COROUTINE:
            self.report(
                "FL009",
                node,
                f"{self.q(node)} calls an async task (or an @eager workflow) from a workflow, {where}: it is "
                "a coroutine, not a promise, and serialization fails (Failed to bind ... coroutine) — make "
                "the task a plain `def`, or use an @eager workflow",
                certain,
                Severity.ERROR,
            )

    # -- expressions -----------------------------------------------------------------------------------------
    def condition(self, arg: ast.expr, v: Val | None, attr: str, certain: bool) -> None:
        """FL031: if_/elif_ need a comparison (or & / | of comparisons)."""
        if v is not None and v.kind == PROMISE:
            self.report(
                "FL031",
                arg,
                f"{attr}({short(self.m.text(arg))}) is given a bare promise: serialization fails (Flytekit "
                "does not support unary expressions of the form `if_(x)`) — write "
                f"{attr}({short(self.m.text(arg))}.is_true())",
                certain,
            )
        elif isinstance(arg, ast.Constant):
            self.report(
                "FL031",
                arg,
                f"{attr}({short(self.m.text(arg))}) is given a constant: serialization fails (Expressions "
                "Comparison ... or Conjunction (&/|) are supported) — compare a promise, e.g. if_(x == 1)",
                certain,
            )
