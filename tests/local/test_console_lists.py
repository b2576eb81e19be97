"""The console's projects page and project page on a real local backend: a package registered by real
`pyflyte register`, executions run by the backend (workflows that succeed, one that fails, a task run on its
own), and the pages fetched over HTTP -- filters (phase, entity name) through the GET form's parameters,
paging that keeps them, 400s and 404s, hostile filter values, the frame's accessibility -- plus the theme's
contrast, computed from the palettes the pages use."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html import unescape
from urllib.parse import parse_qs, quote, urlencode, urlsplit

import pytest
from console_site import HOSTILE, Site, site
from flyteidl.core import execution_pb2 as core_execution_pb2
from flyteidl.core import identifier_pb2

from flyte_ls.local.console_html import (
    BACKGROUNDS,
    NODE_PHASE,
    TASK_PHASE,
    TEXT_COLOURS,
    THEME,
    TONES,
    WF_PHASE,
    phase_tone,
)
from flyte_ls.local.console_html import page as render_page

pytestmark = [pytest.mark.flytekit, pytest.mark.timeout(180)]

FLOWS = """
from flytekit import task, workflow


@task
def double(x: int) -> int:
    return x * 2


@task
def boom(x: int) -> int:
    if x > 0:
        raise ValueError(f"boom {x}")
    return x


@workflow
def ok(x: int = 3) -> int:
    return double(x=x)


@workflow
def bad(x: int = 1) -> int:
    return boom(x=x)
"""
BASE = "/console/projects/flytesnacks/domains/development/executions"
N_OK, N_BAD = 5, 2


@pytest.fixture(scope="module")
def s(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    with site(tmp_path_factory.mktemp("lists"), {"wf.py": FLOWS}) as built:
        for _ in range(N_OK):
            built.launch("flows.wf.ok", "v1")
        for _ in range(N_BAD):
            built.launch("flows.wf.bad", "v1")
        built.launch("flows.wf.double", "v1", identifier_pb2.TASK, x=4)  # a task run on its own
        phases = built.wait_all()
        wf = core_execution_pb2.WorkflowExecution
        assert [phases[n] for n in built.executions["flows.wf.ok"]] == [wf.SUCCEEDED] * N_OK
        assert [phases[n] for n in built.executions["flows.wf.bad"]] == [wf.FAILED] * N_BAD
        yield built


def listed(body: str) -> list[str]:
    """The execution names of a page's table, in order."""
    return re.findall(r"<tr><th scope='row'><a href='[^']*/executions/([^'/]+)'>", body)


def next_link(body: str, text: str = "next page") -> str | None:
    m = re.search(rf"<a href='([^']+)'>{text}</a>", body)
    return unescape(m.group(1)) if m else None


# --- pages ----------------------------------------------------------------------------------------------


def test_projects_page(s: Site) -> None:
    body = s.ok("/console")
    assert "<caption class='vh'>Projects</caption>" in body and "<th scope='col'>project</th>" in body
    assert "<th scope='row'><a href='/console/projects/flytesnacks'>flytesnacks</a></th>" in body
    for domain in ("development", "staging", "production"):
        assert f"<a href='/console/projects/flytesnacks/domains/{domain}/executions'>{domain}</a>" in body
    assert s.ok("/console/select-project") == body


def test_project_page(s: Site) -> None:
    """The bare project URL is the project page of its development domain, as the domain URLs are."""
    body = s.ok("/console/projects/flytesnacks")
    assert "<h1>flytesnacks / development: executions</h1>" in body
    assert "<nav aria-label='domains'>" in body and "<b aria-current='page'>development</b>" in body
    assert "<a href='/console/projects/flytesnacks/domains/staging/executions'>staging</a>" in body
    for word in ("tasks", "workflows", "launchPlans"):
        assert f"<a href='/console/projects/flytesnacks/domains/development/{word}'>{word}</a>" in body
    names = set(listed(body))
    assert names == {n for ns in s.executions.values() for n in ns}
    for same in (
        BASE,
        "/console/projects/flytesnacks/domains/development",
        "/console/projects/flytesnacks/executions?domain=development",
    ):
        assert set(listed(s.ok(same))) == names, same
    staging = s.ok("/console/projects/flytesnacks/executions?domain=staging")
    assert "<b aria-current='page'>staging</b>" in staging and "no executions yet" in staging
    # newest first
    created = re.findall(r"<td class='t'>(\d{4}-[^<]+)</td>", body)
    assert created == sorted(created, reverse=True)


def test_the_filter_form(s: Site) -> None:
    body = s.ok(f"{BASE}?phase=FAILED&by=workflow&entity=bad&limit=7")
    form = re.search(r"<form class='filters' method='get' action='([^']+)'[^>]*>(.*?)</form>", body)
    assert form is not None and form.group(1) == BASE
    fields = form.group(2)
    assert "<option value='FAILED' selected>FAILED</option>" in fields
    assert "<option value='workflow' selected>workflow</option>" in fields
    assert "name='entity' type='search' value='bad'" in fields and "value='7'" in fields
    assert "name='token'" not in fields  # a new filter starts at the first page
    assert "<button type='submit'>Filter</button>" in fields
    assert (
        "<caption>Executions, newest first (phase FAILED, workflow name containing &#x27;bad&#x27;)" in body
    )


# --- filters --------------------------------------------------------------------------------------------


def test_filter_by_phase(s: Site) -> None:
    body = s.ok(f"{BASE}?phase=FAILED")
    assert set(listed(body)) == set(s.executions["flows.wf.bad"])
    assert "<b>FAILED</b>" in body and f"<a href='{BASE}?phase=SUCCEEDED'>SUCCEEDED</a>" in body
    assert f"<a href='{BASE}'>all</a>" in body
    succeeded = set(listed(s.ok(f"{BASE}?phase=succeeded")))  # the phase in any case
    assert succeeded == set(s.executions["flows.wf.ok"]) | set(s.executions["flows.wf.double"])
    assert "no executions match these filters" in s.ok(f"{BASE}?phase=ABORTED")


@pytest.mark.parametrize(
    ("query", "expect"),
    [
        ({"entity": "wf.ok"}, ["flows.wf.ok"]),  # by launch plan, the default
        ({"by": "launch_plan", "entity": "flows.wf."}, ["flows.wf.ok", "flows.wf.bad", "flows.wf.double"]),
        ({"by": "workflow", "entity": "bad"}, ["flows.wf.bad"]),
        ({"by": "task", "entity": "double"}, ["flows.wf.double"]),  # the task run on its own
        ({"by": "task", "entity": "ok"}, []),  # workflow executions have no task name
        ({"by": "workflow", "entity": "flows.wf", "phase": "FAILED"}, ["flows.wf.bad"]),
        ({"entity": "ok", "phase": "FAILED"}, []),
    ],
)
def test_filter_by_entity(s: Site, query: dict[str, str], expect: list[str]) -> None:
    body = s.ok(f"{BASE}?{urlencode(query)}")
    assert set(listed(body)) == {n for lp in expect for n in s.executions[lp]}
    if not expect:
        assert "no executions match these filters" in body
    # the phase links keep the entity filter
    m = re.search(r"<a href='([^']+)'>RUNNING</a>", body)
    assert m is not None
    kept = parse_qs(urlsplit(unescape(m.group(1))).query)
    assert kept["phase"] == ["RUNNING"] and kept["entity"] == [query["entity"]]
    assert kept["by"] == [query.get("by", "launch_plan")]


def test_paging_keeps_the_filters(s: Site) -> None:
    everything = listed(s.ok(f"{BASE}?phase=SUCCEEDED&by=launch_plan&entity=flows"))
    assert len(everything) == N_OK + 1
    seen: list[str] = []
    target: str | None = f"{BASE}?phase=SUCCEEDED&by=launch_plan&entity=flows&limit=2"
    pages = 0
    while target is not None:
        body = s.ok(target)
        rows = listed(body)
        assert 0 < len(rows) <= 2 or (not rows and pages > 0)
        seen += rows
        pages += 1
        assert pages <= 10
        if pages > 1:  # a later page links back to the first, with the same filters
            first = next_link(body, "first page")
            assert first is not None and "token" not in first
            assert parse_qs(urlsplit(first).query) == {
                "phase": ["SUCCEEDED"], "by": ["launch_plan"], "entity": ["flows"], "limit": ["2"],
            }  # fmt: skip
        target = next_link(body)
        if target is not None:
            q = parse_qs(urlsplit(target).query)
            assert q["phase"] == ["SUCCEEDED"] and q["entity"] == ["flows"] and q["limit"] == ["2"], q
            assert "<nav aria-label='pages'>" in body
    assert seen == everything  # every one once, in the same order
    assert pages == 3 + (len(everything) % 2 == 0)  # a full last page still offers a next (empty) page


# --- errors and hostile input ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "says"),
    [
        ("phase=NOPE", "unknown phase &#x27;NOPE&#x27;"),
        ("by=nope&entity=x", "unknown entity kind &#x27;nope&#x27;"),
        ("entity=a(b", "cannot contain parentheses"),
        ("limit=x", "limit must be a number"),
        ("token=-3", "invalid page token"),
    ],
)
def test_bad_filters(s: Site, query: str, says: str) -> None:
    status, body, _ = s.get(f"{BASE}?{query}")
    assert status == 400 and says in body, body


@pytest.mark.parametrize(
    ("path", "says"),
    [
        ("/console/projects/nope", "project [nope] does not exist"),
        ("/console/projects/nope/domains/development/executions", "project [nope] does not exist"),
        ("/console/projects/flytesnacks/domains/nope/executions", "has no domain [nope]"),
        ("/console/projects/flytesnacks/executions?domain=nope", "has no domain [nope]"),
    ],
)
def test_not_found(s: Site, path: str, says: str) -> None:
    status, body, _ = s.get(path)
    assert status == 404 and says in body, body
    assert "<a href='/console'>all projects</a>" in body


def test_hostile_filter_values(s: Site) -> None:
    """A filter value full of markup is echoed in the form, the caption and the links as text only."""
    body = s.ok(f"{BASE}?{urlencode({'entity': HOSTILE, 'by': 'workflow', 'limit': '1'})}")
    assert "no executions match these filters" in body
    assert "<script>" not in body  # and check_page found no element or handler that escaping let through
    assert "value='x&#x27;&quot;&gt;&lt;script&gt;alert`1`&lt;/script&gt;" in body
    status, body, _ = s.get(f"/console/projects/{quote(HOSTILE, safe='')}/domains/development/executions")
    assert status in (400, 404) and "<script>" not in body
    status, body, _ = s.get(f"{BASE}?phase={quote(HOSTILE, safe='')}")
    assert status == 400 and "<script>" not in body


# --- theme ----------------------------------------------------------------------------------------------


def _luminance(colour: str) -> float:
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def contrast(a: str, b: str) -> float:
    hi, lo = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


@pytest.mark.timeout(10)
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_theme_contrast(scheme: str) -> None:
    """Every text colour, phases included, reads at >= 4.5:1 (WCAG AA) on every background it is drawn on."""
    palette = THEME[scheme]
    backgrounds = [*BACKGROUNDS, *(f"{tone}-bg" for tone in TONES)]
    for fg in TEXT_COLOURS:
        for bg in backgrounds:
            ratio = contrast(palette[fg], palette[bg])
            assert ratio >= 4.5, f"{scheme}: --{fg} on --{bg} is {ratio:.2f}:1"
    assert contrast(palette["focus"], palette["bg"]) >= 3  # a focus outline is a graphic: 3:1
    assert _luminance(THEME["dark"]["bg"]) < 0.02 < 0.9 < _luminance(THEME["light"]["bg"])


@pytest.mark.timeout(10)
def test_every_phase_has_a_tone_and_a_rule() -> None:
    """Each phase and cache status is coloured through a tone: the page's style has a rule for its class;
    the text of the phase is always there too (phase_span), never the colour alone."""
    style = render_page("t", "").decode()
    light = ":root{" + ";".join(f"--{k}:{v}" for k, v in THEME["light"].items()) + "}"
    dark = "@media (prefers-color-scheme:dark){:root{"
    dark += ";".join(f"--{k}:{v}" for k, v in THEME["dark"].items())
    assert light in style and dark in style
    names = {*WF_PHASE.keys(), *NODE_PHASE.keys(), *TASK_PHASE.keys(), "CACHE_HIT", "CACHE_MISS"}
    for name in names:
        tone = phase_tone(name)
        rule = re.search(rf"([^}}]*\.{name}[,{{][^}}]*)}}", style)
        assert rule is not None and f"color:var(--{tone})" in rule.group(1), name
    assert phase_tone("SUCCEEDED") == "ok" and phase_tone("FAILED") == "fail"
    assert phase_tone("RUNNING") == "run" and phase_tone("SKIPPED") == "idle"


@pytest.mark.timeout(10)
def test_frame_accessibility() -> None:
    body = render_page("a <title>", "<h1>x</h1>", nav=" / y").decode()
    assert body.index("<a class='skip' href='#main'>Skip to main content</a>") < body.index("<main")
    assert "<header>" in body
    assert "<nav aria-label='breadcrumb'><a href='/console'>flyte-ls local</a> / y</nav>" in body
    assert "<main id='main' tabindex='-1'><h1>x</h1></main>" in body
    assert "<title>a &lt;title&gt; · flyte-ls local</title>" in body
    assert ":focus-visible{outline:3px solid var(--focus)" in body
    assert "<meta name='color-scheme' content='light dark'>" in body
