"""Entity extraction: every kind, every import style, names, ranges, interfaces, settings and call graphs."""

from __future__ import annotations

import pytest
from analysis_helpers import all_kinds_source, by_name, run

from flyte_ls.analysis import EntityKind, Input, Output, Range, analyze

K = EntityKind


@pytest.mark.parametrize(
    ("imports", "decorator"),
    [
        ("from flytekit import task", "@task"),
        ("from flytekit import task", "@task()"),
        ("from flytekit import task", "@task(retries=3)"),
        ("from flytekit import task as flyte_task", "@flyte_task"),
        ("import flytekit", "@flytekit.task"),
        ("import flytekit as fk", "@fk.task(cache=True)"),
        ("from flytekit.core.task import task", "@task"),
        ("import flytekit.core.task", "@flytekit.core.task.task"),
        ("from flytekit import *", "@task"),
    ],
)
def test_task_through_every_import_style(imports: str, decorator: str) -> None:
    entities = run(f"{imports}\n\n{decorator}\ndef t1(a: int) -> int:\n    return a\n").entities
    assert [(e.name, e.flyte_name, e.kind) for e in entities] == [("t1", "pkg.mod.t1", K.TASK)]


@pytest.mark.parametrize(
    ("source", "kind"),
    [
        ("from flytekit import dynamic\n@dynamic\ndef e(a: int) -> int: ...", K.DYNAMIC),
        (
            "from flytekit.core.dynamic_workflow_task import dynamic\n@dynamic(cache=True)\ndef e(): ...",
            K.DYNAMIC,
        ),
        ("from flytekit import eager\n@eager\nasync def e(a: int) -> int: ...", K.EAGER),
        ("from flytekit.core.task import eager\n@eager()\nasync def e(): ...", K.EAGER),
        ("from flytekit import workflow\n@workflow\ndef e(): ...", K.WORKFLOW),
        ("import flytekit as fk\n@fk.workflow()\ndef e(): ...", K.WORKFLOW),
        ("from flytekit.core.workflow import workflow\n@workflow\ndef e(): ...", K.WORKFLOW),
        (
            "from flytekit import task, PythonFunctionTask\n"
            "@task(execution_mode=PythonFunctionTask.ExecutionBehavior.DYNAMIC)\ndef e(): ...",
            K.DYNAMIC,
        ),
    ],
)
def test_function_kinds(source: str, kind: EntityKind) -> None:
    entities = run(source).entities
    assert [(e.name, e.kind, e.flyte_name) for e in entities] == [("e", kind, "pkg.mod.e")]


def test_not_fooled_by_a_user_function_called_task() -> None:
    source = """
    def task(fn):
        return fn

    @task
    def t1(a: int) -> int:
        return a
    """
    assert run(source).entities == []
    assert run("from mylib import task\n@task\ndef t1(): ...\n").entities == []
    assert run("@task\ndef t1(): ...\n").entities == []


def test_user_function_defined_after_the_import_shadows_it() -> None:
    source = "from flytekit import task\n\ndef task(fn):\n    return fn\n\n@task\ndef t1(): ...\n"
    assert run(source).entities == []


def test_decorator_aliases_and_partials() -> None:
    source = """
    from functools import partial
    from flytekit import Resources, task, workflow

    gpu_task = partial(task, requests=Resources(gpu="1"))
    wf = workflow

    @gpu_task
    def train(a: int) -> int:
        return a

    @gpu_task(retries=2)
    def train2(a: int) -> int:
        return a

    @wf
    def pipeline(a: int) -> int:
        return train(a=a)
    """
    entities = by_name(source)
    assert {n: e.kind for n, e in entities.items()} == {
        "train": K.TASK,
        "train2": K.TASK,
        "pipeline": K.WORKFLOW,
    }
    assert entities["train2"].settings == {"retries": "2"}
    assert [c.target for c in entities["pipeline"].calls] == ["pkg.mod.train"]


def test_stacked_decorators_above_and_below() -> None:
    source = """
    import functools
    from flytekit import task

    def traced(fn):
        return fn

    @traced
    @task(retries=2)
    def above(a: int) -> int:
        return a

    @task
    @functools.lru_cache
    @traced
    def below(a: int) -> int:
        return a
    """
    entities = by_name(source)
    assert entities["above"].kind is K.TASK and entities["above"].settings == {"retries": "2"}
    assert entities["above"].range.start.line == 7  # the first decorator line, not the @task line
    assert entities["below"].kind is K.TASK and entities["below"].range.start.line == 12


def test_ranges_and_selection_ranges() -> None:
    source = (
        "from flytekit import task\n\n\n@task(\n    retries=1,\n)\ndef t1(a: int) -> int:\n    return a + 1\n"
    )
    (entity,) = run(source).entities
    assert entity.range == Range.of(3, 0, 7, 16)
    assert entity.selection_range == Range.of(6, 4, 6, 6)


def test_selection_range_of_async_def() -> None:
    (entity,) = run("from flytekit import eager\n@eager\nasync   def  e(): ...\n").entities
    assert entity.selection_range == Range.of(2, 13, 2, 14)


def test_inputs_with_annotations_defaults_and_kinds_of_parameters() -> None:
    source = """
    from typing import Optional
    from flytekit import task

    @task
    def t1(
        a: int, b: Optional[str] = None, /, c: "list[int]" = [1, 2], *args, d: float = 0.5, e, **kw
    ) -> None:
        ...
    """
    (entity,) = run(source).entities
    assert entity.inputs == [
        Input("a", "int", None, True),
        Input("b", "Optional[str]", "None", False),
        Input("c", '"list[int]"', "[1, 2]", False),
        Input("d", "float", "0.5", False),
        Input("e", None, None, True),
    ]
    assert entity.outputs == []


@pytest.mark.parametrize(
    ("annotation", "outputs"),
    [
        ("int", [Output("o0", "int")]),
        ("None", []),
        ("typing.Tuple[int, str]", [Output("o0", "int"), Output("o1", "str")]),
        ("Tuple[int, str]", [Output("o0", "int"), Output("o1", "str")]),
        ("tuple[int, str]", [Output("o0", "int"), Output("o1", "str")]),
        ("Tuple[int, ...]", [Output("o0", "Tuple[int, ...]")]),
        ("(int, str)", [Output("o0", "int"), Output("o1", "str")]),
        ("'int'", [Output("o0", "int")]),
        ("NamedTuple('X', [('a', int), ('b', str)])", [Output("a", "int"), Output("b", "str")]),
        ("typing.NamedTuple('X', a=int)", [Output("a", "int")]),
        ("ClassNT", [Output("left", "int"), Output("right", "str")]),
        ("FuncNT", [Output("x", "float")]),
        ("KwNT", [Output("y", "List[int]")]),
        ("'ClassNT'", [Output("left", "int"), Output("right", "str")]),
        ("List[int]", [Output("o0", "List[int]")]),
    ],
)
def test_outputs(annotation: str, outputs: list[Output]) -> None:
    source = f"""
    import typing
    from typing import List, NamedTuple, Tuple
    from flytekit import task

    @task
    def t1() -> {annotation}:
        ...

    class ClassNT(NamedTuple):
        left: int
        right: str

    FuncNT = NamedTuple("FuncNT", [("x", float)])
    KwNT = typing.NamedTuple("KwNT", y=List[int])
    """
    assert by_name(source)["t1"].outputs == outputs


def test_a_missing_return_annotation_has_no_outputs() -> None:
    assert by_name("from flytekit import task\n@task\ndef t(a: int):\n    return a\n")["t"].outputs == []


def test_settings_and_docstring() -> None:
    source = '''
    from datetime import timedelta
    from flytekit import Resources, task

    @task(
        cache=True,
        cache_version="1.2",
        retries=3,
        timeout=timedelta(minutes=5),
        requests=Resources(cpu="1", mem="1Gi"),
        limits=Resources(mem="2Gi"),
        container_image="ghcr.io/me/img:1",
        interruptible=True,
        **extra,
    )
    def t1(a: int) -> int:
        """Add one.

        More text."""
        return a + 1
    '''
    entity = by_name(source)["t1"]
    assert entity.settings == {
        "cache": "True",
        "cache_version": '"1.2"',
        "retries": "3",
        "timeout": "timedelta(minutes=5)",
        "requests": 'Resources(cpu="1", mem="1Gi")',
        "limits": 'Resources(mem="2Gi")',
        "container_image": '"ghcr.io/me/img:1"',
        "interruptible": "True",
    }
    assert entity.docstring == "Add one.\n\nMore text."


def test_workflow_call_graph() -> None:
    source = """
    from flytekit import conditional, task, workflow
    from flytekit.core.node_creation import create_node
    import math
    from pkg import other
    from pkg.tasks import imported_task

    @task
    def t1(a: int) -> int:
        return a

    @task
    def t2(a: int) -> int:
        return a

    def helper(x):
        return x

    @workflow
    def wf(a: int) -> int:
        x = t1(a=a)
        y = t2(a=t1(a=x)).with_overrides(retries=2)
        z = imported_task(x, y, b=3)
        other.remote_task(q=1)
        helper(x)
        math.sqrt(4)
        print(x)
        t1(a=1) >> t2(a=2)
        with something():
            t2(a=y)
        n = create_node(t1, a=5)
        return (
            conditional("c")
            .if_(x > 1)
            .then(t1(a=x))
            .else_()
            .then(t2(a=y))
        )
    """
    wf = by_name(source)["wf"]
    calls = [(c.callee, c.target, c.keywords, c.positional, c.range.start.line) for c in wf.calls]
    assert calls == [
        ("t1", "pkg.mod.t1", {"a": "a"}, 0, 20),
        ("t2", "pkg.mod.t2", {"a": "t1(a=x)"}, 0, 21),
        ("t1", "pkg.mod.t1", {"a": "x"}, 0, 21),
        ("imported_task", "pkg.tasks.imported_task", {"b": "3"}, 2, 22),
        ("other.remote_task", "pkg.other.remote_task", {"q": "1"}, 0, 23),
        ("t1", "pkg.mod.t1", {"a": "1"}, 0, 27),
        ("t2", "pkg.mod.t2", {"a": "2"}, 0, 27),
        ("t2", "pkg.mod.t2", {"a": "y"}, 0, 29),
        ("t1", "pkg.mod.t1", {"a": "5"}, 0, 30),
        ("t1", "pkg.mod.t1", {"a": "x"}, 0, 34),
        ("t2", "pkg.mod.t2", {"a": "y"}, 0, 36),
    ]
    first = wf.calls[0]
    assert first.range == Range.of(20, 8, 20, 15)


def test_call_graph_of_dynamic_and_eager_bodies() -> None:
    source = """
    from flytekit import dynamic, eager, task

    @task
    def t1(a: int) -> int:
        return a

    @dynamic
    def d(n: int) -> int:
        for i in range(n):
            t1(a=i)
        return 1

    @eager
    async def e(n: int) -> int:
        return await t1(a=n)
    """
    entities = by_name(source)
    assert [c.target for c in entities["d"].calls] == ["pkg.mod.t1"]
    assert [c.target for c in entities["e"].calls] == ["pkg.mod.t1"]
    assert entities["t1"].calls == []


def test_launch_plans() -> None:
    source = """
    from flytekit import LaunchPlan, workflow
    from pkg.flows import remote_wf

    @workflow
    def wf(a: int, b: str = "x", c: float = 1.0) -> int:
        ...

    default = LaunchPlan.get_or_create(wf)
    named = LaunchPlan.get_or_create(
        workflow=wf, name="named_lp", default_inputs={"a": 3}, fixed_inputs={"b": "fixed"}, max_parallelism=2
    )
    created = LaunchPlan.create("created_lp", wf, fixed_inputs=dict(c=2.0))
    LaunchPlan.get_or_create(wf, "unassigned_lp")
    remote = LaunchPlan.get_or_create(remote_wf)
    """
    entities = by_name(source)
    default = entities["default"]
    assert (default.kind, default.flyte_name) == (K.LAUNCH_PLAN, "pkg.mod.wf")
    assert default.details["workflow"] == "wf" and default.details["workflow_flyte_name"] == "pkg.mod.wf"
    assert [i.name for i in default.inputs] == ["a", "b", "c"] and default.outputs == [Output("o0", "int")]
    named = entities["named"]
    assert named.flyte_name == "named_lp"
    assert named.details["default_inputs"] == {"a": "3"} and named.details["fixed_inputs"] == {"b": '"fixed"'}
    assert named.inputs == [Input("a", "int", "3", False), Input("c", "float", "1.0", False)]
    assert named.settings["max_parallelism"] == "2"
    created = entities["created"]
    assert created.flyte_name == "created_lp" and created.details["fixed_inputs"] == {"c": "2.0"}
    unassigned = entities["unassigned_lp"]
    assert unassigned.flyte_name == "unassigned_lp"
    assert unassigned.selection_range == Range.of(13, 29, 13, 44)
    remote = entities["remote"]
    assert remote.flyte_name == "pkg.flows.remote_wf" and remote.inputs == []


def test_default_launch_plan_without_assignment_is_named_after_its_workflow() -> None:
    source = (
        "from flytekit import LaunchPlan, workflow\n@workflow\ndef wf(): ...\nLaunchPlan.get_or_create(wf)\n"
    )
    lp = run(source).entities[1]
    assert (lp.name, lp.flyte_name, lp.kind) == ("pkg.mod.wf", "pkg.mod.wf", K.LAUNCH_PLAN)


def test_map_tasks() -> None:
    source = """
    from functools import partial
    from flytekit import map_task, task
    from pkg.tasks import elsewhere

    @task
    def t1(x: int, y: str = "a") -> str:
        return y * x

    m1 = map_task(t1)
    m2 = map_task(partial(t1, y="b"), concurrency=4, min_success_ratio=0.5)
    m3 = map_task(elsewhere)
    m4 = map_task(t1, concurrency=limit)
    """
    entities = by_name(source)
    m1 = entities["m1"]
    assert m1.kind is K.MAP_TASK
    assert m1.flyte_name == "pkg.mod.map_t1_6b3bd0353da5de6e84d7982921ead2b3-arraynode"
    assert m1.details["task"] == "t1" and m1.details["flyte_name_exact"] is True
    assert m1.details["task_flyte_name"] == "pkg.mod.t1"
    assert m1.inputs == [Input("x", "List[int]", None, True), Input("y", "List[str]", None, True)]
    assert m1.outputs == [Output("o0", "List[str]")]
    m2 = entities["m2"]
    assert m2.details["bound_inputs"] == ["y"]
    assert m2.inputs == [Input("x", "List[int]", None, True), Input("y", "str", '"a"', False)]
    assert m2.outputs == [Output("o0", "List[Optional[str]]")]
    assert entities["m3"].flyte_name.startswith("pkg.tasks.map_elsewhere_")
    assert entities["m3"].details["task_flyte_name"] == "pkg.tasks.elsewhere"
    assert entities["m4"].details["flyte_name_exact"] is False


def test_reference_entities() -> None:
    source = """
    from flytekit import kwtypes, reference_launch_plan, reference_task, reference_workflow
    from flytekit.core.task import ReferenceTask
    from flytekit.core.workflow import ReferenceWorkflow
    from flytekit.core.launch_plan import ReferenceLaunchPlan

    @reference_task(project="p", domain="d", name="remote.t", version="v1")
    def rt(a: int) -> str:
        ...

    @reference_workflow("p", "d", "remote.wf", "v2")
    def rw(a: int) -> str:
        return ""

    @reference_launch_plan(project="p", domain="d", name="remote.lp", version=VERSION)
    def rl(a: int) -> str:
        ...

    rt2 = ReferenceTask("p", "d", "remote.t2", "v3", inputs=kwtypes(a=int), outputs={"o0": str})
    rw2 = ReferenceWorkflow(project="p", domain="d", name="remote.wf2", version="v4", inputs={}, outputs={})
    rl2 = ReferenceLaunchPlan("p", "d", "remote.lp2", "v5", {"b": float}, {})
    """
    entities = by_name(source)
    assert {n: (e.kind, e.flyte_name) for n, e in entities.items()} == {
        "rt": (K.REFERENCE_TASK, "remote.t"),
        "rw": (K.REFERENCE_WORKFLOW, "remote.wf"),
        "rl": (K.REFERENCE_LAUNCH_PLAN, "remote.lp"),
        "rt2": (K.REFERENCE_TASK, "remote.t2"),
        "rw2": (K.REFERENCE_WORKFLOW, "remote.wf2"),
        "rl2": (K.REFERENCE_LAUNCH_PLAN, "remote.lp2"),
    }
    assert entities["rt"].details == {"project": "p", "domain": "d", "name": "remote.t", "version": "v1"}
    assert entities["rw"].details["version"] == "v2"
    assert entities["rl"].details["version"] == "VERSION"
    assert entities["rt2"].inputs == [Input("a", "int", None, True)] and entities["rt2"].outputs == [
        Output("o0", "str")
    ]
    assert entities["rl2"].inputs == [Input("b", "float", None, True)]


def test_get_reference_entity() -> None:
    source = """
    from flytekit import get_reference_entity
    from flytekit.models.core import identifier as _identifier_model

    ref = get_reference_entity(
        _identifier_model.ResourceType.WORKFLOW, "p", "d", "my.other.workflow", "abc", inputs={}, outputs={}
    )
    """
    ref = by_name(source)["ref"]
    assert (ref.kind, ref.flyte_name, ref.details["version"]) == (
        K.REFERENCE_WORKFLOW,
        "my.other.workflow",
        "abc",
    )


def test_container_shell_and_other_tasks() -> None:
    source = """
    from flytekit import ContainerTask, kwtypes
    from flytekit.extras.sqlite3.task import SQLite3Config, SQLite3Task
    from flytekit.extras.tasks.shell import OutputLocation, ShellTask
    from flytekit.types.file import FlyteFile
    from flytekitplugins.athena import AthenaTask
    from flytekit.types.schema import FlyteSchema

    ct = ContainerTask(
        name="ct",
        image="alpine",
        command=["echo"],
        inputs=kwtypes(a=int, b=str),
        outputs=kwtypes(c=float),
    )
    st = ShellTask(
        name="st",
        script="echo",
        inputs=kwtypes(x=FlyteFile),
        output_locs=[OutputLocation(var="out", var_type=FlyteFile, location="{inputs.x}.out")],
    )
    sql = SQLite3Task(
        name="sql",
        query_template="select * from t where a = {{ .inputs.a }}",
        inputs=kwtypes(a=int),
        output_schema_type=FlyteSchema,
        task_config=SQLite3Config(uri="https://example.com/db.zip"),
    )
    athena = AthenaTask(name="athena", inputs=kwtypes(ds=str), query_template="select 1")
    not_a_task = SQLite3Config(uri="x")
    """
    entities = by_name(source)
    assert set(entities) == {"ct", "st", "sql", "athena"}
    ct = entities["ct"]
    assert (ct.kind, ct.flyte_name) == (K.CONTAINER_TASK, "ct")
    assert ct.inputs == [Input("a", "int", None, True), Input("b", "str", None, True)]
    assert ct.outputs == [Output("c", "float")]
    assert ct.settings["image"] == '"alpine"'
    assert ct.range == Range.of(8, 0, 14, 1) and ct.selection_range == Range.of(8, 0, 8, 2)
    st = entities["st"]
    assert (st.kind, st.flyte_name) == (K.SHELL_TASK, "st")
    assert st.inputs == [Input("x", "FlyteFile", None, True)] and st.outputs == [Output("out", "FlyteFile")]
    sql = entities["sql"]
    assert (sql.kind, sql.flyte_name) == (K.OTHER_TASK, "sql")
    assert sql.inputs == [Input("a", "int", None, True)] and sql.outputs == [Output("results", "FlyteSchema")]
    assert sql.details["class"] == "flytekit.extras.sqlite3.task.SQLite3Task"
    assert entities["athena"].kind is K.OTHER_TASK


def test_imperative_workflow() -> None:
    source = """
    from flytekit import Workflow, task

    @task
    def t1(a: str) -> str:
        return a

    wb = Workflow(name="my.imperative.workflow")
    wb.add_workflow_input("in1", str)
    node = wb.add_entity(t1, a=wb.inputs["in1"])
    wb.add_workflow_output("from_n0t1", node.outputs["o0"], python_type=str)
    """
    wb = by_name(source)["wb"]
    assert (wb.kind, wb.flyte_name) == (K.IMPERATIVE_WORKFLOW, "my.imperative.workflow")
    assert wb.inputs == [Input("in1", "str", None, True)]
    assert wb.outputs == [Output("from_n0t1", "str")]
    assert [(c.callee, c.target, c.keywords, c.range.start.line) for c in wb.calls] == [
        ("t1", "pkg.mod.t1", {"a": 'wb.inputs["in1"]'}, 9)
    ]


def test_task_made_by_calling_the_decorator() -> None:
    source = """
    from flytekit import task, workflow

    def plain(a: int) -> int:
        '''Doc.'''
        return a

    t = task(plain)
    t2 = task(retries=2)(plain)

    @workflow
    def wf(a: int) -> int:
        return t(a=a)
    """
    entities = by_name(source)
    assert (entities["t"].kind, entities["t"].flyte_name) == (K.TASK, "pkg.mod.plain")
    assert entities["t"].inputs == [Input("a", "int", None, True)] and entities["t"].docstring == "Doc."
    assert entities["t2"].settings == {"retries": "2"}
    assert [c.target for c in entities["wf"].calls] == ["pkg.mod.plain"]


def test_entities_in_module_level_blocks_but_not_in_main_guard_or_functions() -> None:
    source = """
    from flytekit import task

    if True:
        @task
        def in_if() -> None: ...

    try:
        @task
        def in_try() -> None: ...
    except Exception:
        pass

    def factory():
        @task
        def nested() -> None: ...
        return nested

    class Holder:
        @task
        def method(self) -> None: ...

    if __name__ == "__main__":
        @task
        def in_main() -> None: ...
    """
    assert list(by_name(source)) == ["in_if", "in_try"]


def test_module_name_empty_gives_bare_names() -> None:
    (entity,) = run("from flytekit import task\n@task\ndef t(): ...\n", module="").entities
    assert entity.flyte_name == "t"


def test_every_kind_in_one_module() -> None:
    analysis = analyze(all_kinds_source(), "pkg.sub.mod", lint=False)
    kinds = {e.kind for e in analysis.entities}
    assert kinds == set(EntityKind) - {K.OTHER_TASK}
    assert analysis.syntax_error is None
