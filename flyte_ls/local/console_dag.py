"""The console's workflow graph: :func:`build_graph` reads a compiled workflow, :func:`render_dag` draws it.

The picture is an inline SVG laid out on the server (:mod:`.console_dag_layout`), left to right from
``start-node`` to ``end-node``: one box per node with its label (truncated; the full name in the box's
``<title>``), its kind (a glyph and a word), its phase (a colour *and* the phase's name) and a link. Below the
SVG: the graph as a list (the text alternative: in topological order, column by column as drawn, with each
node's upstream nodes and phase), then one ``<details>`` per subworkflow, branch and dynamic node holding its
inner graph, drawn the same way; the node's box has a small second link to it.

Keys of ``phases``, ``links`` and ``dynamic``: a node of the graph passed in is keyed by its node id
(``n0``); a node inside the inner graph of node ``n2`` by ``n2/<its id>`` (``n2/n0``), and so on down
(``n2/n1/n0``). A branch's inner graph holds its cases' then-nodes (``n3/n3-n0``). A node links
``links[key]`` (its row, a launch plan node's child execution...); a node not in ``links`` links its row in a
node table whose rows are ``#node-<key>`` (the workflow pages'), or nothing when ``link_rows`` is False (the
execution page: its rows are unique node ids, which the caller maps, and a node that never ran has none).
``dynamic`` gives the workflow a ``@dynamic`` node generated (:func:`build_graph` of its
``dynamic_workflow.compiled_workflow``): the node is then shown as dynamic and expandable. Every value is
escaped (:func:`.console_html.e`), links go through :func:`.console_html.href`.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

from flyteidl.core import compiler_pb2, condition_pb2, identifier_pb2, literals_pb2, workflow_pb2

from flyte_ls.local.console_dag_layout import Layout, layout
from flyte_ls.local.console_html import dur, e, href, phase_tone, register_css

START, END = "start-node", "end-node"
KINDS = ("task", "subworkflow", "launchplan", "branch", "gate", "array", "dynamic", "start", "end")
MAX_DEPTH = 8  # nested subworkflows drawn inside each other
NODE_W, NODE_H, LINE_H = 184, 54, 14
END_W, END_H = 64, 28
LABEL_CHARS, SMALL_CHARS = 24, 28
_GLYPH = {
    "task": "\u25a1",  # □
    "subworkflow": "\u25a3",  # ▣
    "launchplan": "\u2197",  # ↗
    "branch": "\u25c7",  # ◇
    "gate": "\u25d4",  # ◔
    "array": "\u25a6",  # ▦
    "dynamic": "\u2726",  # ✦
    "start": "\u25b7",  # ▷
    "end": "\u25fb",  # ◻
}
_KIND_TEXT = {"launchplan": "launch plan"}
_MAPPED = re.compile(r"map_(.+)_[0-9a-f]{32}(?:-arraynode)?")
_OPS = {0: "==", 1: "!=", 2: ">", 3: ">=", 4: "<", 5: "<="}


@dataclass
class DagNode:
    """One node: ``label`` is what it runs (the entity's short name) or its id; ``title`` the full text."""

    id: str
    kind: str
    label: str
    title: str = ""
    cases: tuple[str, ...] = ()  # a branch node's cases, as text
    condition: str = ""  # when it runs: a branch case's condition, "on failure" for the failure node


@dataclass
class Graph:
    """Nodes by id (in the workflow's order), edges (upstream, downstream), inner graphs by node id."""

    name: str
    nodes: dict[str, DagNode] = field(default_factory=dict)
    edges: list[tuple[str, str]] = field(default_factory=list)
    children: dict[str, Graph] = field(default_factory=dict)


# -- reading a compiled workflow -----------------------------------------------------------------------------


def _key(ident: identifier_pb2.Identifier) -> tuple[str, str, str, str]:
    return (ident.project, ident.domain, ident.name, ident.version)


def _short(name: str) -> str:
    """``pkg.mod.double`` -> ``double``; flytekit's ``map_double_<hash>-arraynode`` -> ``double``."""
    short = name.rsplit(".", 1)[-1] or name
    mapped = _MAPPED.fullmatch(short)
    return mapped.group(1) if mapped else short


class _Reader:
    def __init__(self, closure: compiler_pb2.CompiledWorkflowClosure) -> None:
        self.subs = {_key(s.template.id): s for s in closure.sub_workflows}
        self.tasks = {_key(t.template.id): t.template for t in closure.tasks}

    def graph(self, compiled: compiler_pb2.CompiledWorkflow, stack: tuple[tuple[str, ...], ...]) -> Graph:
        t = compiled.template
        graph = Graph(t.id.name)
        protos = list(t.nodes)
        if t.HasField("failure_node"):
            protos.append(t.failure_node)
        for proto in protos:
            self.node(graph, proto, stack)
        if t.HasField("failure_node") and t.failure_node.id in graph.nodes:
            graph.nodes[t.failure_node.id].condition = "on failure"
        upstream = compiled.connections.upstream
        if upstream:
            for down in graph.nodes:
                if down in upstream:
                    graph.edges.extend((up, down) for up in upstream[down].ids if up in graph.nodes)
        else:
            _fallback_edges(graph, protos)
        _branch_inputs(graph, upstream)
        return graph

    def node(self, graph: Graph, proto: workflow_pb2.Node, stack: tuple[tuple[str, ...], ...]) -> DagNode:
        node = self.describe(proto)
        graph.nodes[node.id] = node
        target = proto.WhichOneof("target")
        inner: Graph | None = None
        if target == "workflow_node" and proto.workflow_node.HasField("sub_workflow_ref"):
            inner = self.sub(proto.workflow_node.sub_workflow_ref, stack)
        elif target == "array_node":
            sub = proto.array_node.node
            if sub.WhichOneof("target") == "workflow_node" and sub.workflow_node.HasField("sub_workflow_ref"):
                inner = self.sub(sub.workflow_node.sub_workflow_ref, stack)
        elif target == "branch_node":
            inner = self.branch(proto, stack)
        if inner is not None:
            graph.children[node.id] = inner
        return node

    def sub(self, ref: identifier_pb2.Identifier, stack: tuple[tuple[str, ...], ...]) -> Graph | None:
        compiled = self.subs.get(_key(ref))
        if compiled is None or _key(ref) in stack or len(stack) >= MAX_DEPTH:
            return None
        return self.graph(compiled, (*stack, _key(ref)))

    def branch(self, proto: workflow_pb2.Node, stack: tuple[tuple[str, ...], ...]) -> Graph:
        graph = Graph(f"{proto.id} (branch)")
        if len(stack) >= MAX_DEPTH:
            return graph
        block = proto.branch_node.if_else
        cases = [("if", block.case)] + [("elif", b) for b in block.other]
        for word, case in cases:
            if case.HasField("then_node"):
                node = self.node(graph, case.then_node, (*stack, ("branch", proto.id)))
                node.condition = f"{word} {condition_text(case.condition)}"
        if block.HasField("else_node"):
            self.node(graph, block.else_node, (*stack, ("branch", proto.id))).condition = "else"
        return graph

    def describe(self, proto: workflow_pb2.Node) -> DagNode:
        node_id = proto.id
        if node_id == START:
            return DagNode(node_id, "start", "start", "start-node: the workflow's inputs")
        if node_id == END:
            return DagNode(node_id, "end", "end", "end-node: the workflow's outputs")
        target = proto.WhichOneof("target")
        fallback = proto.metadata.name or node_id
        if target == "task_node":
            ref = proto.task_node.reference_id
            task = self.tasks.get(_key(ref))
            array = task is not None and task.type in ("container_array", "k8s-array", "array")
            kind = "array" if array else "task"
            return DagNode(node_id, kind, _short(ref.name) or fallback, f"{kind} {ref.name}")
        if target == "workflow_node":
            wn = proto.workflow_node
            if wn.HasField("launchplan_ref"):
                name = wn.launchplan_ref.name
                return DagNode(node_id, "launchplan", _short(name) or fallback, f"launch plan {name}")
            name = wn.sub_workflow_ref.name
            return DagNode(node_id, "subworkflow", _short(name) or fallback, f"subworkflow {name}")
        if target == "branch_node":
            return DagNode(node_id, "branch", fallback, "branch", cases=_cases(proto.branch_node.if_else))
        if target == "gate_node":
            return DagNode(node_id, "gate", fallback, f"gate: {gate_text(proto.gate_node)}")
        if target == "array_node":
            sub = proto.array_node.node
            if sub.WhichOneof("target") == "task_node":
                name = sub.task_node.reference_id.name
                return DagNode(node_id, "array", _short(name) or fallback, f"array (map task) {name}")
            inner = self.describe(sub)
            return DagNode(node_id, "array", inner.label, f"array of {inner.title}")
        return DagNode(node_id, "task", fallback, target or "node")


def _branch_inputs(graph: Graph, upstream: Mapping[str, compiler_pb2.ConnectionSet.IdList]) -> None:
    """Edges into a branch node from what its cases read: the compiler lists them for the then-nodes only."""
    have = set(graph.edges)
    for node_id, node in graph.nodes.items():
        inner = graph.children.get(node_id)
        if node.kind != "branch" or inner is None:
            continue
        for child in _all_ids(inner):
            for up in upstream[child].ids if child in upstream else ():
                if up in graph.nodes and up != node_id and (up, node_id) not in have:
                    have.add((up, node_id))
                    graph.edges.append((up, node_id))


def _all_ids(graph: Graph) -> list[str]:
    """The node ids of a branch's inner graph, and of the branches inside it."""
    out = list(graph.nodes)
    for node_id, node in graph.nodes.items():
        if node.kind == "branch" and node_id in graph.children:
            out += _all_ids(graph.children[node_id])
    return out


def _fallback_edges(graph: Graph, protos: list[workflow_pb2.Node]) -> None:
    """Edges of an uncompiled template: ``upstream_node_ids`` and the promises in the bindings."""
    seen: set[tuple[str, str]] = set()
    for proto in protos:
        ups = list(proto.upstream_node_ids)
        for binding in proto.inputs:
            ups.extend(_promise_nodes(binding.binding))
        for up in ups:
            edge = (up or START, proto.id)
            if edge[0] in graph.nodes and edge not in seen:
                seen.add(edge)
                graph.edges.append(edge)


def _promise_nodes(binding: literals_pb2.BindingData) -> list[str]:
    kind = binding.WhichOneof("value")
    if kind == "promise":
        return [binding.promise.node_id]
    if kind == "collection":
        return [n for b in binding.collection.bindings for n in _promise_nodes(b)]
    if kind == "map":
        return [n for b in binding.map.bindings.values() for n in _promise_nodes(b)]
    return []


def build_graph(
    closure: compiler_pb2.CompiledWorkflowClosure, workflow: identifier_pb2.Identifier | None = None
) -> Graph:
    """The graph of the closure's primary workflow, or of its subworkflow ``workflow`` (else LookupError)."""
    reader = _Reader(closure)
    if workflow is None or _key(workflow) == _key(closure.primary.template.id):
        compiled = closure.primary
    else:
        found = reader.subs.get(_key(workflow))
        if found is None:
            raise LookupError(f"workflow {workflow.name} (version {workflow.version}) is not in the closure")
        compiled = found
    return reader.graph(compiled, (_key(compiled.template.id),))


def _operand(op: condition_pb2.Operand) -> str:
    kind = op.WhichOneof("val")
    if kind == "var":
        return op.var.lstrip(".")  # flytekit writes a workflow input as ".x"
    if kind == "primitive":
        value = op.primitive.WhichOneof("value")
        return repr(getattr(op.primitive, value)) if value else "?"
    if kind == "scalar":
        value = op.scalar.WhichOneof("value")
        if value == "primitive":
            inner = op.scalar.primitive.WhichOneof("value")
            return repr(getattr(op.scalar.primitive, inner)) if inner else "?"
        return "None" if value == "none_type" else f"<{value}>"
    return "?"


def condition_text(expr: condition_pb2.BooleanExpression) -> str:
    """``x > 3 and y == 'a'``: a branch case's condition as text."""
    kind = expr.WhichOneof("expr")
    if kind == "comparison":
        c = expr.comparison
        return f"{_operand(c.left_value)} {_OPS.get(c.operator, '?')} {_operand(c.right_value)}"
    if kind == "conjunction":
        c = expr.conjunction
        word = "and" if c.operator == condition_pb2.ConjunctionExpression.AND else "or"
        return f"({condition_text(c.left_expression)} {word} {condition_text(c.right_expression)})"
    return "?"


def _cases(block: workflow_pb2.IfElseBlock) -> tuple[str, ...]:
    out = [f"if {condition_text(block.case.condition)}: {block.case.then_node.id}"]
    out += [f"elif {condition_text(b.condition)}: {b.then_node.id}" for b in block.other]
    if block.HasField("else_node"):
        out.append(f"else: {block.else_node.id}")
    elif block.HasField("error"):
        out.append(f"else: fail ({block.error.message})")
    return tuple(out)


def gate_text(gate: workflow_pb2.GateNode) -> str:
    kind = gate.WhichOneof("condition")
    if kind == "approve":
        return f"approval {gate.approve.signal_id}"
    if kind == "signal":
        return f"signal {gate.signal.signal_id}"
    if kind == "sleep":
        return f"sleep {dur(gate.sleep.duration) or '0 s'}"
    return "gate"


# -- drawing -------------------------------------------------------------------------------------------------


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def _size(node: DagNode) -> tuple[float, float]:
    if node.kind in ("start", "end"):
        return (END_W, END_H)
    extra = (1 if node.condition else 0) + (1 if node.cases else 0)
    return (NODE_W, NODE_H + LINE_H * extra)


def _kind(node: DagNode, key: str, dynamic: Mapping[str, Graph]) -> str:
    return "dynamic" if key in dynamic else node.kind


def _name(node: DagNode, kind: str, phase: str) -> str:
    """The accessible name: ``node n1 (task t1): SUCCEEDED``."""
    what = f"{_KIND_TEXT.get(kind, kind)} {node.label}"
    return f"node {node.id} ({what})" + (f": {phase}" if phase else "")


class _Renderer:
    def __init__(
        self,
        phases: Mapping[str, str],
        links: Mapping[str, str],
        dynamic: Mapping[str, Graph],
        prefix: str,
        link_rows: bool,
    ) -> None:
        self.phases, self.links, self.dynamic = phases, links, dynamic
        self.prefix = prefix
        self.link_rows = link_rows
        self.count = 0

    def target(self, key: str, *, row: bool = True) -> str | None:
        """Where node ``key`` links (an in-page fragment or a safe URL), or None. ``row`` False: no default
        row link (the start and end nodes have no row)."""
        url = self.links.get(key) or (f"#node-{key}" if row and self.link_rows else "")
        if not url:
            return None
        return url if url.startswith("#") else href(url)

    def new_id(self) -> str:
        self.count += 1
        return self.prefix if self.count == 1 else f"{self.prefix}-{self.count - 1}"

    def graph(self, graph: Graph, title: str, path: str) -> str:
        gid = self.new_id()
        keys = {n: f"{path}{n}" for n in graph.nodes}
        ids = list(graph.nodes)
        lay = layout(ids, {n: _size(graph.nodes[n]) for n in ids}, graph.edges)
        inner: dict[str, Graph] = {}
        for n in lay.order:
            sub = self.dynamic.get(keys[n]) or graph.children.get(n)
            if sub is not None:
                inner[n] = sub
        anchors = {n: f"{gid}-in{k}" for k, n in enumerate(inner)}
        svg = self.svg(graph, lay, title, gid, keys, anchors)
        listing = self.listing(graph, lay, keys, anchors)
        nested = "".join(
            self.details(graph.nodes[n], keys[n], inner[n], anchors[n]) for n in lay.order if n in inner
        )
        return f"<div class='dag-graph'><div class='dag-scroll'>{svg}</div>{listing}{nested}</div>"

    def details(self, node: DagNode, key: str, sub: Graph, anchor: str) -> str:
        kind = _kind(node, key, self.dynamic)
        phase = self.phases.get(key, "")
        summary = e(_name(node, kind, phase))
        if node.cases:
            summary += e(" \u00b7 " + "; ".join(node.cases))
        body = self.graph(sub, f"inner graph of node {node.id} ({sub.name})", f"{key}/")
        return f"<details class='dag-sub' id='{e(anchor)}'><summary>{summary}</summary>{body}</details>"

    def svg(
        self,
        graph: Graph,
        lay: Layout,
        title: str,
        gid: str,
        keys: Mapping[str, str],
        anchors: Mapping[str, str],
    ) -> str:
        real = [n for n in graph.nodes.values() if n.kind not in ("start", "end")]
        counts = Counter(self.phases.get(keys[n.id], "") for n in real)
        if self.phases:
            by_phase = ", ".join(
                f"{c} {p or 'not started'}" for p, c in sorted(counts.items(), key=_last_unset)
            )
            desc = f"{len(real)} nodes ({by_phase}), {len(lay.paths)} edges"
        else:
            desc = f"{len(real)} nodes, {len(lay.paths)} edges"
        w, h = _num(lay.width), _num(lay.height)
        parts = [
            f"<svg xmlns='http://www.w3.org/2000/svg' class='dag' role='img' width='{w}' height='{h}' "
            f"viewBox='0 0 {w} {h}' aria-labelledby='{gid}-t {gid}-d'>",
            f"<title id='{gid}-t'>{e(title or f'{graph.name}: workflow graph')}</title>",
            f"<desc id='{gid}-d'>{e(desc)}</desc>",
            f"<defs><marker id='{gid}-arrow' viewBox='0 0 10 10' refX='9' refY='5' markerWidth='7' "
            "markerHeight='7' orient='auto-start-reverse'><path d='M0,0L10,5L0,10z' class='dag-head'/>"
            "</marker></defs><g class='dag-edges'>",
        ]
        parts += [f"<path d='{d}' marker-end='url(#{gid}-arrow)'/>" for _, _, d in lay.paths]
        parts.append("</g><g class='dag-nodes'>")
        for n in lay.order:  # the keyboard's order: column by column, top to bottom
            parts.append(self.box(graph.nodes[n], keys[n], lay, anchors.get(n)))
        parts.append("</g></svg>")
        return "".join(parts)

    def box(self, node: DagNode, key: str, lay: Layout, anchor: str | None) -> str:
        b = lay.boxes[node.id]
        kind = _kind(node, key, self.dynamic)
        phase = self.phases.get(key, "")
        group = phase_tone(phase) if phase else "none"
        cls = f"dag-node k-{kind} p-{group}"
        x, y = b.x, b.y
        if node.kind in ("start", "end"):
            inner = (
                f"<rect x='{_num(x)}' y='{_num(y)}' width='{_num(b.w)}' height='{_num(b.h)}' rx='14'/>"
                f"<text x='{_num(x + b.w / 2)}' y='{_num(y + 18)}' text-anchor='middle'>"
                f"{e(_GLYPH[kind])} {e(node.label)}</text>"
            )
            safe = self.target(key, row=False)
            if safe is None:
                return f"<g class='{cls}' aria-hidden='true'><title>{e(node.title)}</title>{inner}</g>"
            return f"<a class='{cls}' href='{e(safe)}'><title>{e(node.title)}</title>{inner}</a>"
        lines = [
            f"<text class='dag-l' x='{_num(x + 10)}' y='{_num(y + 18)}'>{e(_clip(node.label, 24))}</text>"
        ]
        meta = f"{_GLYPH[kind]} {_KIND_TEXT.get(kind, kind)} \u00b7 {node.id}"
        extra = [meta]
        if node.condition:
            extra.append(node.condition)
        if node.cases:
            extra.append(f"{len(node.cases)} cases")
        if phase:
            extra.append(phase)
        for k, text in enumerate(extra):
            cls_line = "dag-p" if (phase and k == len(extra) - 1) else "dag-k"
            lines.append(
                f"<text class='{cls_line}' x='{_num(x + 10)}' y='{_num(y + 33 + LINE_H * k)}'>"
                f"{e(_clip(text, SMALL_CHARS))}</text>"
            )
        title_text = f"{node.id}: {node.title}"
        if node.condition:
            title_text += f" ({node.condition})"
        if node.cases:
            title_text += "\n" + "\n".join(node.cases)
        if phase:
            title_text += f"\n{phase}"
        safe = self.target(key)
        target = f" href='{e(safe)}'" if safe is not None else ""
        out = (
            f"<a class='{cls}'{target} aria-label='{e(_name(node, kind, phase))}'>"
            f"<title>{e(title_text)}</title>"
            f"<rect x='{_num(x)}' y='{_num(y)}' width='{_num(b.w)}' height='{_num(b.h)}' rx='6'/>"
            + "".join(lines)
            + "</a>"
        )
        if anchor is not None:
            cx, cy = x + b.w - 14, y + 12
            out += (
                f"<a class='dag-open' href='#{e(anchor)}' aria-label='{e(f'inner graph of node {node.id}')}'>"
                f"<title>show the inner graph</title>"
                f"<circle cx='{_num(cx)}' cy='{_num(cy)}' r='8'/>"
                f"<text x='{_num(cx)}' y='{_num(cy + 4)}' text-anchor='middle'>+</text></a>"
            )
        return out

    def listing(self, graph: Graph, lay: Layout, keys: Mapping[str, str], anchors: Mapping[str, str]) -> str:
        ups: dict[str, list[str]] = {n: [] for n in graph.nodes}
        for u, v in graph.edges:
            if u in ups and v in ups and u not in ups[v]:
                ups[v].append(u)
        items = []
        for n in lay.order:
            node = graph.nodes[n]
            if node.kind in ("start", "end"):
                continue
            key = keys[n]
            kind = _kind(node, key, self.dynamic)
            phase = self.phases.get(key, "")
            text = _name(node, kind, phase)
            after = f"; after {', '.join(ups[n])}" if ups[n] else ""
            extra = f"; {node.condition}" if node.condition else ""
            extra += f"; cases: {'; '.join(node.cases)}" if node.cases else ""
            safe = self.target(key)
            name = f"<a href='{e(safe)}'>{e(text)}</a>" if safe is not None else e(text)
            inner = f" (<a href='#{e(anchors[n])}'>inner graph</a>)" if n in anchors else ""
            items.append(f"<li>{name}{inner}{e(after)}{e(extra)}</li>")
        return (
            "<details class='dag-list'><summary>The graph as a list</summary>"
            f"<ol>{''.join(items)}</ol></details>"
        )


def _last_unset(item: tuple[str, int]) -> tuple[bool, str]:
    return (item[0] == "", item[0])


def _num(v: float) -> str:
    r = round(v, 1)
    return str(int(r)) if r == int(r) else str(r)


def render_dag(
    graph: Graph,
    *,
    phases: Mapping[str, str] | None = None,
    links: Mapping[str, str] | None = None,
    dynamic: Mapping[str, Graph] | None = None,
    title: str = "",
    id_prefix: str = "dag",
    link_rows: bool = True,
) -> str:
    """The graph as an HTML fragment: the SVG, the list, the inner graphs (keys: see the module docstring).

    ``title`` is the SVG's ``<title>`` (its accessible name; default ``<workflow name>: workflow graph``).
    ``id_prefix`` starts the element ids of the fragment (``dag-t``, ``dag-in0``, ``dag-1-t``...): give
    another one when two graphs share a page. ``link_rows`` False: a node not in ``links`` links nothing
    (instead of ``#node-<key>``). Node links (the Tab order) and the list come column by column, top to
    bottom: a topological order that follows the picture."""
    renderer = _Renderer(phases or {}, links or {}, dynamic or {}, id_prefix, link_rows)
    return f"<figure class='dag-figure'>{renderer.graph(graph, title, '')}</figure>"


# Colours are the page theme's custom properties (console_html: light and dark sets, text >= 4.5:1 on fills).
DAG_CSS = (
    ".dag-figure{margin:.5em 0}.dag-scroll{overflow:auto;max-height:80vh;max-width:100%}"
    "svg.dag{display:block;font-family:system-ui,sans-serif}"
    ".dag-edges path{fill:none;stroke:var(--muted);stroke-width:1.4}.dag-head{fill:var(--muted)}"
    ".dag-node rect{fill:var(--surface);stroke:var(--border);stroke-width:1.5}"
    ".dag-node text{fill:var(--fg);font-size:11px}.dag-node text.dag-l{font-size:12.5px;font-weight:600}"
    ".dag-node text.dag-p{font-weight:600}"
    ".p-ok rect{fill:var(--ok-bg);stroke:var(--ok)}.p-ok text.dag-p{fill:var(--ok)}"
    ".p-run rect{fill:var(--run-bg);stroke:var(--run);stroke-dasharray:5 3}.p-run text.dag-p{fill:var(--run)}"
    ".p-fail rect{fill:var(--fail-bg);stroke:var(--fail);stroke-width:2.5}"
    ".p-fail text.dag-p{fill:var(--fail)}"
    ".p-idle rect{fill:var(--idle-bg);stroke:var(--idle)}.p-idle text.dag-p{fill:var(--idle)}"
    "a.dag-node:focus,a.dag-open:focus{outline:none}"
    "a.dag-node:focus rect,a.dag-node:hover rect{stroke:var(--focus);stroke-width:3}"
    ".dag-open circle{fill:var(--bg);stroke:var(--border)}"
    ".dag-open text{fill:var(--fg);font-size:13px;font-weight:600}"
    "a.dag-open:focus circle,a.dag-open:hover circle{stroke:var(--focus);stroke-width:3}"
    ".dag-sub{margin:.4em 0 .4em 1em}.dag-list ol{margin:.2em 0}"
)
register_css("dag", DAG_CSS)

__all__ = ["DAG_CSS", "KINDS", "DagNode", "Graph", "build_graph", "render_dag"]
