"""The workflow compiler on specs real flytekit serialized (`pyflyte package` of examples/ and the corpus)."""

from __future__ import annotations

import shutil
import subprocess
import tarfile
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import pytest
from flyteidl.admin import launch_plan_pb2, task_pb2, workflow_pb2
from flyteidl.core import (
    compiler_pb2,
    dynamic_job_pb2,
    identifier_pb2,
    interface_pb2,
    literals_pb2,
    tasks_pb2,
    types_pb2,
)
from google.protobuf.message import Message

from flyte_ls.local.compiler import CompileFailed, compile_dynamic_job, compile_workflow
from flyte_ls.local.compiler_model import IdKey, id_key
from flyte_ls.local.errors import InvalidArgument

REPO = Path(__file__).resolve().parents[2]
PYTHON = REPO / ".venv" / "bin" / "python"
IMAGE = "ghcr.io/flyteorg/flytekit:py3.11-1.16.31"  # only written into the package, never pulled
PROJECT, DOMAIN, VERSION = "flytesnacks", "development", "v1"

# Dumps the interfaces of the corpus' reference entities: their tasks and launch plans live "elsewhere".
DUMP_REFERENCES = textwrap.dedent(
    """
    import sys
    from flytekit.core.interface import transform_interface_to_typed_interface
    from flytekit.core.reference_entity import ReferenceEntity
    from flyteidl.core import tasks_pb2
    from corpus_pkg import references
    for value in vars(references).values():
        if isinstance(value, ReferenceEntity):
            ref = value.reference
            iface = transform_interface_to_typed_interface(value.python_interface).to_flyte_idl()
            template = tasks_pb2.TaskTemplate(interface=iface)
            template.id.CopyFrom(ref.id.to_flyte_idl())
            data = template.SerializeToString()
            sys.stdout.write(data.hex() + "\\n")
    """
)


@dataclass
class Registry:
    """What a registration of the packaged entities would have stored: tasks, workflow specs, launch plans."""

    tasks: dict[IdKey, tasks_pb2.TaskTemplate] = field(default_factory=dict)
    workflows: dict[str, workflow_pb2.WorkflowSpec] = field(default_factory=dict)
    launch_plans: dict[IdKey, interface_pb2.TypedInterface] = field(default_factory=dict)

    def get_task(self, ident: identifier_pb2.Identifier) -> tasks_pb2.TaskTemplate | None:
        return self.tasks.get(id_key(ident))

    def get_lp(self, ident: identifier_pb2.Identifier) -> interface_pb2.TypedInterface | None:
        return self.launch_plans.get(id_key(ident))

    def compile(
        self, name: str, spec: workflow_pb2.WorkflowSpec | None = None
    ) -> compiler_pb2.CompiledWorkflowClosure:
        spec = spec or self.workflows[name]
        return compile_workflow(spec.template, spec.sub_workflows, self.get_task, self.get_lp)

    def spec(self, name: str) -> workflow_pb2.WorkflowSpec:
        copy = workflow_pb2.WorkflowSpec()
        copy.CopyFrom(self.workflows[name])
        return copy


def _hydrate(message: Message) -> None:
    """Fill project/domain/version into every identifier, as `pyflyte register` does."""
    if isinstance(message, identifier_pb2.Identifier):
        message.project = message.project or PROJECT
        message.domain = message.domain or DOMAIN
        message.version = message.version or VERSION
        return
    for fd, value in message.ListFields():
        if fd.message_type is None:
            continue
        if fd.message_type.GetOptions().map_entry:
            if fd.message_type.fields_by_name["value"].message_type is not None:
                for item in value.values():
                    _hydrate(item)
        elif fd.is_repeated:
            for item in value:
                _hydrate(item)
        else:
            _hydrate(value)


def _package(source: Path, pkg: str, tmp: Path) -> Path:
    work = tmp / source.name
    shutil.copytree(source, work, ignore=shutil.ignore_patterns("__pycache__"))
    out = tmp / f"{pkg}.tgz"
    proc = subprocess.run(
        [str(PYTHON.with_name("pyflyte")), "--pkgs", pkg, "package", "--image", IMAGE, "-f", "-o", str(out)],
        cwd=work, capture_output=True, text=True, timeout=150, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    target = tmp / f"{pkg}-specs"
    with tarfile.open(out) as archive:
        archive.extractall(target, filter="data")
    return target


def _load(specs: Path, registry: Registry) -> None:
    workflows: list[workflow_pb2.WorkflowSpec] = []
    lps: list[launch_plan_pb2.LaunchPlan] = []
    for path in sorted(specs.glob("*.pb")):
        kind = path.stem.rsplit("_", 1)[1]
        message: Message = {
            "1": task_pb2.TaskSpec,
            "2": workflow_pb2.WorkflowSpec,
            "3": launch_plan_pb2.LaunchPlan,
        }[kind]()
        message.ParseFromString(path.read_bytes())
        _hydrate(message)
        if isinstance(message, task_pb2.TaskSpec):
            registry.tasks[id_key(message.template.id)] = message.template
        elif isinstance(message, workflow_pb2.WorkflowSpec):
            workflows.append(message)
            registry.workflows[message.template.id.name] = message
        else:
            assert isinstance(message, launch_plan_pb2.LaunchPlan)
            lps.append(message)
    interfaces = {id_key(w.template.id): w.template.interface for w in workflows}
    for lp in lps:
        # Admin's launch-plan interface: the workflow's inputs less the fixed ones, its outputs
        wf_iface = interfaces[id_key(lp.spec.workflow_id)]
        iface = interface_pb2.TypedInterface(outputs=wf_iface.outputs)
        for name, var in wf_iface.inputs.variables.items():
            if name not in lp.spec.fixed_inputs.literals:
                iface.inputs.variables[name].CopyFrom(var)
        registry.launch_plans[id_key(lp.id)] = iface


@pytest.fixture(scope="module")
def examples(tmp_path_factory: pytest.TempPathFactory) -> Registry:
    registry = Registry()
    _load(_package(REPO / "examples", "workflows", tmp_path_factory.mktemp("examples")), registry)
    return registry


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Registry:
    registry = Registry()
    _load(_package(REPO / "tests" / "corpus", "corpus_pkg", tmp_path_factory.mktemp("corpus")), registry)
    return registry


@pytest.fixture(scope="module")
def shapes(tmp_path_factory: pytest.TempPathFactory) -> Registry:
    """tests/local/data/compiler_pkg: failure node, failing and nested branches, attribute paths, enums..."""
    registry = Registry()
    source = Path(__file__).parent / "data" / "compiler_pkg"
    _load(_package(source, "compiler_pkg", tmp_path_factory.mktemp("shapes")), registry)
    return registry


@pytest.fixture(scope="module")
def corpus_references() -> Registry:
    """The corpus' reference tasks and launch plans, registered elsewhere with the interfaces they declare."""
    proc = subprocess.run(
        [str(PYTHON), "-c", DUMP_REFERENCES],
        cwd=REPO / "tests" / "corpus", capture_output=True, text=True, timeout=100, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    registry = Registry()
    for line in proc.stdout.split():
        template = tasks_pb2.TaskTemplate.FromString(bytes.fromhex(line))
        if template.id.resource_type == identifier_pb2.LAUNCH_PLAN:
            registry.launch_plans[id_key(template.id)] = template.interface
        else:
            registry.tasks[id_key(template.id)] = template
    return registry


TRAINING = "workflows.pipeline.training_pipeline"


def _connections(
    closure_wf: compiler_pb2.CompiledWorkflow,
) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    c = closure_wf.connections
    return (
        {k: list(v.ids) for k, v in c.upstream.items()},
        {k: list(v.ids) for k, v in c.downstream.items()},
    )


def _compile_error(registry: Registry, name: str, spec: workflow_pb2.WorkflowSpec) -> CompileFailed:
    with pytest.raises(CompileFailed) as info:
        registry.compile(name, spec)
    assert isinstance(info.value, InvalidArgument)
    assert info.value.code == grpc.StatusCode.INVALID_ARGUMENT
    label = f"WORKFLOW {PROJECT}/{DOMAIN}/{name}:{VERSION}"
    assert info.value.message.startswith(
        f"failed to compile workflow for [{label}] with err: Collected Errors: "
    )
    return info.value


def _codes(error: CompileFailed) -> list[tuple[str, str]]:
    return [(e.code, e.node_id) for e in error.errors]


# ---- the compiled shape


@pytest.mark.flytekit
@pytest.mark.timeout(120)
def test_training_pipeline_nodes_and_connections(examples: Registry) -> None:
    closure = examples.compile(TRAINING)
    template = closure.primary.template
    assert [n.id for n in template.nodes] == ["start-node", "end-node", "n0", "n1", "n2", "n3", "n4", "n5"]
    start, end = template.nodes[0], template.nodes[1]
    assert start.WhichOneof("target") is None and not start.inputs
    assert [(b.var, b.binding.promise.node_id, b.binding.promise.var) for b in end.inputs] == [
        ("o0", "n5", "o0")
    ]
    upstream, downstream = _connections(closure.primary)
    assert upstream == {
        "n0": ["start-node"],
        "n1": ["n0", "start-node"],  # `ratio` is a workflow input
        "n2": ["n1"],
        "n3": ["n2"],
        "n4": ["n3"],
        "n5": ["n4"],
        "n5-n0": ["n3", "start-node"],  # the branch child's own upstream edges, no downstream ones
        "end-node": ["n5"],
    }
    assert downstream == {
        "start-node": ["n0", "n1"],
        "n0": ["n1"],
        "n1": ["n2"],
        "n2": ["n3"],
        "n3": ["n4"],
        "n4": ["n5"],
        "n5": ["end-node"],
    }
    # promises to workflow inputs now name start-node, in the nodes and in the branch child
    n0 = template.nodes[2]
    assert {b.var: b.binding.promise.node_id for b in n0.inputs if b.binding.HasField("promise")} == {
        "n": "start-node"
    }
    then_node = template.nodes[7].branch_node.if_else.case.then_node
    assert {b.var: b.binding.promise.node_id for b in then_node.inputs} == {
        "count": "n3",
        "label": "start-node",
        "mean": "n3",
    }


@pytest.mark.flytekit
@pytest.mark.timeout(120)
def test_branch_children_are_renamed(examples: Registry, corpus: Registry) -> None:
    closure = examples.compile(TRAINING)
    branch = closure.primary.template.nodes[7]
    assert branch.id == "n5"
    assert branch.branch_node.if_else.case.then_node.id == "n5-n0"
    assert branch.branch_node.if_else.else_node.id == "n5-n1"
    upstream, _ = _connections(closure.primary)
    assert "n5-n1" not in upstream  # `warn` only reads a constant
    # nested conditionals: grandchildren carry the whole path
    nested = corpus.compile("corpus_pkg.conditionals.branches")
    ids: list[str] = []

    def walk(node: object) -> None:
        assert hasattr(node, "branch_node")
        if node.WhichOneof("target") != "branch_node":  # type: ignore[attr-defined]
            return
        if_else = node.branch_node.if_else  # type: ignore[attr-defined]
        for child in [if_else.case.then_node, *(o.then_node for o in if_else.other)] + (
            [if_else.else_node] if if_else.HasField("else_node") else []
        ):
            ids.append(child.id)
            assert child.id.startswith(node.id + "-")  # type: ignore[attr-defined]
            walk(child)

    for node in nested.primary.template.nodes:
        walk(node)
    assert ids, "the corpus' conditionals have branch children"


@pytest.mark.flytekit
@pytest.mark.timeout(120)
def test_subworkflows_compiled_and_tasks_embedded(examples: Registry) -> None:
    closure = examples.compile(TRAINING)
    assert [s.template.id.name for s in closure.sub_workflows] == ["workflows.pipeline.prepare"]
    sub = closure.sub_workflows[0]
    assert [n.id for n in sub.template.nodes] == ["start-node", "end-node", "n0", "n1"]
    upstream, downstream = _connections(sub)
    assert upstream == {"n0": ["start-node"], "n1": ["n0", "start-node"], "end-node": ["n1"]}
    assert downstream == {"start-node": ["n0", "n1"], "n0": ["n1"], "n1": ["end-node"]}
    # tasks of the subworkflow, the map task's sub-node and both branches, once each, in identifier order
    names = [t.template.id.name for t in closure.tasks]
    assert names == sorted(names)
    assert set(names) == {
        "workflows.tasks.load_data",
        "workflows.tasks.clean",
        "workflows.tasks.split",
        "workflows.tasks.map_square_6b3bd0353da5de6e84d7982921ead2b3-arraynode",
        "workflows.tasks.summarize",
        "workflows.pipeline.is_large",
        "workflows.tasks.report",
        "workflows.pipeline.warn",
    }
    assert closure.tasks[0].template == examples.get_task(closure.tasks[0].template.id)


@pytest.mark.flytekit
@pytest.mark.timeout(120)
def test_launch_plans_are_not_embedded(corpus: Registry) -> None:
    closure = corpus.compile("corpus_pkg.launch_plans.calls_launch_plans")
    assert [t.template.id.name for t in closure.tasks] == ["corpus_pkg.tasks.add"]
    assert not closure.sub_workflows
    refs = [
        n.workflow_node.launchplan_ref.name
        for n in closure.primary.template.nodes
        if n.HasField("workflow_node")
    ]
    assert refs == [
        "corpus_chained_nightly",
        "corpus_chained_nightly",
        "corpus_simple_hourly",
        "corpus_pkg.workflows.simple",
    ]


@pytest.mark.flytekit
@pytest.mark.timeout(120)
def test_compiling_is_deterministic(examples: Registry, corpus: Registry) -> None:
    for registry in (examples, corpus):
        for name in registry.workflows:
            if name == "corpus_pkg.references.uses_references":
                continue
            first = registry.compile(name).SerializeToString(deterministic=True)
            again = registry.compile(name, registry.spec(name)).SerializeToString(deterministic=True)
            assert first == again, name
    # the caller's messages are left untouched
    spec = examples.spec(TRAINING)
    examples.compile(TRAINING, spec)
    assert spec == examples.workflows[TRAINING]


@pytest.mark.flytekit
@pytest.mark.timeout(150)
def test_every_valid_workflow_compiles(
    examples: Registry, corpus: Registry, corpus_references: Registry, shapes: Registry
) -> None:
    assert len(examples.workflows) >= 4 and len(corpus.workflows) >= 30
    merged = Registry(
        tasks={**corpus.tasks, **corpus_references.tasks},
        workflows=corpus.workflows,
        launch_plans={**corpus.launch_plans, **corpus_references.launch_plans},
    )
    for registry in (examples, merged, shapes):
        for name in registry.workflows:
            closure = registry.compile(name)
            assert [n.id for n in closure.primary.template.nodes][:2] == ["start-node", "end-node"], name
            for wf in [closure.primary, *closure.sub_workflows]:
                upstream, downstream = _connections(wf)
                assert upstream.get("end-node") and downstream.get("start-node"), (name, wf.template.id.name)


@pytest.mark.flytekit
@pytest.mark.timeout(120)
def test_missing_references_name_them(corpus: Registry) -> None:
    name = "corpus_pkg.references.uses_references"
    error = _compile_error(corpus, name, corpus.spec(name))
    assert sorted(e.code for e in error.errors) == ["TaskReferenceNotFound"] * 3 + [
        "WorkflowReferenceNotFound"
    ]
    assert (
        "Referenced Task [TASK flytesnacks/development/recipes.tasks.normalize:v1] not found."
        in error.message
    )
    assert (
        "Referenced Launch Plan [LAUNCH_PLAN flytesnacks/development/recipes.nightly:v1] not found."
        in error.message
    )


# ---- mistakes, each made by mutating a real spec


def _node(spec: workflow_pb2.WorkflowSpec, node_id: str) -> object:
    return next(n for n in spec.template.nodes if n.id == node_id)


@pytest.mark.flytekit
@pytest.mark.timeout(120)
def test_missing_task(examples: Registry) -> None:
    tasks = dict(examples.tasks)
    split = next(k for k in tasks if k[3] == "workflows.tasks.split")
    del tasks[split]
    registry = Registry(tasks=tasks, workflows=examples.workflows, launch_plans=examples.launch_plans)
    error = _compile_error(registry, TRAINING, examples.spec(TRAINING))
    assert _codes(error) == [("TaskReferenceNotFound", "n1")]
    assert (
        "Referenced Task [TASK flytesnacks/development/workflows.tasks.split:v1] not found." in error.message
    )


@pytest.mark.flytekit
@pytest.mark.timeout(120)
def test_missing_subworkflow_and_launch_plan(examples: Registry, corpus: Registry) -> None:
    spec = examples.spec(TRAINING)
    del spec.sub_workflows[:]
    error = _compile_error(examples, TRAINING, spec)
    assert _codes(error) == [("WorkflowReferenceNotFound", "n0")]
    assert "workflows.pipeline.prepare" in error.message
    name = "corpus_pkg.launch_plans.calls_launch_plans"
    registry = Registry(tasks=corpus.tasks, workflows=corpus.workflows)
    error = _compile_error(registry, name, corpus.spec(name))
    assert {e.code for e in error.errors} == {"WorkflowReferenceNotFound"}
    assert "corpus_simple_hourly" in error.message


@pytest.mark.flytekit
@pytest.mark.timeout(120)
def test_cycle_is_named(examples: Registry) -> None:
    spec = examples.spec(TRAINING)
    _node(spec, "n1").upstream_node_ids.append("n3")  # type: ignore[attr-defined]
    error = _compile_error(examples, TRAINING, spec)
    assert _codes(error) == [("CycleDetected", "start-node")]
    assert "A cycle has been detected while traversing the Workflow [n1>n2>n3>n1]." in error.message


@pytest.mark.flytekit
@pytest.mark.timeout(120)
def test_unbound_input(examples: Registry) -> None:
    spec = examples.spec(TRAINING)
    inputs = _node(spec, "n1").inputs  # type: ignore[attr-defined]
    del inputs[[b.var for b in inputs].index("ratio")]
    error = _compile_error(examples, TRAINING, spec)
    assert _codes(error) == [("ParameterNotBound", "n1")]
    assert "Parameter not bound [ratio]." in error.message
    # and an unbound workflow output
    spec = examples.spec(TRAINING)
    del spec.template.outputs[:]
    assert _codes(_compile_error(examples, TRAINING, spec)) == [("ParameterNotBound", "end-node")]


@pytest.mark.flytekit
@pytest.mark.timeout(120)
def test_unknown_output_node_and_input(examples: Registry) -> None:
    spec = examples.spec(TRAINING)
    _node(spec, "n3").inputs[0].binding.promise.var = "o7"  # type: ignore[attr-defined]
    error = _compile_error(examples, TRAINING, spec)
    assert _codes(error) == [("VariableNameNotFound", "n3")]
    assert "Variable [o7] not found on node [n2]" in error.message

    spec = examples.spec(TRAINING)
    _node(spec, "n3").inputs[0].binding.promise.node_id = "n9"  # type: ignore[attr-defined]
    assert _codes(_compile_error(examples, TRAINING, spec)) == [("NodeReferenceNotFound", "n3")]

    spec = examples.spec(TRAINING)
    extra = _node(spec, "n3").inputs.add()  # type: ignore[attr-defined]
    extra.var = "bogus"
    extra.binding.scalar.primitive.integer = 1
    error = _compile_error(examples, TRAINING, spec)
    assert _codes(error) == [("VariableNameNotFound", "n3")]
    assert "Variable [bogus] not found on node [n3]" in error.message


@pytest.mark.flytekit
@pytest.mark.timeout(120)
def test_type_mismatches(examples: Registry) -> None:
    spec = examples.spec(TRAINING)
    minimum = next(b for b in _node(spec, "n4").inputs if b.var == "minimum")  # type: ignore[attr-defined]
    minimum.binding.scalar.primitive.string_value = "ten"
    error = _compile_error(examples, TRAINING, spec)
    assert _codes(error) == [("MismatchingTypes", "n4")]
    assert "Variable [minimum] (type [STRING]) doesn't match expected type [INTEGER]." in error.message

    spec = examples.spec(TRAINING)
    count = next(b for b in _node(spec, "n4").inputs if b.var == "count")  # type: ignore[attr-defined]
    count.binding.promise.var = "mean"
    error = _compile_error(examples, TRAINING, spec)
    assert _codes(error) == [("MismatchingTypes", "n4")]
    assert (
        "'n3.mean' has type [FLOAT]" in error.message
        and "'n4.count' which has type [INTEGER]" in error.message
    )

    # a list where a scalar is expected
    spec = examples.spec(TRAINING)
    count = next(b for b in _node(spec, "n4").inputs if b.var == "count")  # type: ignore[attr-defined]
    count.binding.collection.bindings.add().scalar.primitive.integer = 1
    assert _codes(_compile_error(examples, TRAINING, spec)) == [("MismatchingBindings", "n4")]


def test_castability_rules() -> None:
    from flyte_ls.local.compiler_types import castable

    simple = types_pb2.SimpleType
    integer = types_pb2.LiteralType(simple=simple.INTEGER)
    floating = types_pb2.LiteralType(simple=simple.FLOAT)
    string = types_pb2.LiteralType(simple=simple.STRING)
    none = types_pb2.LiteralType(simple=simple.NONE)

    def lst(t: types_pb2.LiteralType) -> types_pb2.LiteralType:
        return types_pb2.LiteralType(collection_type=t)

    def union(*ts: types_pb2.LiteralType) -> types_pb2.LiteralType:
        return types_pb2.LiteralType(union_type=types_pb2.UnionType(variants=ts))

    def blob(fmt: str) -> types_pb2.LiteralType:
        return types_pb2.LiteralType(blob=types_pb2.BlobType(format=fmt))

    def dataset(fmt: str) -> types_pb2.LiteralType:
        return types_pb2.LiteralType(structured_dataset_type=types_pb2.StructuredDatasetType(format=fmt))

    enum = types_pb2.LiteralType(enum_type=types_pb2.EnumType(values=["a", "b"]))
    struct = types_pb2.LiteralType(simple=simple.STRUCT)
    struct.metadata.update({"title": "A"})
    other_struct = types_pb2.LiteralType(simple=simple.STRUCT)
    other_struct.metadata.update({"title": "B"})
    described = types_pb2.LiteralType(simple=simple.INTEGER)
    described.annotation.annotations.update({"x": 1})
    yes = [
        (integer, integer),
        (described, integer),
        (lst(none), lst(integer)),
        (lst(integer), lst(integer)),
        (enum, string),
        (string, enum),
        (blob(""), blob("csv")),
        (blob("csv"), blob("")),
        (blob("csv"), blob("csv")),
        (dataset("parquet"), dataset("")),
        (none, dataset("parquet")),
        (integer, union(integer, none)),
        (none, union(integer, none)),
        (union(integer), integer),
        (union(integer, none), union(integer, string, none)),
        (struct, other_struct),
    ]
    no = [
        (integer, floating), (floating, integer), (lst(integer), lst(string)), (integer, lst(integer)),
        (lst(integer), integer), (blob("csv"), blob("parquet")), (dataset("csv"), dataset("parquet")),
        (string, union(integer, none)), (union(integer, none), integer), (integer, blob("")),
        (types_pb2.LiteralType(map_value_type=integer), types_pb2.LiteralType(map_value_type=string)),
    ]  # fmt: skip
    assert [castable(a, b) for a, b in yes] == [True] * len(yes)
    assert [castable(a, b) for a, b in no] == [False] * len(no)


SHAPES = "compiler_pkg.shapes.shapes"


@pytest.mark.flytekit
@pytest.mark.timeout(120)
def test_failure_node_nested_and_failing_branches(shapes: Registry) -> None:
    closure = shapes.compile(SHAPES)
    template = closure.primary.template
    upstream, _ = _connections(closure.primary)
    # the failure node reads workflow inputs: upstream edges only, promises rewritten
    assert template.failure_node.id == "fn0"
    assert upstream["fn0"] == ["start-node"]
    promises = [b for b in template.failure_node.inputs if b.binding.HasField("promise")]
    assert [(b.var, b.binding.promise.node_id) for b in promises] == [
        ("color", "start-node"),
        ("x", "start-node"),
    ]
    # if / elif (a nested conditional) / else fail
    branch = template.nodes[-1].branch_node.if_else
    assert branch.HasField("error") and not branch.HasField("else_node")
    inner = branch.other[0].then_node
    assert inner.id == "n8-n1"
    assert [inner.branch_node.if_else.case.then_node.id, inner.branch_node.if_else.else_node.id] == [
        "n8-n1-n0",
        "n8-n1-n1",
    ]
    assert upstream["n8-n1-n0"] == ["start-node"] and upstream["n8-n0"] == ["n5"]
    # lists and maps of promises make edges from each element
    assert upstream["n4"] == ["n1", "start-node"]


@pytest.mark.flytekit
@pytest.mark.timeout(120)
def test_attribute_paths_and_enums_are_checked(shapes: Registry) -> None:
    spec = shapes.spec(SHAPES)
    attr = _node(spec, "n1").inputs[0].binding.promise.attr_path[0]  # type: ignore[attr-defined]
    assert attr.string_value == "x"
    attr.string_value = "z"
    error = _compile_error(shapes, SHAPES, spec)
    assert _codes(error) == [("FieldNotFound", "n1")]
    assert "doesn't have field [z]" in error.message

    spec = shapes.spec(SHAPES)
    color = next(b for b in _node(spec, "n3").inputs if b.var == "color")  # type: ignore[attr-defined]
    assert color.binding.scalar.primitive.string_value == "blue"
    color.binding.scalar.primitive.string_value = "green"
    error = _compile_error(shapes, SHAPES, spec)
    assert _codes(error) == [("IllegalEnumValue", "n3")]
    assert "expects value to be one of [red, blue]. Received [green]" in error.message


@pytest.mark.flytekit
@pytest.mark.timeout(120)
def test_dynamic_futures_compile(corpus: Registry, tmp_path: Path) -> None:
    """A real futures.pb: flytekit runs the corpus' nested_dynamic(n=3); compile the workflow it returns."""
    name = "corpus_pkg.dynamic_eager.nested_dynamic"
    template = next(t for t in corpus.tasks.values() if t.id.name == name)
    inputs = literals_pb2.LiteralMap()
    inputs.literals["n"].scalar.primitive.integer = 3
    (tmp_path / "inputs.pb").write_bytes(inputs.SerializeToString())
    env = {e.key: e.value for e in template.container.env}  # carries the serialization settings (_F_SS_C)
    env.update(
        PATH=str(PYTHON.parent),
        PYTHONDONTWRITEBYTECODE="1",
        FLYTE_INTERNAL_EXECUTION_ID="e1",
        FLYTE_INTERNAL_EXECUTION_PROJECT=PROJECT,
        FLYTE_INTERNAL_EXECUTION_DOMAIN=DOMAIN,
        FLYTE_INTERNAL_TASK_PROJECT=PROJECT,
        FLYTE_INTERNAL_TASK_DOMAIN=DOMAIN,
        FLYTE_INTERNAL_TASK_NAME=name,
        FLYTE_INTERNAL_TASK_VERSION=VERSION,
    )
    args = list(template.container.args)
    args = [a.replace("{{.input}}", str(tmp_path / "inputs.pb")) for a in args]
    args = [a.replace("{{.outputPrefix}}", str(tmp_path / "out")) for a in args]
    args = [a.replace("{{.rawOutputDataPrefix}}", str(tmp_path / "raw")) for a in args]
    args = [a.replace("{{.checkpointOutputPrefix}}", str(tmp_path / "ckpt")) for a in args]
    args = [a.replace("{{.prevCheckpointPrefix}}", '""') for a in args]
    proc = subprocess.run(
        [str(PYTHON.with_name(args[0])), *args[1:]],
        cwd=REPO / "tests" / "corpus", env=env, capture_output=True, text=True, timeout=100, check=False,
    )  # fmt: skip
    futures = tmp_path / "out" / "futures.pb"
    assert futures.exists(), proc.stdout[-3000:] + proc.stderr[-3000:]
    spec = dynamic_job_pb2.DynamicJobSpec.FromString(futures.read_bytes())

    dynamic_id = identifier_pb2.Identifier(
        resource_type=identifier_pb2.WORKFLOW, project=PROJECT, domain=DOMAIN, name="dynamic_n0", version="x1"
    )
    closure = compile_dynamic_job(spec, dynamic_id, template.interface, corpus.get_lp)
    assert [n.id for n in closure.primary.template.nodes] == ["start-node", "end-node", "dn0", "dn1"]
    upstream, downstream = _connections(closure.primary)
    assert upstream == {"dn0": ["start-node"], "dn1": ["dn0"], "end-node": ["dn1"]}
    assert downstream == {"start-node": ["dn0"], "dn0": ["dn1"], "dn1": ["end-node"]}
    assert [t.template.id.name for t in closure.tasks] == [
        "corpus_pkg.dynamic_eager.fan_out",
        "corpus_pkg.tasks.stats",
    ]
    again = compile_dynamic_job(spec, dynamic_id, template.interface, corpus.get_lp)
    assert again.SerializeToString(deterministic=True) == closure.SerializeToString(deterministic=True)


@pytest.mark.timeout(30)
def test_dynamic_job_with_a_launch_plan_node() -> None:
    """A @dynamic's sub-DAG may launch launch plans: their interfaces come from the lookup (propeller asks
    Admin); a launch plan the lookup does not know is WorkflowReferenceNotFound."""
    int_type = types_pb2.LiteralType(simple=types_pb2.INTEGER)
    lp_id = identifier_pb2.Identifier(resource_type=identifier_pb2.LAUNCH_PLAN, name="child_lp")
    lp_id.project, lp_id.domain, lp_id.version = PROJECT, DOMAIN, VERSION
    lp_iface = interface_pb2.TypedInterface()
    lp_iface.inputs.variables["base"].type.CopyFrom(int_type)
    lp_iface.outputs.variables["o0"].type.CopyFrom(int_type)
    spec = dynamic_job_pb2.DynamicJobSpec(min_successes=1)
    node = spec.nodes.add(id="dn0")
    node.workflow_node.launchplan_ref.CopyFrom(lp_id)
    node.inputs.add(var="base").binding.promise.CopyFrom(types_pb2.OutputReference(node_id="", var="n"))
    spec.outputs.add(var="o0").binding.promise.CopyFrom(types_pb2.OutputReference(node_id="dn0", var="o0"))
    iface = interface_pb2.TypedInterface()
    iface.inputs.variables["n"].type.CopyFrom(int_type)
    iface.outputs.variables["o0"].type.CopyFrom(int_type)
    dynamic_id = identifier_pb2.Identifier(
        resource_type=identifier_pb2.WORKFLOW, project=PROJECT, domain=DOMAIN, name="dynamic_n0", version="x1"
    )

    closure = compile_dynamic_job(spec, dynamic_id, iface, lambda i: lp_iface if i == lp_id else None)
    upstream, _ = _connections(closure.primary)
    assert upstream == {"dn0": ["start-node"], "end-node": ["dn0"]}
    assert not closure.tasks

    with pytest.raises(CompileFailed) as info:
        compile_dynamic_job(spec, dynamic_id, iface, lambda _: None)
    assert _codes(info.value) == [("WorkflowReferenceNotFound", "dn0")]
    assert "Launch Plan [LAUNCH_PLAN flytesnacks/development/child_lp:v1] not found" in str(info.value)


@pytest.mark.flytekit
@pytest.mark.timeout(120)
def test_other_structural_mistakes(examples: Registry) -> None:
    spec = examples.spec(TRAINING)
    _node(spec, "n5").branch_node.if_else.ClearField("else_node")  # type: ignore[attr-defined]
    assert _codes(_compile_error(examples, TRAINING, spec)) == [("BranchNodeHasNoDefault", "n5")]

    spec = examples.spec(TRAINING)
    spec.template.nodes.add().CopyFrom(_node(spec, "n1"))  # type: ignore[arg-type]
    assert _codes(_compile_error(examples, TRAINING, spec)) == [("DuplicateId", "n1")]

    spec = examples.spec(TRAINING)
    n1 = _node(spec, "n1")
    n1.inputs.add().CopyFrom(n1.inputs[0])  # type: ignore[attr-defined]
    assert _codes(_compile_error(examples, TRAINING, spec)) == [("ParameterBoundMoreThanOnce", "n1")]

    spec = examples.spec(TRAINING)
    _node(spec, "n3").upstream_node_ids.append("n42")  # type: ignore[attr-defined]
    assert _codes(_compile_error(examples, TRAINING, spec)) == [("NodeReferenceNotFound", "n3")]

    # a branch child reading a missing output is reported under its compiled id
    spec = examples.spec(TRAINING)
    then_node = _node(spec, "n5").branch_node.if_else.case.then_node  # type: ignore[attr-defined]
    next(b for b in then_node.inputs if b.var == "mean").binding.promise.var = "median"
    error = _compile_error(examples, TRAINING, spec)
    assert _codes(error) == [("VariableNameNotFound", "n5-n0")]
    assert "Variable [median] not found on node [n3]" in error.message


@pytest.mark.flytekit
@pytest.mark.timeout(120)
def test_array_node_over_a_launch_plan(shapes: Registry) -> None:
    """flytekit's array_node(target=launch_plan) keeps the sub-node's scalar interface: lists are accepted."""
    closure = shapes.compile("compiler_pkg.shapes.mapped_launch_plan")
    array = closure.primary.template.nodes[2]
    assert array.array_node.is_original_sub_node_interface.value
    assert array.array_node.node.workflow_node.launchplan_ref.name == "compiler_pkg_child"
    assert not closure.tasks and not closure.sub_workflows
    upstream, _ = _connections(closure.primary)
    assert upstream == {"n0": ["start-node"], "end-node": ["n0"]}
