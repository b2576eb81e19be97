"""The console's workflow graph (flyte_ls.local.console_dag): graphs read from closures that the backend's own
compiler made, from specs real flytekit serialized (`pyflyte package`: task, subworkflow, launch-plan node,
branch, gate, map task, @dynamic) and from generated templates (500 nodes wide and deep, hostile names);
the layout (layers, crossings, one routed path per edge, determinism across hash seeds), the SVG (well-formed
XML, accessible names, title/desc, the list), escaping and the time for 500 nodes."""

from __future__ import annotations

import hashlib
import itertools
import os
import re
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from flyteidl.core import compiler_pb2, identifier_pb2, interface_pb2, tasks_pb2, types_pb2, workflow_pb2
from test_compiler import Registry, _load, _package, corpus, corpus_references, examples, shapes  # noqa: F401

from flyte_ls.local.compiler import compile_workflow
from flyte_ls.local.console_dag import DAG_CSS, Graph, build_graph, render_dag
from flyte_ls.local.console_dag_layout import layout
from flyte_ls.local.console_html import THEME

pytestmark = pytest.mark.timeout(120)

SVG = "{http://www.w3.org/2000/svg}"
EVIL = "<script>alert('x')</script>\"'><img src=x onerror=alert(1)>"
INT = types_pb2.LiteralType(simple=types_pb2.INTEGER)

FLOWS = """
from datetime import timedelta

from flytekit import LaunchPlan, approve, conditional, dynamic, map_task, task, workflow


@task
def double(x: int) -> int:
    return x * 2


@task
def add(a: int, b: int) -> int:
    return a + b


@task
def square(x: int) -> int:
    return x * x


@workflow
def inner(x: int) -> int:
    return add(a=double(x=x), b=x)


@workflow
def leaf(x: int) -> int:
    return double(x=x)


leaf_lp = LaunchPlan.get_or_create(leaf, name="dagpkg.flows.leaf_lp")


@dynamic
def fan(n: int) -> int:
    total = 0
    for i in range(n):
        total = add(a=total, b=double(x=i))
    return total


@workflow
def big(x: int) -> int:
    a = double(x=x)
    b = inner(x=a)
    c = leaf_lp(x=x)
    d = (
        conditional("pick")
        .if_(a > 3)
        .then(square(x=b))
        .elif_((a < 0) & (x < 0))
        .then(inner(x=b))
        .else_()
        .fail("a is between 0 and 3")
    )
    s = add(a=d, b=1)
    ok = approve(s, "ok", timeout=timedelta(hours=1))
    m = map_task(double)(x=[1, 2, 3])
    e = fan(n=ok)
    return add(a=e, b=c)
"""


@pytest.fixture(scope="module")
def real(tmp_path_factory: pytest.TempPathFactory) -> compiler_pb2.CompiledWorkflowClosure:
    """dagpkg.flows.big packaged by real `pyflyte package`, compiled by the backend's compiler."""
    source = tmp_path_factory.mktemp("dag-src")
    (source / "dagpkg").mkdir()
    (source / "dagpkg" / "__init__.py").write_text("")
    (source / "dagpkg" / "flows.py").write_text(FLOWS)
    registry = Registry()
    _load(_package(source, "dagpkg", tmp_path_factory.mktemp("dag")), registry)
    return registry.compile("dagpkg.flows.big")


# -- generated workflows -------------------------------------------------------------------------------------


def _ident(kind: int, name: str) -> identifier_pb2.Identifier:
    return identifier_pb2.Identifier(resource_type=kind, project="p", domain="d", name=name, version="v")


def _task(name: str) -> tasks_pb2.TaskTemplate:
    iface = interface_pb2.TypedInterface()
    iface.inputs.variables["x"].type.CopyFrom(INT)
    iface.outputs.variables["o0"].type.CopyFrom(INT)
    return tasks_pb2.TaskTemplate(id=_ident(identifier_pb2.TASK, name), type="python-task", interface=iface)


def _node(node_id: str, task: tasks_pb2.TaskTemplate, source: str) -> workflow_pb2.Node:
    node = workflow_pb2.Node(id=node_id)
    node.task_node.reference_id.CopyFrom(task.id)
    binding = node.inputs.add()
    binding.var = "x"
    binding.binding.promise.node_id = source
    binding.binding.promise.var = "o0" if source else "x"
    if source:
        node.upstream_node_ids.append(source)
    return node


def generated(
    shape: str, n: int, *, node_id: str = "n{}", task_name: str = "pkg.inc"
) -> compiler_pb2.CompiledWorkflowClosure:
    """``wide``: n nodes reading the workflow input; ``deep``: a chain of n; ``deep-inputs``: a chain whose
    every node also waits for ... the workflow input (an edge from start-node into every layer)."""
    task = _task(task_name)
    t = workflow_pb2.WorkflowTemplate(id=_ident(identifier_pb2.WORKFLOW, f"pkg.{shape}"))
    t.interface.inputs.variables["x"].type.CopyFrom(INT)
    t.interface.outputs.variables["o0"].type.CopyFrom(INT)
    ids = [node_id.format(i) for i in range(n)]
    for i, nid in enumerate(ids):
        source = "" if shape == "wide" or i == 0 else ids[i - 1]
        node = _node(nid, task, source)
        if shape == "deep-inputs" and i:
            node.inputs[0].binding.promise.node_id = ""
            node.inputs[0].binding.promise.var = "x"
        t.nodes.append(node)
    out = t.outputs.add()
    out.var = "o0"
    out.binding.promise.node_id = ids[-1]
    out.binding.promise.var = "o0"
    return compile_workflow(t, [], lambda _: task, lambda _: None)


def svgs(fragment: str) -> list[ET.Element]:
    return [ET.fromstring(m) for m in re.findall(r"<svg.*?</svg>", fragment, re.S)]


def node_links(svg: ET.Element) -> list[ET.Element]:
    return [a for a in svg.iter(f"{SVG}a") if "dag-node" in a.get("class", "")]


# -- layout --------------------------------------------------------------------------------------------------


def test_layers_are_longest_paths_from_the_start() -> None:
    ids = ["start", "a", "b", "c", "d", "end"]
    edges = [("start", "a"), ("a", "b"), ("b", "c"), ("a", "c"), ("start", "d"), ("c", "end"), ("d", "end")]
    lay = layout(ids, dict.fromkeys(ids, (100.0, 40.0)), edges)
    assert lay.layers == {"start": 0, "a": 1, "b": 2, "c": 3, "d": 1, "end": 4}
    assert lay.order.index("a") < lay.order.index("b") < lay.order.index("c") < lay.order.index("end")
    xs = {n: lay.boxes[n].x for n in ids}
    assert xs["start"] < xs["a"] == xs["d"] < xs["b"] < xs["c"] < xs["end"]  # layers left to right
    # one path per edge, from the upstream box's right side to the downstream box's left side
    assert len(lay.paths) == len(edges)
    for (u, v, d), edge in zip(lay.paths, edges, strict=True):
        assert (u, v) == edge
        start = d[1:].split("C", 1)[0].split(",")
        assert float(start[0]) == pytest.approx(lay.boxes[u].x + lay.boxes[u].w)
        end = d.rsplit(" ", 1)[1].split(",")
        assert float(end[0]) == pytest.approx(lay.boxes[v].x)
    # the long edge a -> c goes through a virtual point in b's column, beside b (not through it)
    long_path = next(d for u, v, d in lay.paths if (u, v) == ("a", "c"))
    assert "L" in long_path


def test_crossings_are_removed_and_boxes_do_not_overlap() -> None:
    # given in an order that crosses: a -> d, b -> c, and c, d each with a successor
    ids = ["s", "a", "b", "c", "d", "e", "f"]
    edges = [("s", "a"), ("s", "b"), ("a", "d"), ("b", "c"), ("c", "e"), ("d", "f")]
    lay = layout(ids, dict.fromkeys(ids, (100.0, 40.0)), edges)
    assert lay.crossings == 0
    by = {n: lay.boxes[n].y for n in ids}
    assert (by["a"] < by["b"]) == (by["d"] < by["c"]) == (by["f"] < by["e"])
    for col in ({"a", "b"}, {"c", "d"}, {"e", "f"}):
        one, two = sorted((lay.boxes[n] for n in col), key=lambda b: b.y)
        assert one.y + one.h <= two.y  # no overlap within a column


def test_a_cycle_does_not_hang_the_layout() -> None:
    ids = ["a", "b", "c"]
    lay = layout(ids, dict.fromkeys(ids, (50.0, 20.0)), [("a", "b"), ("b", "c"), ("c", "a"), ("a", "a")])
    assert set(lay.boxes) == set(ids) and len(lay.paths) == 3  # the self loop is dropped


# -- graphs from real flytekit -------------------------------------------------------------------------------


@pytest.mark.flytekit
def test_kinds_edges_and_inner_graphs_of_a_real_workflow(real: compiler_pb2.CompiledWorkflowClosure) -> None:
    g = build_graph(real)
    kinds = {n.id: n.kind for n in g.nodes.values()}
    assert kinds == {
        "start-node": "start", "end-node": "end", "n0": "task", "n1": "subworkflow", "n2": "launchplan",
        "n3": "branch", "n4": "task", "n5": "gate", "n6": "array", "n7": "task", "n8": "task",
    }  # fmt: skip
    labels = {n.id: n.label for n in g.nodes.values()}
    assert labels["n0"] == "double" and labels["n2"] == "leaf_lp" and labels["n6"] == "double"
    upstream = real.primary.connections.upstream
    compiled = {(u, d) for d in upstream for u in upstream[d].ids if d in g.nodes}
    assert compiled <= set(g.edges)
    assert ("n1", "n3") in g.edges  # the branch's cases read n1: drawn into the branch node
    assert len(g.edges) == len(set(g.edges))
    # the subworkflow's own graph; the branch's cases as nodes with their conditions
    assert set(g.children) == {"n1", "n3"}
    assert set(g.children["n1"].nodes) == {"start-node", "end-node", "n0", "n1"}
    cases = g.children["n3"]
    assert [n.condition for n in cases.nodes.values()] == ["if n0.o0 > 3", "elif (n0.o0 < 0 and x < 0)"]
    assert [n.kind for n in cases.nodes.values()] == ["task", "subworkflow"]
    assert set(cases.children) == {"n3-n1"}  # a subworkflow inside a case
    assert g.nodes["n3"].cases[-1] == "else: fail (a is between 0 and 3)"
    assert "approval ok" in g.nodes["n5"].title
    # a subworkflow on its own
    sub = build_graph(real, real.sub_workflows[0].template.id)
    assert sub.name == real.sub_workflows[0].template.id.name
    with pytest.raises(LookupError):
        build_graph(real, _ident(identifier_pb2.WORKFLOW, "nope"))


@pytest.mark.flytekit
def test_rendering_a_real_workflow(real: compiler_pb2.CompiledWorkflowClosure) -> None:
    g = build_graph(real)
    dyn = build_graph(real, real.sub_workflows[0].template.id)
    phases = {"n0": "SUCCEEDED", "n1": "SUCCEEDED", "n1/n0": "SUCCEEDED", "n3": "RUNNING", "n5": "FAILED"}
    phases["n3/n3-n0"] = "RUNNING"
    html = render_dag(
        g, phases=phases, links={"n2": "/console/projects/p/x"}, dynamic={"n7": dyn}, title="big"
    )
    ET.fromstring(html)  # the whole fragment is well-formed XML
    top, *nested = svgs(html)
    assert len(nested) == 4  # n1, n3, n3's case n3-n1, n7
    names = {a.get("aria-label"): a.get("href") for a in node_links(top)}
    assert names == {
        "node n0 (task double): SUCCEEDED": "#node-n0",
        "node n1 (subworkflow inner): SUCCEEDED": "#node-n1",
        "node n2 (launch plan leaf_lp)": "/console/projects/p/x",
        "node n3 (branch pick): RUNNING": "#node-n3",
        "node n4 (task add)": "#node-n4",
        "node n5 (gate ok): FAILED": "#node-n5",
        "node n6 (array double)": "#node-n6",
        "node n7 (dynamic fan)": "#node-n7",
        "node n8 (task add)": "#node-n8",
    }
    # role img labelled by its own title and desc; desc counts nodes by phase
    assert top.get("role") == "img"
    title_id, desc_id = top.get("aria-labelledby", "").split()
    title = top.find(f"{SVG}title")
    desc = top.find(f"{SVG}desc")
    assert title is not None and desc is not None
    assert (title.get("id"), desc.get("id")) == (title_id, desc_id)
    assert title.text == "big"
    assert next(t.text for svg in nested for t in svg.iter(f"{SVG}title")) == (
        "inner graph of node n1 (dagpkg.flows.inner)"
    )
    assert desc.text == "9 nodes (1 FAILED, 1 RUNNING, 2 SUCCEEDED, 5 not started), 15 edges"
    # the keyboard meets the nodes in topological order
    tab = [a.get("href") for a in top.iter(f"{SVG}a") if a.get("class") != "dag-open"]
    assert tab.index("#node-n0") < tab.index("#node-n1") < tab.index("#node-n3") < tab.index("#node-n8")
    # phase as text in the box, not colour alone; the box's class carries the tone
    n5 = next(a for a in node_links(top) if a.get("href") == "#node-n5")
    assert "p-fail" in n5.get("class", "") and "FAILED" in [t.text for t in n5.iter(f"{SVG}text")]
    # expandable nodes link to their inner graph's <details>, right below
    opens = [a.get("href") for a in top.iter(f"{SVG}a") if a.get("class") == "dag-open"]
    assert len(opens) == 3
    for anchor in opens:
        assert f"<details class='dag-sub' id='{anchor[1:]}'>" in html
    inner_links = {a.get("aria-label"): a.get("href") for svg in nested for a in node_links(svg)}
    assert inner_links["node n0 (task double): SUCCEEDED"] == "#node-n1/n0"
    assert inner_links["node n3-n0 (task square): RUNNING"] == "#node-n3/n3-n0"
    inner_hrefs = [a.get("href") for svg in nested for a in node_links(svg)]
    assert "#node-n3/n3-n1/n1" in inner_hrefs and "#node-n7/n1" in inner_hrefs
    # the text alternative: the nodes in topological order with upstreams and phases
    listing = html.split("<details class='dag-list'>", 1)[1].split("</details>", 1)[0]
    items = re.findall(r"<li>(.*?)</li>", listing)
    assert len(items) == 9
    order = [re.search(r"node (n\d)", item).group(1) for item in items]  # type: ignore[union-attr]
    assert order.index("n0") < order.index("n1") < order.index("n3") < order.index("n4") < order.index("n8")
    assert "node n8 (task add)</a>; after n2, n7" in listing
    # ids are unique on the page
    ids = re.findall(r" id='([^']*)'", html)
    assert len(ids) == len(set(ids))


@pytest.mark.flytekit
def test_nodes_without_a_row_link_nothing(real: compiler_pb2.CompiledWorkflowClosure) -> None:
    """link_rows=False (the execution page: rows by unique node id, none for a node that never ran): a node
    links only what ``links`` gives, in the picture and in the list; the others are named but not links."""
    links = {"n0": "#node-n0", "n1/n0": "#node-n1-0-n0", "n2": "/console/projects/p/x"}
    html = render_dag(build_graph(real), phases={"n0": "SUCCEEDED"}, links=links, link_rows=False)
    named = [(a.get("aria-label"), a.get("href")) for svg in svgs(html) for a in node_links(svg)]
    linked = sorted((str(h), str(name)) for name, h in named if h is not None)
    assert linked == [
        ("#node-n0", "node n0 (task double): SUCCEEDED"),
        ("#node-n1-0-n0", "node n0 (task double)"),  # inside n1: the row id the caller mapped
        ("/console/projects/p/x", "node n2 (launch plan leaf_lp)"),
    ]
    assert ("node n3 (branch pick)", None) in named and ("node n3-n0 (task square)", None) in named
    assert len(named) > 10
    in_page = re.findall(r"href='#node-([^']*)'", html)
    assert sorted(in_page) == ["n0", "n0", "n1-0-n0", "n1-0-n0"]  # each in the picture and in the list
    assert "<li>node n3 (branch pick)" in html  # the list names it, unlinked


def _count_nodes(graph: Graph) -> int:
    inner = sum(_count_nodes(g) for g in graph.children.values())
    return sum(1 for n in graph.nodes.values() if n.kind not in ("start", "end")) + inner


@pytest.mark.flytekit
@pytest.mark.timeout(200)
def test_every_workflow_of_the_examples_and_the_corpus_renders(
    examples: Registry,  # noqa: F811
    corpus: Registry,  # noqa: F811
    corpus_references: Registry,  # noqa: F811
    shapes: Registry,  # noqa: F811
) -> None:
    """Failure nodes, nested and failing branches, map tasks, references, gates: every node drawn once."""
    merged = Registry(
        tasks={**corpus.tasks, **corpus_references.tasks},
        workflows=corpus.workflows,
        launch_plans={**corpus.launch_plans, **corpus_references.launch_plans},
    )
    kinds: set[str] = set()
    for registry in (examples, merged, shapes):
        for name in registry.workflows:
            closure = registry.compile(name)
            for wf in [None, *(s.template.id for s in closure.sub_workflows)]:
                g = build_graph(closure, wf)
                html = render_dag(g)
                ET.fromstring(html)
                drawn = sum(len(node_links(svg)) for svg in svgs(html))
                assert drawn == _count_nodes(g), name
                kinds |= {n.kind for n in g.nodes.values()}
                failure = closure.primary.template.failure_node.id
                if wf is None and failure:
                    assert g.nodes[failure].condition == "on failure"
                    assert "; on failure" in html
    assert kinds >= {"task", "subworkflow", "launchplan", "branch", "gate", "array", "start", "end"}


@pytest.mark.flytekit
def test_static_graph_without_phases(real: compiler_pb2.CompiledWorkflowClosure) -> None:
    html = render_dag(build_graph(real))
    top = svgs(html)[0]
    desc = top.find(f"{SVG}desc")
    assert desc is not None and desc.text == "9 nodes, 15 edges"
    assert all("p-none" in a.get("class", "") for a in node_links(top))
    assert "node n0 (task double)" in [a.get("aria-label") for a in node_links(top)]


# -- generated workflows -------------------------------------------------------------------------------------


def test_edges_are_routed_one_path_each() -> None:
    for shape, n in (("wide", 30), ("deep", 30), ("deep-inputs", 30)):
        g = build_graph(generated(shape, n))
        top = svgs(render_dag(g))[0]
        group = next(x for x in top.iter(f"{SVG}g") if x.get("class") == "dag-edges")
        paths = list(group)
        assert len(paths) == len(g.edges) == len(set(g.edges)), shape
        marker = top.find(f"{SVG}defs/{SVG}marker")
        assert marker is not None
        assert all(p.get("marker-end") == f"url(#{marker.get('id')})" for p in paths)
        assert all(re.fullmatch(r"M[\d.]+,[\d.]+([CL][\d., ]+)+", p.get("d", "")) for p in paths)


def test_hostile_names_are_escaped() -> None:
    g = build_graph(generated("deep", 3, node_id=EVIL + "{}", task_name=f"pkg.{EVIL}"))
    assert len(g.nodes) == 5
    phases = {f"{EVIL}0": EVIL}
    links = {f"{EVIL}1": "javascript:alert(1)", f"{EVIL}2": f"/console/{EVIL}"}
    html = render_dag(g, phases=phases, links=links, title=EVIL)
    for bad in ("<script", "<img", "javascript:", "onerror=alert(1)>"):
        assert bad not in html
    top = svgs(html)[0]
    hrefs = {a.get("aria-label"): a.get("href") for a in node_links(top)}
    assert len(hrefs) == 3
    assert list(hrefs.values()).count(None) == 1  # the javascript: link is dropped, the box stays
    assert f"/console/{EVIL}" in hrefs.values() and f"#node-{EVIL}0" in hrefs.values()
    ET.fromstring(html)
    assert "p-idle" in html  # an unknown phase gets the neutral tone, and its text escaped
    title = top.find(f"{SVG}title")
    assert title is not None and title.text == EVIL


def test_rendering_is_deterministic_across_processes() -> None:
    script = (
        "import hashlib, sys; sys.path.insert(0, sys.argv[1]); import test_console_dag as t;"
        "from flyte_ls.local.console_dag import build_graph, render_dag;"
        "g = build_graph(t.generated('wide', 60));"
        "h = render_dag(g, phases={f'n{i}': 'SUCCEEDED' for i in range(0, 60, 3)});"
        "h += render_dag(build_graph(t.generated('deep-inputs', 40)));"
        "print(hashlib.sha256(h.encode()).hexdigest())"
    )
    here = str(Path(__file__).parent)
    digests = set()
    for seed in ("1", "2", "3"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        proc = subprocess.run(
            [sys.executable, "-c", script, here],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        digests.add(proc.stdout.strip())
    g = build_graph(generated("wide", 60))
    local = render_dag(g, phases={f"n{i}": "SUCCEEDED" for i in range(0, 60, 3)})
    local += render_dag(build_graph(generated("deep-inputs", 40)))
    assert digests == {hashlib.sha256(local.encode()).hexdigest()}


@pytest.mark.parametrize("shape", ["wide", "deep", "deep-inputs"])
def test_500_nodes_well_under_a_second(shape: str) -> None:
    closure = generated(shape, 500)
    phases = {f"n{i}": ("SUCCEEDED", "RUNNING", "FAILED", "QUEUED")[i % 4] for i in range(500)}
    started = time.perf_counter()
    g = build_graph(closure)
    html = render_dag(g, phases=phases)
    elapsed = time.perf_counter() - started
    assert elapsed < 1.0, f"{shape}: {elapsed:.3f} s"
    top = svgs(html)[0]
    assert len(node_links(top)) == 500
    boxes = [a.find(f"{SVG}rect") for a in node_links(top)]
    ys = sorted(
        (float(r.get("x", 0)), float(r.get("y", 0)), float(r.get("height", 0)))
        for r in boxes
        if r is not None
    )
    for (x1, y1, h1), (x2, y2, _) in itertools.pairwise(ys):
        assert x1 != x2 or y1 + h1 <= y2  # no two boxes overlap in a column


def test_dynamic_and_nested_keys() -> None:
    g = build_graph(generated("deep", 2))
    dyn = build_graph(generated("wide", 3))
    html = render_dag(g, phases={"n1": "DYNAMIC_RUNNING", "n1/n2": "SUCCEEDED"}, dynamic={"n1": dyn})
    top, inner = svgs(html)
    assert "node n1 (dynamic inc): DYNAMIC_RUNNING" in [a.get("aria-label") for a in node_links(top)]
    assert "node n2 (task inc): SUCCEEDED" in [a.get("aria-label") for a in node_links(inner)]
    assert "#node-n1/n2" in [a.get("href") for a in node_links(inner)]


def _luminance(colour: str) -> float:
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    lin = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def _contrast(a: str, b: str) -> float:
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def test_text_contrast_in_light_and_dark() -> None:
    # what DAG_CSS draws text on: the node text (--fg) on every box fill, the phase text in its tone on its
    # tone's fill, the expand button's "+" (--fg) on --bg
    pairs = [("fg", fill) for fill in ("surface", "ok-bg", "run-bg", "fail-bg", "idle-bg", "bg")]
    pairs += [(tone, f"{tone}-bg") for tone in ("ok", "run", "fail", "idle")]
    for tone in ("ok", "run", "fail", "idle"):
        assert f".p-{tone} rect{{fill:var(--{tone}-bg)" in DAG_CSS
        assert f".p-{tone} text.dag-p{{fill:var(--{tone})}}" in DAG_CSS
    assert ".dag-node text{fill:var(--fg)" in DAG_CSS and "rect{fill:var(--surface)" in DAG_CSS
    for scheme, palette in THEME.items():
        for text, fill in pairs:
            ratio = _contrast(palette[text], palette[fill])
            assert ratio >= 4.5, f"{scheme}: --{text} on --{fill} is {ratio:.2f}:1"


def test_empty_graph() -> None:
    html = render_dag(Graph("empty"))
    ET.fromstring(html)
    assert "0 nodes, 0 edges" in html
