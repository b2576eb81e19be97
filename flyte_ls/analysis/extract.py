"""Entity extraction from top-level statements; the same code serves the full parse and the chunk parses."""

from __future__ import annotations

import ast
from collections.abc import Iterable
from dataclasses import dataclass

from flyte_ls.analysis import dialect as fk
from flyte_ls.analysis.callgraph import body_calls, call_ref, map_spec, ref_for
from flyte_ls.analysis.drafts import BuilderCall, Draft, Facts, Span
from flyte_ls.analysis.imports import ImportTable
from flyte_ls.analysis.model import EntityKind, Input, Output
from flyte_ls.analysis.positions import LineTable
from flyte_ls.analysis.signatures import (
    function_inputs,
    literal_keys,
    namedtuple_class_fields,
    namedtuple_fields,
    return_outputs,
    string_value,
    typed_mapping,
)

_BODY_CALL_KINDS = frozenset({EntityKind.WORKFLOW, EntityKind.DYNAMIC, EntityKind.EAGER})
_FUNCTION_KINDS = frozenset({EntityKind.TASK, EntityKind.DYNAMIC, EntityKind.EAGER, EntityKind.WORKFLOW})
_REFERENCE_FIELDS = ("project", "domain", "name", "version")
_ADD_NODE = frozenset({"add_entity", "add_task", "add_launch_plan", "add_subwf"})
_ADD_IO = frozenset({"add_workflow_input", "add_workflow_output"})
_RESOURCE_TYPES = {
    "TASK": EntityKind.REFERENCE_TASK,
    "WORKFLOW": EntityKind.REFERENCE_WORKFLOW,
    "LAUNCH_PLAN": EntityKind.REFERENCE_LAUNCH_PLAN,
}


@dataclass
class Extractor:
    """Extracts drafts from statements parsed from one text (``lines`` are that text's lines)."""

    imports: ImportTable
    lines: LineTable
    module: str

    # -- helpers ---------------------------------------------------------------------------------------------
    def flyte_name(self, function: str) -> str:
        return f"{self.module}.{function}" if self.module else function

    def span(self, node: ast.AST) -> Span:
        return self.lines.span(node)

    def text(self, node: ast.AST | None) -> str:
        return self.lines.text(node) or ""

    def settings(self, call: ast.Call) -> dict[str, str]:
        return {kw.arg: self.text(kw.value) for kw in call.keywords if kw.arg is not None}

    def qualified(self, node: ast.expr) -> str | None:
        return self.imports.qualified_name(node)

    @staticmethod
    def argument(call: ast.Call, keyword: str, position: int | None) -> ast.expr | None:
        for kw in call.keywords:
            if kw.arg == keyword:
                return kw.value
        if position is not None and position < len(call.args):
            arg = call.args[position]
            return None if isinstance(arg, ast.Starred) else arg
        return None

    # -- statements ------------------------------------------------------------------------------------------
    def run(self, stmts: Iterable[ast.stmt], facts: Facts) -> Facts:
        for stmt in stmts:
            try:
                self.statement(stmt, facts)
            except (RecursionError, MemoryError):
                continue
        return facts

    def statement(self, stmt: ast.stmt, facts: Facts) -> None:
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
            self.function(stmt, facts)
        elif isinstance(stmt, ast.ClassDef):
            fields = namedtuple_class_fields(stmt, self.imports, self.lines)
            if fields is not None:
                facts.namedtuples[stmt.name] = fields
        elif isinstance(stmt, (ast.Assign, ast.AnnAssign)):
            self.assignment(stmt, facts)
        elif isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):
            self.expression(stmt, stmt.value, facts)
        elif isinstance(stmt, ast.If):
            if not _is_main_guard(stmt.test):
                self.run([*stmt.body, *stmt.orelse], facts)
        elif isinstance(stmt, (ast.With, ast.AsyncWith)):
            self.run(stmt.body, facts)
        elif isinstance(stmt, ast.Try) or type(stmt).__name__ == "TryStar":
            try_stmt: ast.Try = stmt  # type: ignore[assignment]
            self.run([*try_stmt.body, *try_stmt.orelse, *try_stmt.finalbody], facts)

    def decorator(self, fn: ast.FunctionDef | ast.AsyncFunctionDef) -> tuple[EntityKind, ast.expr] | None:
        """The outermost Flyte decorator of ``fn`` and its kind."""
        for dec in fn.decorator_list:
            target = dec.func if isinstance(dec, ast.Call) else dec
            qualified = self.qualified(target)
            if qualified is None:
                continue
            kind = self.imports.dialect.decorator_kind(qualified)
            if kind is not None:
                return kind, dec
        return None

    def function(self, fn: ast.FunctionDef | ast.AsyncFunctionDef, facts: Facts) -> None:
        found = self.decorator(fn)
        outputs, returns = return_outputs(fn.returns, self.imports, self.lines)
        inputs = function_inputs(fn, self.lines)
        docstring = ast.get_docstring(fn)
        if found is None:
            facts.functions[fn.name] = (inputs, outputs, returns, docstring)
            return
        kind, dec = found
        if kind is EntityKind.TASK and isinstance(dec, ast.Call):
            kind = _execution_mode(dec) or kind
        start_line, start_col = self._definition_start(fn)
        _, _, end_line, end_col = self.span(fn)
        name_line = fn.lineno - 1
        name_col = self._name_column(fn)
        draft = Draft(
            name=fn.name,
            flyte_name=self.flyte_name(fn.name),
            kind=kind,
            span=(start_line, start_col, end_line, end_col),
            selection=(name_line, name_col, name_line, name_col + len(fn.name)),
            inputs=inputs,
            outputs=outputs,
            settings=self.settings(dec) if isinstance(dec, ast.Call) else {},
            docstring=docstring,
            node=fn,
            returns=returns,
        )
        if kind in (
            EntityKind.REFERENCE_TASK,
            EntityKind.REFERENCE_WORKFLOW,
            EntityKind.REFERENCE_LAUNCH_PLAN,
        ):
            if isinstance(dec, ast.Call):
                self._reference_details(dec, draft, 0)
        elif kind in _BODY_CALL_KINDS:
            draft.calls = body_calls(fn.body, self)
        facts.drafts.append(draft)

    def _definition_start(self, fn: ast.FunctionDef | ast.AsyncFunctionDef) -> tuple[int, int]:
        """Where the definition starts: the ``@`` of its first decorator (or the ``def``)."""
        if not fn.decorator_list:
            return self.lines.start(fn)
        line, col = self.lines.start(fn.decorator_list[0])
        text = self.lines.lines[line] if line < len(self.lines.lines) else ""
        at = text.rfind("@", 0, col + 1)
        return line, at if at >= 0 else col

    def _name_column(self, fn: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) -> int:
        """Column of the name in ``def name(`` (the def line may carry ``async`` and odd spacing)."""
        line = self.lines.lines[fn.lineno - 1] if fn.lineno - 1 < len(self.lines.lines) else ""
        start = self.lines.column(fn.lineno, fn.col_offset)
        keyword = "class" if isinstance(fn, ast.ClassDef) else "def"
        at = line.find(keyword, start)
        if at < 0:
            return start
        at = line.find(fn.name, at + len(keyword))
        return at if at >= 0 else start

    def _reference_details(self, call: ast.Call, draft: Draft, offset: int) -> None:
        """project/domain/name/version of a reference decorator or constructor (positions from ``offset``)."""
        for index, key in enumerate(_REFERENCE_FIELDS):
            node = self.argument(call, key, offset + index)
            value = string_value(node)
            draft.details[key] = (
                value if value is not None else (self.text(node) if node is not None else None)
            )
        name = string_value(self.argument(call, "name", offset + 2))
        if name is not None:
            draft.flyte_name = name

    # -- assignments and expressions -------------------------------------------------------------------------
    def assignment(self, stmt: ast.Assign | ast.AnnAssign, facts: Facts) -> None:
        value = stmt.value
        if not isinstance(value, ast.Call):
            return
        targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
        target = next((t for t in targets if isinstance(t, ast.Name)), None)
        builder = self.builder_call(value)
        if builder is not None:
            facts.builders.append((builder, stmt.lineno - 1))
            return
        if target is None:
            return
        fields = namedtuple_fields(value, self.imports, self.lines)
        if fields is not None:
            facts.namedtuples[target.id] = fields
            return
        draft = self.call_entity(value, target.id, stmt)
        if draft is not None:
            draft.selection = self.span(target)
            facts.drafts.append(draft)

    def expression(self, stmt: ast.Expr, call: ast.Call, facts: Facts) -> None:
        builder = self.builder_call(call)
        if builder is not None:
            facts.builders.append((builder, stmt.lineno - 1))
            return
        qualified = self.qualified(call.func)
        if qualified in fk.LAUNCH_PLAN_FACTORIES:
            draft = self.call_entity(call, None, stmt)
            if draft is not None:
                facts.drafts.append(draft)

    def builder_call(self, call: ast.Call) -> BuilderCall | None:
        func = call.func
        if not (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name)):
            return None
        if func.attr in _ADD_NODE:
            entity = self.argument(call, "entity", 0)
            if entity is None:
                return None
            site = call_ref(call, entity, self, skip=1)
            return BuilderCall(func.value.id, func.attr, call=site)
        if func.attr in _ADD_IO:
            io_name = string_value(
                self.argument(call, "input_name" if "input" in func.attr else "output_name", 0)
            )
            position = 1 if "input" in func.attr else 2
            io_type = self.argument(call, "python_type", position)
            return BuilderCall(
                func.value.id, func.attr, io_name=io_name, io_type=self.text(io_type) if io_type else None
            )
        return None

    def call_entity(self, call: ast.Call, python_name: str | None, stmt: ast.stmt) -> Draft | None:
        """An entity made by a module-level call: ``ContainerTask(...)``, ``LaunchPlan.create(...)``..."""
        dialect = self.imports.dialect
        qualified = self.qualified(call.func)
        kind = dialect.call_kind(qualified) if qualified else None
        if kind is None:
            return self.wrapper_entity(call, python_name, stmt)
        draft = Draft(
            name=python_name or "",
            flyte_name=self.flyte_name(python_name or ""),
            kind=kind,
            span=self.span(stmt),
            selection=self.span(call.func),
            settings=self.settings(call),
            node=stmt,
        )
        if kind is EntityKind.LAUNCH_PLAN:
            self._launch_plan(call, qualified or "", draft)
        elif kind is EntityKind.MAP_TASK:
            spec = map_spec(call, qualified or "", self)
            if spec is None:
                return None
            draft.mapped = spec
            draft.details["task"] = spec.target.text
            draft.details["bound_inputs"] = list(spec.bound_inputs)
        elif kind in (
            EntityKind.REFERENCE_TASK,
            EntityKind.REFERENCE_WORKFLOW,
            EntityKind.REFERENCE_LAUNCH_PLAN,
        ):
            self._reference_call(call, draft, 0)
        else:
            self._instance_task(call, qualified or "", draft)
        if python_name is None:
            draft.name = draft.flyte_name
        return draft

    def wrapper_entity(self, call: ast.Call, python_name: str | None, stmt: ast.stmt) -> Draft | None:
        """``t = task(fn)`` / ``t = task(retries=2)(fn)`` / ``ref = get_reference_entity(...)``."""
        if python_name is None:
            return None
        qualified = self.qualified(call.func)
        if qualified == fk.GET_REFERENCE_ENTITY:
            resource = call.args[0] if call.args else None
            attr = resource.attr if isinstance(resource, ast.Attribute) else None
            kind = _RESOURCE_TYPES.get(attr or "")
            if kind is None:
                return None
            draft = Draft(python_name, python_name, kind, self.span(stmt), self.span(call.func), node=stmt)
            self._reference_call(call, draft, 1)
            return draft
        decorator: ast.Call | None = None
        if qualified is None and isinstance(call.func, ast.Call):
            decorator = call.func
            qualified = self.qualified(call.func.func)
        kind = self.imports.dialect.decorator_kind(qualified) if qualified else None
        if kind not in _FUNCTION_KINDS or not call.args or not isinstance(call.args[0], ast.Name):
            return None
        function = call.args[0].id
        return Draft(
            name=python_name,
            flyte_name=self.flyte_name(function),
            kind=kind,
            span=self.span(stmt),
            selection=self.span(call.func),
            settings=self.settings(decorator if decorator is not None else call),
            node=stmt,
            wrapped=function,
            details={"function": function},
        )

    def _launch_plan(self, call: ast.Call, qualified: str, draft: Draft) -> None:
        create = qualified.endswith(".create")
        workflow = self.argument(call, "workflow", 1 if create else 0)
        name_node = self.argument(call, "name", 0 if create else 1)
        name = string_value(name_node)
        if workflow is not None:
            draft.workflow = ref_for(workflow, self)
            draft.details["workflow"] = self.text(workflow)
        for key, position in (("default_inputs", 2), ("fixed_inputs", 3)):
            draft.details[key] = literal_keys(self.argument(call, key, position), self.lines)
        if name is not None:
            draft.flyte_name = name
        elif name_node is None:
            draft.named_after_workflow = True
        else:
            draft.details["name_expr"] = self.text(name_node)
        if draft.name == "" and name_node is not None:
            draft.selection = self.span(name_node)

    def _reference_call(self, call: ast.Call, draft: Draft, offset: int) -> None:
        self._reference_details(call, draft, offset)
        draft.inputs = [
            Input(n, t, None, True)
            for n, t in typed_mapping(self.argument(call, "inputs", offset + 4), self.imports, self.lines)
        ]
        draft.outputs = [
            Output(n, t)
            for n, t in typed_mapping(self.argument(call, "outputs", offset + 5), self.imports, self.lines)
        ]

    def _instance_task(self, call: ast.Call, qualified: str, draft: Draft) -> None:
        """Task classes instantiated with a ``name`` (ContainerTask, ShellTask, SQLite3Task, Workflow...)."""
        name_node = self.argument(call, "name", 0)
        name = string_value(name_node)
        if name is not None:
            draft.flyte_name = name
        elif name_node is not None:
            draft.details["name_expr"] = self.text(name_node)
        draft.details["class"] = qualified
        draft.inputs = [
            Input(n, t, None, True)
            for n, t in typed_mapping(self.argument(call, "inputs", None), self.imports, self.lines)
        ]
        draft.outputs = [
            Output(n, t)
            for n, t in typed_mapping(self.argument(call, "outputs", None), self.imports, self.lines)
        ]
        if draft.kind is EntityKind.SHELL_TASK:
            draft.outputs = self._shell_outputs(self.argument(call, "output_locs", None))
        elif qualified == fk.SQLITE3_TASK or qualified.endswith("SQLAlchemyTask"):
            schema = self.argument(call, "output_schema_type", None)
            draft.outputs = [Output("results", self.text(schema) if schema is not None else "FlyteSchema")]

    def _shell_outputs(self, node: ast.expr | None) -> list[Output]:
        if not isinstance(node, (ast.List, ast.Tuple)):
            return []
        out: list[Output] = []
        for elt in node.elts:
            if isinstance(elt, ast.Call):
                var = string_value(self.argument(elt, "var", 0))
                var_type = self.argument(elt, "var_type", 1)
                if var is not None:
                    out.append(Output(var, self.text(var_type) if var_type is not None else None))
        return out


def _execution_mode(decorator: ast.Call) -> EntityKind | None:
    """``@task(execution_mode=PythonFunctionTask.ExecutionBehavior.DYNAMIC)`` is how ``@dynamic`` is made."""
    for kw in decorator.keywords:
        if kw.arg == "execution_mode" and isinstance(kw.value, ast.Attribute):
            return {"DYNAMIC": EntityKind.DYNAMIC, "EAGER": EntityKind.EAGER}.get(kw.value.attr)
    return None


def _is_main_guard(test: ast.expr) -> bool:
    return (
        isinstance(test, ast.Compare)
        and isinstance(test.left, ast.Name)
        and test.left.id == "__name__"
        and any(isinstance(c, ast.Constant) and c.value == "__main__" for c in test.comparators)
    )


def extract(
    stmts: Iterable[ast.stmt], imports: ImportTable, lines: LineTable, module: str, *, keep_nodes: bool = True
) -> Facts:
    """Drafts and other facts from top-level statements parsed from the text whose lines are ``lines``.

    ``keep_nodes=False`` drops the drafts' references to syntax tree nodes (the incremental cache keeps drafts
    and must not keep whole trees alive).
    """
    facts = Extractor(imports, lines, module).run(stmts, Facts())
    if not keep_nodes:
        for draft in facts.drafts:
            draft.node = None
    return facts
