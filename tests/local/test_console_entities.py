"""The console's task, workflow and launch plan pages on a real local backend: a package registered twice
(v1, v2) by real `pyflyte register`, executions run by the backend, the pages fetched over HTTP. Interfaces
(types, defaults, descriptions from docstrings), task settings, the static DAG (well-formed SVG, accessible
names, every node linking to what it runs or to its row), versions newest first with the current one
highlighted and paged, recent executions of the entity or of one version, 404s, hostile names and values."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from html import unescape
from urllib.parse import quote

import pytest
from console_site import HOSTILE, Site, check_page, same_origin, site
from flyteidl.admin import common_pb2, task_pb2
from flyteidl.core import identifier_pb2

pytestmark = [pytest.mark.flytekit, pytest.mark.timeout(180)]

FLOWS = '''
from flytekit import LaunchPlan, conditional, task, workflow


@task(retries=2, cache=True, cache_version="1.0")
def double(x: int) -> int:
    """Doubles a number.

    :param x: the number to double
    """
    return x * 2


@task
def shout(s: str) -> str:
    return s.upper()


@workflow
def inner(x: int) -> int:
    return double(x=x)


inner_lp = LaunchPlan.get_or_create(inner, name="flows.wf.inner_lp")


@workflow
def pipeline(x: int = 3, s: str = HOSTILE_DEFAULT) -> int:
    a = double(x=x)
    b = inner(x=a)
    c = inner_lp(x=b)
    d = conditional("big").if_(c > 10).then(double(x=c)).else_().then(inner(x=c))
    shout(s=s)
    return d


fixed = LaunchPlan.get_or_create(
    pipeline, name="flows.wf.fixed", fixed_inputs={"s": "fixed <s>"}, default_inputs={"x": 5}
)
'''.replace("HOSTILE_DEFAULT", repr(HOSTILE))
DEV = "/console/projects/flytesnacks/domains/development"


@pytest.fixture(scope="module")
def s(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    with site(tmp_path_factory.mktemp("entities"), {"wf.py": FLOWS}, versions=("v1", "v2")) as built:
        built.launch("flows.wf.pipeline", "v1")
        built.launch("flows.wf.fixed", "v2")
        assert set(built.wait_all().values()) == {4}, "both executions succeed"  # SUCCEEDED
        yield built


def section(body: str, heading_id: str) -> str:
    """The page from ``<h2 id='heading_id'>`` to the next ``<h2``."""
    start = body.index(f"<h2 id='{heading_id}'>")
    end = body.find("<h2", start + 1)
    return body[start : end if end > 0 else len(body)]


def svgs(body: str) -> list[ET.Element]:
    """Every SVG of the page, parsed as XML (well-formed, or this fails)."""
    return [ET.fromstring(m) for m in re.findall(r"<svg\b.*?</svg>", body, re.S)]


SVG = "{http://www.w3.org/2000/svg}"


def node_links(svg: ET.Element) -> dict[str, str]:
    """The SVG's node links: accessible name (``node n0 (task double)``) -> href."""
    out = {}
    for a in svg.iter(f"{SVG}a"):
        name = a.attrib.get("aria-label", "")
        if name.startswith("node "):
            out[name] = a.attrib.get("href", "")
    return out


# --- the workflow page ----------------------------------------------------------------------------------


def test_workflow_version_page(s: Site) -> None:
    body = s.ok(f"{DEV}/workflow/flows.wf.pipeline/version/v1")
    assert "<h1>Workflow flows.wf.pipeline</h1>" in body and "<p>version v1 &middot; registered 2" in body
    # inputs with types and the defaults of its default launch plan (the hostile default as text)
    inputs = section(body, "inputs")
    assert "<th scope='col'>default</th>" in inputs
    assert "<tr><th>x</th><td>int</td><td><code>3</code></td></tr>" in inputs
    assert "<tr><th>s</th><td>str</td><td><code>&#x27;x\\&#x27;&quot;&gt;&lt;script&gt;" in inputs
    assert "<tr><th>o0</th><td>int</td></tr>" in section(body, "outputs")
    # the static DAG: no phases, each node links what it runs
    graph = section(body, "graph")
    top = svgs(graph)[0]
    assert top.attrib["role"] == "img" and top.attrib["aria-labelledby"]
    labelled = top.attrib["aria-labelledby"].split()
    assert {el.attrib.get("id") for el in top.iter() if el.attrib.get("id")} >= set(labelled)
    links = node_links(top)
    assert links["node n0 (task double)"] == f"{DEV}/task/flows.wf.double/version/v1"
    assert links["node n1 (subworkflow inner)"] == f"{DEV}/workflow/flows.wf.inner/version/v1"
    assert links["node n2 (launch plan inner_lp)"] == f"{DEV}/launch_plan/flows.wf.inner_lp/version/v1"
    branch = [k for k in links if k.startswith("node n3 (branch")]
    assert branch and links[branch[0]] == "#node-n3"  # its row in the node table
    assert not any(":" in name.split(")")[-1] for name in links)  # no phase on a registered workflow
    # the node table: the rows the DAG links to
    assert "<tr id='node-n3'><th scope='row'>n3</th><td>branch</td>" in graph
    assert (
        f"<tr id='node-n2'><th scope='row'>n2</th><td>launch plan</td><td><a href='{DEV}/launch_plan/"
        "flows.wf.inner_lp/version/v1'>flows.wf.inner_lp</a></td><td>n1</td></tr>"
    ) in graph
    # nested graphs (the subworkflow, the branch's cases) link what they run, or their top-level row
    nested = {name: url for svg in svgs(graph)[1:] for name, url in node_links(svg).items()}
    assert nested, "the subworkflow and the branch have inner graphs"
    assert set(nested.values()) <= {
        f"{DEV}/task/flows.wf.double/version/v1",
        f"{DEV}/workflow/flows.wf.inner/version/v1",
        "#node-n1",
        "#node-n3",
    }, nested
    # the executions of this version: the run of v1 (the fixed launch plan ran v2)
    runs = section(body, "executions")
    assert s.executions["flows.wf.pipeline"][0] in runs and s.executions["flows.wf.fixed"][0] not in runs
    assert "Executions of this workflow (version v1), newest first" in runs


def test_links_of_entity_pages_open(s: Site) -> None:
    """Every same-origin link of the entity pages opens (their fragment links land: check_page)."""
    seen: set[str] = set()
    for path in [
        f"{DEV}/workflow/flows.wf.pipeline/version/v1",
        f"{DEV}/launchPlans/flows.wf.fixed",
        f"{DEV}/tasks/flows.wf.double",
    ]:
        checker = check_page(s.ok(path))
        own = {unescape(h) for h in checker.hrefs if same_origin(h)} - seen
        for h in sorted(own):
            status, body, _ = s.get(h)  # execution pages too: a branch case that never ran among them
            assert status == 200, (path, h, status, body[-500:])
        seen |= own
    assert len(seen) > 15


# --- versions -------------------------------------------------------------------------------------------


def versions(body: str) -> list[tuple[str, bool]]:
    """The versions table: (version, highlighted) in order."""
    rows = re.findall(
        r"<tr( class='hl' aria-current='true')?><th scope='row'><a href='[^']*/version/([^']+)'>",
        section(body, "versions"),
    )
    return [(v, bool(hl)) for hl, v in rows]


def test_versions(s: Site) -> None:
    body = s.ok(f"{DEV}/workflow/flows.wf.pipeline/version/v1")
    assert versions(body) == [("v2", False), ("v1", True)]
    assert "v1</a> <b>(this version)</b>" in body and "v2</a> <span class='muted'>(newest)</span>" in body
    # the entity's page is its newest version, highlighted
    newest = s.ok(f"{DEV}/workflows/flows.wf.pipeline")
    assert "<p>newest version v2 &middot; registered" in newest
    assert versions(newest) == [("v2", True), ("v1", False)]
    # paged: one per page, the highlight where the version is, links back to the newest
    first = s.ok(f"{DEV}/workflow/flows.wf.pipeline/version/v1?limit=1")
    assert versions(first) == [("v2", False)]
    more = re.search(r"<a href='([^']+)'>more versions</a>", first)
    assert more is not None
    second = s.ok(unescape(more.group(1)))
    assert unescape(more.group(1)).endswith("#versions") and versions(second) == [("v1", True)]
    assert f"<a href='{DEV}/workflows/flows.wf.pipeline/version/v1#versions'>newest versions</a>" in second
    for word in ("task", "tasks"):
        assert [v for v, _ in versions(s.ok(f"{DEV}/{word}/flows.wf.double/version/v2"))] == ["v2", "v1"]


# --- tasks and launch plans -----------------------------------------------------------------------------


def test_task_page(s: Site) -> None:
    body = s.ok(f"{DEV}/task/flows.wf.double/version/v1")
    assert "<h1>Task flows.wf.double</h1>" in body
    inputs = section(body, "inputs")
    assert "<th scope='col'>description</th>" in inputs and "default" not in inputs  # tasks have none
    assert "<tr><th>x</th><td>int</td><td>the number to double</td></tr>" in inputs
    runs = section(body, "runs")
    assert "<tr><th>type</th><td>python-task</td></tr>" in runs
    assert "pyflyte-execute" in runs and "<tr><th>retries</th><td>2</td></tr>" in runs
    assert "<tr><th>cache</th><td>on, version 1.0</td></tr>" in runs
    # executions of a task: the runs of the task on its own (none here)
    assert "no executions yet" in section(body, "executions")


def test_launch_plan_page(s: Site) -> None:
    body = s.ok(f"{DEV}/launch_plan/flows.wf.fixed/version/v2")
    assert "<h1>Launch plan flows.wf.fixed</h1>" in body and re.search(r"<p>state (IN)?ACTIVE &middot;", body)
    assert (
        f"runs <a href='{DEV}/workflow/flows.wf.pipeline/version/v2'>workflow flows.wf.pipeline @ v2</a>"
        in body
    )
    inputs = section(body, "inputs")
    assert "<tr><th>x</th><td>int</td><td><code>5</code></td></tr>" in inputs
    fixed = section(body, "fixed-inputs")
    assert "<tr><th>s</th><td><code>&#x27;fixed &lt;s&gt;&#x27;</code></td></tr>" in fixed
    assert "<tr><th>o0</th><td>int</td></tr>" in section(body, "outputs")
    graph = section(body, "graph")  # the DAG of its workflow, at the workflow's version
    assert node_links(svgs(graph)[0])["node n0 (task double)"] == f"{DEV}/task/flows.wf.double/version/v2"
    assert s.executions["flows.wf.fixed"][0] in section(body, "executions")
    # a required input without a default
    inner = section(s.ok(f"{DEV}/launchPlans/flows.wf.inner_lp"), "inputs")
    assert "<tr><th>x</th><td>int</td><td><span class='muted'>required</span></td></tr>" in inner


def test_entity_executions_link_to_the_filtered_project_page(s: Site) -> None:
    body = s.ok(f"{DEV}/workflows/flows.wf.pipeline")
    runs = section(body, "executions")
    assert "Executions of this workflow (any version), newest first" in runs
    assert all(s.executions[lp][0] in runs for lp in ("flows.wf.pipeline", "flows.wf.fixed"))
    url = f"{DEV}/executions?by=workflow&amp;entity=flows.wf.pipeline"
    assert f"<a href='{url}'>executions whose workflow name contains flows.wf.pipeline</a>" in runs
    listed = s.ok(unescape(url))
    assert all(s.executions[lp][0] in listed for lp in ("flows.wf.pipeline", "flows.wf.fixed"))


def test_entity_lists(s: Site) -> None:
    for word, names in [
        ("tasks", ["flows.wf.double", "flows.wf.shout"]),
        ("workflows", ["flows.wf.inner", "flows.wf.pipeline"]),
        ("launchPlans", ["flows.wf.fixed", "flows.wf.inner", "flows.wf.inner_lp", "flows.wf.pipeline"]),
    ]:
        body = s.ok(f"{DEV}/{word}")
        assert re.findall(rf"<a href='{DEV}/{word}/([^']+)'>", body) == names, word
        assert s.ok(f"/console/projects/flytesnacks/{word}?domain=development") == body


# --- errors and hostile names ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "says"),
    [
        (f"{DEV}/task/flows.wf.double/version/v9", "does not exist"),
        (f"{DEV}/workflows/flows.wf.nope", "workflow [flytesnacks/development/flows.wf.nope] does not exist"),
        (
            f"{DEV}/launchPlans/flows.wf.nope",
            "launch plan [flytesnacks/development/flows.wf.nope] does not exist",
        ),
        (f"{DEV}/widgets/flows.wf.double", "no console page at"),
        ("/console/projects/nope/domains/development/tasks/flows.wf.double", "project [nope] does not exist"),
        (f"{DEV}/workflows/flows.wf.pipeline/version/v1/extra", "no console page at"),
    ],
)
def test_not_found(s: Site, path: str, says: str) -> None:
    status, body, _ = s.get(path)
    assert status == 404 and says in body, body


def test_bad_paging(s: Site) -> None:
    status, body, _ = s.get(f"{DEV}/workflows/flows.wf.pipeline?token=nope")
    assert status == 400 and "invalid page token" in body


def test_hostile_task(s: Site) -> None:
    """A task registered under a name and with a description full of markup: listed, linked, shown as text."""
    ident = identifier_pb2.Identifier(
        resource_type=identifier_pb2.TASK, project="flytesnacks", domain="development",
        name="flows.wf.double", version="v1",
    )  # fmt: skip
    template = s.stub.GetTask(
        common_pb2.ObjectGetRequest(id=ident), timeout=10
    ).closure.compiled_task.template
    template.id.name = "a/b " + HOSTILE
    template.id.version = "v-hostile"  # versions must be URL safe
    template.interface.inputs.variables["x"].description = HOSTILE
    s.stub.CreateTask(task_pb2.TaskCreateRequest(id=template.id, spec=task_pb2.TaskSpec(template=template)))
    name_url = f"{DEV}/tasks/{quote(template.id.name, safe='')}"
    assert f"href='{name_url}'" in s.ok(f"{DEV}/tasks")
    body = s.ok(name_url)  # check_page: no element, handler or link that escaping let through
    assert "<h1>Task a/b x&#x27;&quot;&gt;&lt;script&gt;" in body
    assert f"href='{name_url}/version/v-hostile'" in body
    assert "<td>x&#x27;&quot;&gt;&lt;script&gt;alert`1`" in section(body, "inputs")
    assert versions(s.ok(f"{name_url}/version/v-hostile")) == [("v-hostile", True)]
