"""Calls in workflow bodies: entities, methods of promises and conditionals, builtins, helper functions."""

from __future__ import annotations

import ast
from dataclasses import replace

from flyte_ls.analysis.lints.base import CONDITIONAL, Signature
from flyte_ls.analysis.lints.promise_reports import PromiseReporter
from flyte_ls.analysis.lints.promise_values import (
    COMPARISON,
    COND,
    COROUTINE,
    HOLDER,
    ITERATING_BUILTINS,
    MAX_HELPER_DEPTH,
    METHOD,
    MULTI,
    PROMISE,
    PROMISE_ATTRS,
    PROMISE_LIKE,
    STRING,
    STRING_BUILTINS,
    VALUE_BUILTINS,
    VOID,
    Env,
    Val,
    short,
)
from flyte_ls.analysis.model import EntityKind, Severity


class CallChecks(PromiseReporter):
    """Evaluation of calls; the expression evaluator :meth:`ev` is the subclass's."""

    def ev(self, node: ast.expr | None, env: Env, certain: bool, bool_ctx: bool = False) -> Val | None:
        raise NotImplementedError

    def holds_promise(self, node: ast.AST, env: Env) -> bool:
        return any(
            isinstance(n, ast.Name) and (v := env.get(n.id)) is not None and v.kind in PROMISE_LIKE
            for n in ast.walk(node)
        )

    # -- calls -----------------------------------------------------------------------------------------------
    def ev_call(self, call: ast.Call, env: Env, certain: bool) -> Val | None:
        func = call.func
        if isinstance(func, ast.Attribute):
            base = self.ev(func.value, env, certain)
            handled, result = self.method_call(call, func, base, env, certain)
            if handled:
                return result
        elif isinstance(func, ast.Call):
            self.ev(func, env, certain)
        args: list[tuple[ast.expr, Val | None]] = []
        for arg in call.args:
            if isinstance(arg, ast.Starred):
                v = self.ev(arg.value, env, certain)
                self.iterated(v, arg, self.q(arg), certain)
                args.append((arg, None))
            else:
                args.append((arg, self.ev(arg, env, certain)))
        kwargs = [(kw, self.ev(kw.value, env, certain)) for kw in call.keywords]
        sig = (
            self.m.callee(func, self.local) if isinstance(func, (ast.Name, ast.Attribute, ast.Call)) else None
        )
        if sig is not None:
            return self.entity_call(call, sig, args, kwargs, certain)
        qualified = self.m.qualified_or_none(func)
        if qualified == CONDITIONAL:
            return Val(COND)
        builtin = self.m.is_builtin(func, self.local)
        values = [v for _, v in args] + [v for _, v in kwargs]
        if builtin is not None:
            return self.builtin_call(call, builtin, values, certain)
        if isinstance(func, ast.Name) and func.id not in self.local and func.id in self.m.dataclasses:
            if any(v is not None and v.kind in PROMISE_LIKE for v in values):
                return Val(HOLDER, desc=self.m.text(call))
            return None
        if isinstance(func, ast.Name):
            self.helper_call(call, func.id, args, kwargs, certain)
        return None

    def method_call(
        self, call: ast.Call, func: ast.Attribute, base: Val | None, env: Env, certain: bool
    ) -> tuple[bool, Val | None]:
        """Calls of methods on promises, conditionals and string literals; (handled, result)."""
        attr = func.attr
        if base is not None and base.kind == METHOD and base.base is not None:
            base = base.base  # `p.with_overrides` evaluated as an attribute first
        if base is None:
            if isinstance(func.value, ast.Constant) and isinstance(func.value.value, str):
                values = [self.ev(a, env, certain) for a in call.args]
                values += [self.ev(kw.value, env, certain) for kw in call.keywords]
                if attr == "join" and values and values[0] is not None:
                    self.iterated(values[0], call.args[0], self.q(call), certain)
                if attr == "format" and any(v is not None and v.kind in PROMISE_LIKE for v in values):
                    return True, Val(STRING)
                return True, None
            return False, None
        if base.kind in (PROMISE, MULTI, VOID):
            for a in call.args:
                self.ev(a.value if isinstance(a, ast.Starred) else a, env, certain)
            for kw in call.keywords:
                self.ev(kw.value, env, certain)
            if attr == "with_overrides":
                return True, base
            if base.kind == PROMISE and attr in ("is_true", "is_false", "is_none", "is_"):
                return True, Val(COMPARISON)
            if base.kind == PROMISE and attr not in PROMISE_ATTRS:
                self.report(
                    "FL023",
                    call,
                    f"{self.q(call)} calls a method on a promise: `{short(self.m.text(func.value))}` has no "
                    f"value while the workflow is compiled, and `.{attr}` is a promise too ('Promise' object "
                    "is not callable) — call it inside a task",
                    certain,
                )
            return True, None
        if base.kind == COND:
            values = [self.ev(a, env, certain) for a in call.args if not isinstance(a, ast.Starred)]
            for kw in call.keywords:
                self.ev(kw.value, env, certain)
            if attr in ("if_", "elif_") and call.args:
                self.condition(call.args[0], values[0] if values else None, attr, certain)
                return True, replace(base, has_else=False if attr == "if_" else base.has_else)
            if attr == "else_":
                return True, replace(base, has_else=True)
            if attr == "then":
                if base.has_else:
                    then = values[0] if values else None
                    return True, then if then is not None and then.kind in (PROMISE, MULTI) else None
                return True, base
            return True, None
        return False, None

    def entity_call(
        self,
        call: ast.Call,
        sig: Signature,
        args: list[tuple[ast.expr, Val | None]],
        kwargs: list[tuple[ast.keyword, Val | None]],
        certain: bool,
    ) -> Val | None:
        where = f"as an input of `{sig.display}`"
        for node, v in args:
            self.passed(v, node, where, certain)
        for kw, v in kwargs:
            self.passed(v, kw.value, where, certain)
        if sig.kind == EntityKind.REFERENCE_WORKFLOW and self.mode == "workflow":
            self.report(
                "FL015",
                call,
                f"{self.q(call)} calls the reference workflow `{sig.display}` as a sub-workflow: "
                "serialization fails (Reference sub-workflows are currently unsupported) — reference its "
                "launch plan with @reference_launch_plan and call that",
                certain,
            )
        coroutine = sig.kind == EntityKind.EAGER or (sig.is_async and sig.kind == EntityKind.TASK)
        if coroutine and self.mode in ("workflow", "helper"):
            return Val(COROUTINE, desc=self.m.text(call))
        desc = self.m.text(call)
        shape = sig.outputs
        if shape.kind == "void":
            return Val(VOID, desc=desc)
        if shape.kind == "single":
            return Val(PROMISE, desc=desc)
        if shape.kind == "multi":
            return Val(MULTI, desc=desc, names=shape.names)
        return None

    def builtin_call(self, call: ast.Call, name: str, values: list[Val | None], certain: bool) -> Val | None:
        kinds = {v.kind for v in values if v is not None}
        if name in STRING_BUILTINS:
            return Val(STRING) if kinds & PROMISE_LIKE else None
        if PROMISE not in kinds and VOID not in kinds:
            if name == "bool" and COMPARISON in kinds:
                self.truth(Val(COMPARISON), call, certain)
            return None
        if name == "bool":
            self.truth(Val(PROMISE), call, certain)
        elif name in ITERATING_BUILTINS:
            self.iterated(Val(PROMISE), call, self.q(call), certain)
        elif name in VALUE_BUILTINS:
            self.report(
                "FL023",
                call,
                f"{self.q(call)} passes a promise to Python's `{name}()`, but a promise has no value while "
                f"the workflow is compiled: serialization fails (TypeError ... 'Promise') — call `{name}` "
                "inside a task",
                certain,
            )
        return None

    def helper_call(
        self,
        call: ast.Call,
        name: str,
        args: list[tuple[ast.expr, Val | None]],
        kwargs: list[tuple[ast.keyword, Val | None]],
        certain: bool,
    ) -> None:
        """FL028: a plain module-level function called with promises runs at compile time on them."""
        fn = self.m.top_functions.get(name)
        if (
            fn is None
            or name in self.local
            or self.m.module_binding_counts.get(name) != 1
            or fn.decorator_list
            or isinstance(fn, ast.AsyncFunctionDef)
            or self.depth >= MAX_HELPER_DEPTH
            or name in self.stack
        ):
            return
        params = [a.arg for a in (*fn.args.posonlyargs, *fn.args.args)]
        seeds: Env = {}
        for i, (node, v) in enumerate(args):
            if isinstance(node, ast.Starred):
                return
            if v is not None and v.kind in (PROMISE, MULTI, VOID) and i < len(params):
                seeds[params[i]] = replace(v, desc=params[i])
        kwonly = {a.arg for a in fn.args.kwonlyargs}
        for kw, v in kwargs:
            if kw.arg is None:
                return
            if v is not None and v.kind in (PROMISE, MULTI, VOID) and (kw.arg in params or kw.arg in kwonly):
                seeds[kw.arg] = replace(v, desc=kw.arg)
        if not seeds:
            return
        inner = type(self)(self.m, fn, "helper", seeds, self.depth + 1, (*self.stack, name)).run()
        real = [i for i in inner.issues if i.severity in (Severity.ERROR, Severity.WARNING)]
        if not real:
            return
        first = real[0]
        line = getattr(first.node, "lineno", fn.lineno)
        more = f" (and {len(real) - 1} more)" if len(real) > 1 else ""
        self.report(
            "FL028",
            call,
            f"`{name}()` runs while the workflow is compiled and receives the "
            f"promise{'s' if len(seeds) > 1 else ''} {', '.join(f'`{k}`' for k in seeds)}; at line {line}: "
            f"{first.message}{more} — make `{name}` a @task, or keep promise logic out of it",
            certain,
            first.severity,
        )
