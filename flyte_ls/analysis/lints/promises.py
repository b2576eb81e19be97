"""Promises in workflow bodies (FL012, FL013, FL020-FL028, FL030, FL031; FL008/FL009 in workflows).

A ``@workflow`` body runs once, at compile time: its inputs and the results of entity calls are *promises*
(placeholders), not values. Python operations that need the value (truth tests, arithmetic, iteration,
``len``) fail while flytekit compiles the workflow. A ``@dynamic`` body runs at execution time with real
inputs, but the results of the entities it calls are still promises.

The checker interprets a body statement by statement, tracking which names certainly hold a promise (a name
bound differently on two branches is forgotten). It only reports what certainly fails when the line runs; code
inside branches and loops may not run, so Errors found there are reported as Warnings.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from dataclasses import replace

from flyte_ls.analysis.lints import types as ty
from flyte_ls.analysis.lints.base import LintModule, is_none, target_names
from flyte_ls.analysis.lints.promise_calls import CallChecks
from flyte_ls.analysis.lints.promise_values import (
    COMPARISON,
    COND,
    COROUTINE,
    METHOD,
    MULTI,
    PROMISE,
    PROMISE_ATTRS,
    PROMISE_LIKE,
    STRING,
    VOID,
    Env,
    Val,
    merge,
    nonempty_literal,
    short,
    stmt_binds,
)
from flyte_ls.analysis.model import EntityKind, Finding, Severity


def _nonempty_display(node: ast.expr) -> bool:
    return isinstance(node, (ast.List, ast.Tuple, ast.Set)) and bool(node.elts)


class BodyChecker(CallChecks):
    """Interprets one body: statements in order, expressions bottom-up."""

    def run(self) -> BodyChecker:
        self.block(self.fn.body, dict(self.seeds), True)
        return self

    def block(self, stmts: list[ast.stmt], env: Env | None, certain: bool) -> Env | None:
        for stmt in stmts:
            if env is None:
                return None
            env = self.stmt(stmt, env, certain)
        return env

    def stmt(self, s: ast.stmt, env: Env, certain: bool) -> Env | None:
        if isinstance(s, ast.Expr):
            v = self.ev(s.value, env, certain)
            if v is not None and v.kind == COND and not v.has_else:
                self.report(
                    "FL030",
                    s.value,
                    f"{self.q(s.value)} is a conditional without else_(): flytekit compiles it, but a local "
                    "run of the workflow fails (Failed to convert output ... None) — end it with "
                    ".else_().then(...) or "
                    '.else_().fail("...")',
                    certain,
                    Severity.WARNING,
                )
            if v is not None and v.kind == COROUTINE:
                self.report(
                    "FL009",
                    s.value,
                    f"{self.q(s.value)} calls an async task (or an @eager workflow) from a workflow: it only "
                    "makes a coroutine, so the task never runs (no node is added) — make the task a plain "
                    "`def`, or call it from an @eager workflow with await",
                    certain,
                    Severity.WARNING,
                )
            return env
        if isinstance(s, ast.Assign):
            v = self.ev(s.value, env, certain)
            for target in s.targets:
                self.bind(target, v, env, certain, s.value)
            return env
        if isinstance(s, ast.AnnAssign):
            if s.value is not None:
                self.bind(s.target, self.ev(s.value, env, certain), env, certain, s.value)
            return env
        if isinstance(s, ast.AugAssign):
            if (
                isinstance(s.target, ast.Name)
                and (tv := env.get(s.target.id)) is not None
                and tv.kind == PROMISE
            ):
                self.report(
                    "FL021",
                    s,
                    f"{self.q(s)}: `{s.target.id}` is a promise, which has no value while the workflow is "
                    "compiled — do the arithmetic in a task",
                    certain,
                )
            self.ev(s.value, env, certain)
            for name in target_names(s.target):
                env.pop(name, None)
            return env
        if isinstance(s, ast.Return):
            v = self.ev(s.value, env, certain) if s.value is not None else None
            self.returns.append((s, v))
            if self.mode == "workflow" and s.value is not None:
                if self.fn.returns is not None and not is_none(self.fn.returns):
                    self.passed(v, s.value, "returned from the workflow", certain)
                elif (v is not None and v.kind in PROMISE_LIKE | {STRING} and v.kind != VOID) or (
                    isinstance(s.value, ast.Constant) and s.value.value is not None
                ):
                    self.report(
                        "FL003",
                        s,
                        f"workflow `{self.fn.name}` returns {self.q(s.value)} but declares no output: the "
                        "value is dropped, and a local run fails (Received an output when workflow local "
                        "execution expected None) — add a return annotation such as `-> int`, or drop the "
                        "return value",
                        certain,
                    )
            return None
        if isinstance(s, ast.If):
            self.truth(self.ev(s.test, env, certain), s.test, certain)
            return merge(self.block(s.body, dict(env), False), self.block(s.orelse, dict(env), False))
        if isinstance(s, ast.While):
            self.truth(self.ev(s.test, env, certain), s.test, certain)
            body = self.block(s.body, dict(env), False)
            return merge(env, body, self.block(s.orelse, dict(env), False))
        if isinstance(s, (ast.For, ast.AsyncFor)):
            it = self.ev(s.iter, env, certain)
            self.iterated(it, s.iter, f"`for ... in {short(self.m.text(s.iter))}`", certain)
            for name in target_names(s.target):
                env.pop(name, None)
            body = self.block(s.body, dict(env), certain and nonempty_literal(s.iter))
            return merge(env, body, self.block(s.orelse, dict(env), False))
        if isinstance(s, (ast.With, ast.AsyncWith)):
            for item in s.items:
                self.ev(item.context_expr, env, certain)
                if item.optional_vars is not None:
                    self.bind(item.optional_vars, None, env, certain, item.context_expr)
            return self.block(s.body, env, certain)
        if isinstance(s, ast.Try) or type(s).__name__ == "TryStar":
            t: ast.Try = s  # type: ignore[assignment]
            body = self.block(t.body, dict(env), certain)
            handlers = [
                self.block(h.body, {k: v for k, v in env.items() if k != h.name}, False) for h in t.handlers
            ]
            orelse = self.block(t.orelse, dict(body), False) if body is not None else None
            out = merge(orelse if t.orelse else body, *handlers)
            if t.finalbody:
                out = self.block(t.finalbody, out if out is not None else dict(env), certain)
            return out
        if isinstance(s, ast.Raise):
            if s.exc is not None:
                self.ev(s.exc, env, certain)
            return None
        if isinstance(s, ast.Assert):
            self.truth(self.ev(s.test, env, certain), s.test, certain)
            if s.msg is not None:
                self.ev(s.msg, env, certain)
            return env
        if isinstance(s, (ast.Break, ast.Continue)):
            return None
        if isinstance(s, ast.Match):
            self.ev(s.subject, env, certain)
            return merge(env, *(self.block(c.body, dict(env), False) for c in s.cases))
        for name in stmt_binds(s):
            env.pop(name, None)
        return env

    def bind(self, target: ast.expr, v: Val | None, env: Env, certain: bool, value: ast.expr) -> None:
        if isinstance(target, ast.Name):
            if v is None or v.kind == METHOD:
                env.pop(target.id, None)
            else:
                env[target.id] = replace(v, desc=target.id)
            return
        if isinstance(target, (ast.Tuple, ast.List)):
            elts = target.elts
            starred = any(isinstance(e, ast.Starred) for e in elts)
            if v is not None and v.kind in (PROMISE, VOID):
                what = "returns nothing" if v.kind == VOID else "is a single promise (one output)"
                self.report(
                    "FL013",
                    target,
                    f"unpacking {self.q(value)} into {len(elts)} names, but it {what}: serialization fails "
                    "(Promise objects are not iterable) — assign it to one name",
                    certain,
                )
            elif v is not None and v.kind == MULTI and not starred and len(elts) != len(v.names):
                self.report(
                    "FL013",
                    target,
                    f"unpacking {self.q(value)} into {len(elts)} names, but it has {len(v.names)} outputs "
                    f"({', '.join(v.names)}): serialization fails (not enough / too many values to unpack) — "
                    f"use one name per output, or one name and .{v.names[0]}",
                    certain,
                )
            if v is not None and v.kind == MULTI and not starred and len(elts) == len(v.names):
                for elt, name in zip(elts, v.names, strict=False):
                    self.bind(elt, Val(PROMISE, desc=name), env, certain, value)
                return
            for name in target_names(target):
                env.pop(name, None)
            return
        if isinstance(target, ast.Starred):
            for name in target_names(target):
                env.pop(name, None)
            return
        if isinstance(target, (ast.Attribute, ast.Subscript)):
            self.ev(target.value, env, certain)
            if isinstance(target, ast.Subscript):
                self.ev(target.slice, env, certain)

    # -- checks on values ------------------------------------------------------------------------------------
    def ev(self, node: ast.expr | None, env: Env, certain: bool, bool_ctx: bool = False) -> Val | None:
        if node is None:
            return None
        if isinstance(node, ast.Name):
            return env.get(node.id) if isinstance(node.ctx, ast.Load) else None
        if isinstance(node, ast.Constant):
            return None
        if isinstance(node, ast.Call):
            return self.ev_call(node, env, certain)
        if isinstance(node, ast.Attribute):
            base = self.ev(node.value, env, certain)
            if base is None:
                return None
            if base.kind == PROMISE:
                if node.attr in PROMISE_ATTRS:
                    return Val(METHOD, attr=node.attr, base=base)
                return Val(PROMISE, desc=self.m.text(node))
            if base.kind == MULTI:
                if node.attr in base.names:
                    return Val(PROMISE, desc=self.m.text(node))
                return Val(METHOD, attr=node.attr, base=base) if node.attr == "with_overrides" else None
            if base.kind in (COND, VOID):
                return Val(METHOD, attr=node.attr, base=base)
            return None
        if isinstance(node, ast.Subscript):
            base = self.ev(node.value, env, certain)
            index = self.ev(node.slice, env, certain)
            if (
                index is not None
                and index.kind == PROMISE
                and (
                    (base is not None and base.kind == PROMISE)
                    or isinstance(node.value, (ast.List, ast.Tuple, ast.Dict))
                    or (
                        isinstance(node.value, ast.Name)
                        and node.value.id in self.m.module_containers
                        and node.value.id not in self.local
                    )
                )
            ):
                self.report(
                    "FL027",
                    node.slice,
                    f"{self.q(node)} uses the promise {self.q(node.slice)} as an index or key: it has no "
                    "value while the workflow is compiled (list indices must be integers or slices, not "
                    "Promise) — index inside a task",
                    certain,
                )
            if base is not None and base.kind == PROMISE:
                return Val(PROMISE, desc=self.m.text(node))
            if base is not None and base.kind == MULTI and isinstance(node.slice, ast.Constant):
                idx = node.slice.value
                if (
                    isinstance(idx, int)
                    and not isinstance(idx, bool)
                    and -len(base.names) <= idx < len(base.names)
                ):
                    return Val(PROMISE, desc=self.m.text(node))
            return None
        if isinstance(node, ast.BinOp):
            return self.ev_binop(node, env, certain)
        if isinstance(node, ast.UnaryOp):
            v = self.ev(node.operand, env, certain)
            if isinstance(node.op, ast.Not):
                self.truth(v, node.operand, certain)
            elif v is not None and v.kind == PROMISE:
                self.report(
                    "FL021",
                    node,
                    f"{self.q(node)} applies an operator to a promise, which has no value while the workflow "
                    "is compiled: serialization fails (bad operand type for unary ...: 'Promise') — compute "
                    "it in a task",
                    certain,
                )
            return None
        if isinstance(node, ast.BoolOp):
            values = [self.ev(x, env, certain) for x in node.values]
            for i, (v, x) in enumerate(zip(values, node.values, strict=False)):
                if i < len(values) - 1 or bool_ctx:
                    self.truth(v, x, certain)
            return None
        if isinstance(node, ast.Compare):
            return self.ev_compare(node, env, certain)
        if isinstance(node, ast.IfExp):
            self.truth(self.ev(node.test, env, certain), node.test, certain)
            self.ev(node.body, env, False)
            self.ev(node.orelse, env, False)
            return None
        if isinstance(node, ast.JoinedStr):
            formatted = False
            for part in node.values:
                if isinstance(part, ast.FormattedValue):
                    v = self.ev(part.value, env, certain)
                    formatted = formatted or (v is not None and v.kind in PROMISE_LIKE | {STRING})
                    if part.format_spec is not None:
                        self.ev(part.format_spec, env, certain)
            return Val(STRING) if formatted else None
        if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
            for elt in node.elts:
                if isinstance(elt, ast.Starred):
                    self.iterated(self.ev(elt.value, env, certain), elt, self.q(elt), certain)
                else:
                    self.ev(elt, env, certain)
            return None
        if isinstance(node, (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)):
            inner = dict(env)
            for i, gen in enumerate(node.generators):
                it = self.ev(gen.iter, inner, certain and i == 0)
                self.iterated(
                    it, gen.iter, f"`for ... in {short(self.m.text(gen.iter))}`", certain and i == 0
                )
                for name in target_names(gen.target):
                    inner.pop(name, None)
                for cond in gen.ifs:
                    self.truth(self.ev(cond, inner, False), cond, False)
            if isinstance(node, ast.DictComp):
                self.ev(node.key, inner, False)
                self.ev(node.value, inner, False)
            else:
                self.ev(node.elt, inner, False)
            return None
        if isinstance(node, ast.Lambda):
            return None
        if isinstance(node, ast.NamedExpr):
            v = self.ev(node.value, env, certain)
            self.bind(node.target, v, env, certain, node.value)
            return v
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.expr):
                self.ev(child, env, certain)
        return None

    def ev_binop(self, node: ast.BinOp, env: Env, certain: bool) -> Val | None:
        left = self.ev(node.left, env, certain)
        right = self.ev(node.right, env, certain)
        lk = left.kind if left else None
        rk = right.kind if right else None
        if isinstance(node.op, (ast.RShift, ast.LShift)):
            return None  # `a >> b` orders two nodes
        if isinstance(node.op, (ast.BitAnd, ast.BitOr)):
            if lk == COMPARISON and rk == COMPARISON:
                return Val(COMPARISON)
            if PROMISE in (lk, rk):
                self.report(
                    "FL021",
                    node,
                    f"{self.q(node)} combines a promise itself with & / |: serialization fails (Cannot "
                    "perform Logical AND/OR of Promise with other) — combine comparisons instead, e.g. (a "
                    "== 1) & (b.is_true())",
                    certain,
                )
            return None
        if (
            isinstance(node.op, ast.Mod)
            and isinstance(node.left, ast.Constant)
            and isinstance(node.left.value, str)
        ):
            if rk in PROMISE_LIKE or self.holds_promise(node.right, env):
                return Val(STRING)
            return None
        if PROMISE in (lk, rk):
            self.report(
                "FL021",
                node,
                f"{self.q(node)} does arithmetic on a promise, which has no value while the workflow is "
                "compiled: serialization fails (unsupported operand type(s) ... 'Promise') — do it inside a "
                "task",
                certain,
            )
            return None
        if STRING in (lk, rk):
            return Val(STRING)
        return None

    def ev_compare(self, node: ast.Compare, env: Env, certain: bool) -> Val | None:
        operands = [self.ev(node.left, env, certain), *(self.ev(c, env, certain) for c in node.comparators)]
        nodes = [node.left, *node.comparators]
        rich = False
        for i, op in enumerate(node.ops):
            a, b = operands[i], operands[i + 1]
            ak, bk = (a.kind if a else None), (b.kind if b else None)
            if isinstance(op, (ast.Is, ast.IsNot)) and PROMISE in (ak, bk):
                self.report(
                    "FL026",
                    node,
                    f"{self.q(node)} tests the identity of a promise: a promise is never None, so this is "
                    f"always {'False' if isinstance(op, ast.Is) else 'True'} — use "
                    "conditional(...).if_(x.is_none())",
                    certain,
                )
            elif isinstance(op, (ast.In, ast.NotIn)):
                if bk in (PROMISE, VOID):
                    self.iterated(b, nodes[i + 1], self.q(node), certain)
                elif ak == PROMISE and _nonempty_display(nodes[i + 1]):
                    self.report(
                        "FL020",
                        node,
                        f"{self.q(node)} compares a promise with each element and tests the result: "
                        "serialization fails (Cannot perform truth value testing) — use conditional() with "
                        "(x == a) | (x == b)",
                        certain,
                    )
            elif PROMISE in (ak, bk):
                rich = True
        if rich and len(node.ops) == 1:
            return Val(COMPARISON)
        if rich:
            self.report(
                "FL020",
                node,
                f"{self.q(node)} is a chained comparison of a promise: Python tests the truth of the first "
                "part, which fails while the workflow is compiled — use conditional() with (a < x) & (x < b)",
                certain,
            )
        return None


def workflow_bodies(m: LintModule) -> Iterable[Finding]:
    """Interpret every @workflow and @dynamic body, module-level or defined inside a function."""
    nested = (m.decorated(fn) for fn, _ in m.scopes.nested)
    for d in [*m.decorated_functions, *(d for d in nested if d is not None)]:
        if d.kind == EntityKind.WORKFLOW:
            args = d.node.args
            seeds = {
                a.arg: Val(PROMISE, desc=a.arg) for a in (*args.posonlyargs, *args.args, *args.kwonlyargs)
            }
            mode = "workflow"
        elif d.kind == EntityKind.DYNAMIC:
            seeds, mode = {}, "dynamic"
        else:
            continue
        try:
            checker = BodyChecker(m, d.node, mode, seeds).run()
        except RecursionError:
            continue
        for issue in checker.issues:
            yield m.finding(
                issue.code, issue.node, issue.message, severity=issue.severity, entity=d.node.name
            )
        if mode == "workflow":
            arity = ty.tuple_arity(d.node.returns, m.namedtuples)
            for ret, v in checker.returns:
                if (
                    arity is not None
                    and arity > 1
                    and v is not None
                    and v.kind == PROMISE
                    and ret.value is not None
                ):
                    yield m.finding(
                        "FL008",
                        ret.value,
                        f"workflow `{d.node.name}` declares {arity} outputs but returns one promise: "
                        "serialization fails (The Workflow specification indicates multiple return values, "
                        "received only one) — return a tuple of promises",
                        entity=d.node.name,
                    )


CHECKERS = [workflow_bodies]
