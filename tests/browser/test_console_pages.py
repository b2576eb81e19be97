"""The local console in real headless Chromium, on a real backend with real runs (browser_flows.py registered
by unmodified ``pyflyte register``): the page of a finished and of a running execution (the DAG's nodes and
their phases, the timeline's bars, a log link that serves the task's log, the live update from RUNNING to
SUCCEEDED without a reload), keyboard navigation, the dark colour scheme, the entity and project pages, and
``scripts/console_screenshots.py``. Every page a test opens must request nothing outside this machine, log no
console error and violate no Content-Security-Policy (the ``browse`` fixture checks)."""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from browser_flows import LOG_LINE
from browser_site import WF, Site, start_site
from chromium_browser import Browse, is_local
from chromium_launch import CHROMIUM_ARGS, require_chromium
from local_backend import VENV_PYTHON

pytestmark = [pytest.mark.flytekit, pytest.mark.timeout(180)]

REPO = Path(__file__).resolve().parents[2]
SHOWCASE_NODES = {"n0", "n1", "n2", "n3", "n4", "n5", "n6", "n7", "n8"}  # browser_flows.showcase, top level
PNG = b"\x89PNG\r\n\x1a\n"
SCREENSHOTS = (
    "console-execution.png",
    "console-execution-dark.png",
    "console-running.png",
    "console-workflow.png",
)
DECK_FONTS = (
    "https://fonts.googleapis.com/"  # flytekit's deck template links its fonts: the deck's CSP blocks
)
NODE_NAME = re.compile(r"^node (\S+) \((.+)\)(?:: (\w+))?$")  # a DAG node link's accessible name


@dataclass
class Runs:
    site: Site
    finished: str  # browser_flows.showcase, SUCCEEDED
    failed: tuple[str, str]  # browser_flows.fails, FAILED (twice)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runs]:
    site = start_site(tmp_path_factory.mktemp("console-site"))
    try:
        finished, failed = site.launch("showcase", n=3), (site.launch("fails"), site.launch("fails", x=2))
        site.register("v2")  # a second version of every entity, for the version lists
        assert site.wait(finished) == "SUCCEEDED"
        assert [site.wait(name) for name in failed] == ["FAILED", "FAILED"]
        yield Runs(site, finished, failed)
    finally:
        site.stop()


def goto(page: Any, url: str) -> Any:
    response = page.goto(url, wait_until="load")
    assert response is not None and response.status == 200, (url, response and response.status)
    return response


def dag_nodes(graph: Any) -> dict[str, tuple[str, str]]:
    """The node links of one DAG picture (``svg.dag``, not its nested graphs): id -> (kind, phase), read from
    their accessible names "node <id> (<kind>): <phase>" (no phase on a workflow's static DAG)."""
    names = graph.locator("a.dag-node").evaluate_all("els => els.map(a => a.getAttribute('aria-label'))")
    out: dict[str, tuple[str, str]] = {}
    for name in names:
        m = NODE_NAME.match(" ".join((name or "").split()))
        assert m, f"a DAG node link without a node's accessible name: {name!r}"
        out[m.group(1)] = (m.group(2), m.group(3) or "")
    return out


def nested_graph(page: Any, node: str) -> Any:
    """The ``<details>`` holding the inner graph of ``node`` (a subworkflow, branch or dynamic node)."""
    return page.locator("details").filter(has=page.locator("summary", has_text=f"node {node} ")).first


def assert_fragments_land(page: Any) -> None:
    """Every in-page link (HTML and SVG) targets an element of the page."""
    missing = page.evaluate(
        """() => [...document.querySelectorAll('a[href^="#"]')]
              .map(a => a.getAttribute('href').slice(1))
              .filter(id => id && !document.getElementById(decodeURIComponent(id)))"""
    )
    assert not missing, missing


def load_script(path: Path) -> Any:
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def luminance(css: str) -> float:
    """Relative luminance (WCAG) of a CSS ``rgb(...)``/``rgba(...)`` colour."""
    values = [float(x) for x in re.findall(r"[\d.]+", css)[:3]]
    lin = [(c / 255) / 12.92 if c / 255 <= 0.03928 else ((c / 255 + 0.055) / 1.055) ** 2.4 for c in values]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def contrast(a: str, b: str) -> float:
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


# -- the finished execution ---------------------------------------------------------------------------------


def test_finished_execution_dag(runs: Runs, browse: Browse) -> None:
    """The DAG of a finished run: every top-level node a focusable link named with its kind and phase and
    pointing at its node row; the @dynamic's, the subworkflow's and the branch's inner graphs (with the
    skipped case) unfold from <details>; the text alternative lists the nodes; the page runs no script."""
    page = browse.new_page()
    goto(page, runs.site.execution_url(runs.finished))
    assert "SUCCEEDED" in page.locator("h1").inner_text()
    top = page.locator("main svg.dag").first
    assert top.get_attribute("role") == "img"
    labelled = (top.get_attribute("aria-labelledby") or "").split()
    assert len(labelled) == 2, "the DAG's svg is labelled by its <title> and <desc>"
    desc = page.locator(f"[id='{labelled[1]}']").text_content() or ""
    assert re.search(r"\bSUCCEEDED\b", desc), desc
    nodes = dag_nodes(top)
    assert set(nodes) == SHOWCASE_NODES, nodes
    assert {phase for _, phase in nodes.values()} == {"SUCCEEDED"}, nodes
    kinds = {node: kind.split()[0] for node, (kind, _) in nodes.items()}
    assert kinds == {
        "n0": "task", "n1": "array", "n2": "dynamic", "n3": "task", "n4": "subworkflow", "n5": "task",
        "n6": "task", "n7": "task", "n8": "branch",
    }, kinds  # fmt: skip
    flaky = page.get_by_role("link", name="node n5 (task flaky): SUCCEEDED")
    assert flaky.count() == 1 and flaky.get_attribute("href") == "#node-n5"
    # the inner graphs, folded until asked for
    inner = {"n2": {"dn0", "dn1", "dn2"}, "n4": {"n0", "n1"}, "n8": {"n8-n0", "n8-n1"}}
    for node, ids in inner.items():
        details = nested_graph(page, node)
        graph = details.locator("svg.dag")
        assert not graph.is_visible(), node
        details.locator("summary").first.click()
        assert graph.is_visible(), node
        got = dag_nodes(graph)
        assert set(got) == ids, (node, got)
        phases = {i: phase for i, (_, phase) in got.items()}
        expected = {i: "SKIPPED" if i == "n8-n1" else "SUCCEEDED" for i in ids}
        assert phases == expected, (node, phases)
    assert "if n > 2" in nested_graph(page, "n8").locator("summary").first.inner_text()
    # the text alternative names every node with its phase
    listed = page.locator("details", has=page.locator("summary", has_text="as a list")).first
    listed.locator("summary").first.click()
    text = listed.inner_text()
    assert all(re.search(rf"\b{n}\b.*SUCCEEDED", text) for n in SHOWCASE_NODES), text
    assert_fragments_land(page)
    assert page.locator("script").count() == 0, "a finished execution's page loads no script"


def test_finished_execution_timeline(runs: Runs, browse: Browse) -> None:
    """The timeline: at least one bar per node, every bar wider than zero, a row per node."""
    page = browse.new_page()
    goto(page, runs.site.execution_url(runs.finished))
    chart = page.locator("svg.tl")
    assert chart.count() == 1
    bars = chart.locator("rect.tl-bar")
    assert bars.count() >= len(SHOWCASE_NODES), bars.count()
    widths = bars.evaluate_all("els => els.map(r => r.getBoundingClientRect().width)")
    assert min(widths) > 0, widths
    spans = chart.locator("g.tl-row").evaluate_all("els => els.map(g => g.dataset.span)")
    assert {f"node {n}" for n in SHOWCASE_NODES} <= set(spans), spans


def test_node_table_and_log_link(runs: Runs, browse: Browse) -> None:
    """The node table has a row per node; the summarize task's log link serves its log (what it printed)."""
    page = browse.new_page()
    goto(page, runs.site.execution_url(runs.finished))
    for node in SHOWCASE_NODES:
        assert page.locator(f"tr#node-{node}").count() == 1, node
    row = page.locator("tr#node-n3")
    assert "SUCCEEDED" in row.inner_text()
    with page.expect_navigation() as navigation:
        row.get_by_role("link", name=re.compile("log", re.I)).first.click()
    response = navigation.value
    assert response is not None and response.status == 200 and "/files/" in page.url
    assert LOG_LINE in page.locator("body").inner_text()


def test_deck_link_opens_the_deck(runs: Runs, browse: Browse) -> None:
    """The summarize task's deck link opens its deck (flytekit's HTML, served from this machine), which
    renders under its Content-Security-Policy: inline style, inline script and inline event handlers."""
    browse.expect_blocked(DECK_FONTS)  # checked by the next test
    page = browse.new_page()
    goto(page, runs.site.execution_url(runs.finished))
    deck = page.locator("tr#node-n3").get_by_role("link", name="deck")
    with page.expect_navigation() as navigation:
        deck.click()
    response = navigation.value
    assert response is not None and response.status == 200
    assert "sandbox" in response.headers["content-security-policy"]
    # the template's style hides every tab; its script shows the first one (the timeline of the task)
    tabs = page.locator("#flyte-frame-container > div")
    assert tabs.count() >= 2 and page.get_by_text("Load task").is_visible()
    summary = page.get_by_text("3 values, total 14")
    assert not summary.is_visible()
    # the template hides its own tab bar; its tabs' inline handlers still switch: the user's deck shows
    page.locator("#flyte-frame-tabs li", has_text="summary").evaluate("li => li.click()")
    summary.wait_for(state="visible")
    assert not page.get_by_text("Load task").is_visible()


def test_deck_requests_nothing_outside_this_machine(runs: Runs, browse: Browse) -> None:
    """flytekit's deck template links Google Fonts: the deck's Content-Security-Policy keeps the browser
    from fetching them (the only violation), nothing leaves this machine."""
    browse.expect_blocked(DECK_FONTS)
    page = browse.new_page()
    goto(page, runs.site.execution_url(runs.finished))
    goto(
        page,
        runs.site.url(str(page.locator("tr#node-n3").get_by_role("link", name="deck").get_attribute("href"))),
    )
    page.get_by_text("Load task").wait_for(state="visible")
    page.wait_for_load_state("networkidle")
    assert not browse.outside, browse.outside
    assert browse.requests and all(is_local(u) for u in browse.requests), browse.requests
    assert len(browse.csp) == 1 and f"blocked {DECK_FONTS}" in browse.csp[0], browse.csp


def test_keyboard_reaches_and_follows_a_dag_node(runs: Runs, browse: Browse) -> None:
    """Tab from the top of the page: the skip link first, then the DAG's node links, every top-level node
    once, in reading order (column by column, top to bottom); Enter on one follows it to its node row."""
    page = browse.new_page()
    goto(page, runs.site.execution_url(runs.finished))
    # the focused link of the DAG: [name, x, y (of its box in the picture), in a nested graph]; name "" for
    # its other links (an inner graph's "+"); null outside the DAG
    focused = """() => { const a = document.activeElement;
        if (!a || !a.closest('main svg.dag')) return null;
        const r = a.querySelector('rect') ? a.querySelector('rect').getBBox() : {x: 0, y: 0};
        const name = a.matches('a.dag-node') ? a.getAttribute('aria-label') : '';
        return [name, Math.round(r.x), Math.round(r.y), !!a.closest('details')]; }"""
    page.keyboard.press("Tab")
    assert "skip" in page.evaluate("document.activeElement.textContent").lower()
    visited: list[tuple[str, int, int]] = []
    for _ in range(120):
        page.keyboard.press("Tab")
        got = page.evaluate(focused)
        if got is None and visited:
            break
        if got is not None and got[0] and not got[3]:  # a node of the top-level graph
            m = NODE_NAME.match(" ".join(got[0].split()))
            assert m, got
            visited.append((m.group(1), got[1], got[2]))
    ids = [node for node, _, _ in visited]
    assert sorted(ids) == sorted(SHOWCASE_NODES), f"Tab visited {ids}"
    assert visited == sorted(visited, key=lambda v: (v[1], v[2])), (
        f"Tab order is not reading order: {visited}"
    )
    first = visited[0][0]
    for _ in range(len(visited) + 8):  # back to the first node link (inner-graph links sit in between)
        page.keyboard.press("Shift+Tab")
        got = page.evaluate(focused)
        if got is not None and got[0].startswith(f"node {first} "):
            break
    page.keyboard.press("Enter")
    page.wait_for_function(f"location.hash === '#node-{first}'")
    target = page.locator(f"tr#node-{first}")
    assert target.evaluate("el => el.matches(':target')") and target.is_visible()
    where = target.evaluate("el => [el.getBoundingClientRect().top, innerHeight, scrollY]")
    assert -1 <= where[0] < where[1], f"the node row is not scrolled into view: {where}"


def test_dark_colour_scheme(runs: Runs, browse: Browse, browse_dark: Browse) -> None:
    """Light and dark: dark text on a light page, light text on a dark one, readable (>= 4.5:1) headings,
    links and DAG labels."""
    styles = "(el) => { const s = getComputedStyle(el); return [s.color, s.backgroundColor, s.fill]; }"
    for b, dark in ((browse, False), (browse_dark, True)):
        page = b.new_page()
        goto(page, runs.site.execution_url(runs.finished))
        fg, bg, _ = page.locator("body").evaluate(styles)
        assert (luminance(bg) < 0.2) == dark and (luminance(fg) > 0.5) == dark, (dark, fg, bg)
        assert contrast(fg, bg) >= 4.5, (fg, bg)
        link_fg = page.locator("main a").first.evaluate(styles)[0]
        assert contrast(link_fg, bg) >= 4.5, (dark, link_fg, bg)
        node = page.locator("main svg.dag a.dag-node").first
        box_fill = node.locator("rect").first.evaluate(styles)[2]
        for text in node.locator("text").all():
            fill = text.evaluate(styles)[2]
            assert contrast(fill, box_fill) >= 4.5, (dark, text.text_content(), fill, box_fill)


# -- a running execution ------------------------------------------------------------------------------------


def node_phase(page: Any, node: str) -> str:
    """The phase the top-level DAG shows for ``node`` ("" while it has none)."""
    return dag_nodes(page.locator("main svg.dag").first).get(node, ("", ""))[1]


def node_href(page: Any, node: str) -> str | None:
    """Where the top-level DAG's box of ``node`` links (None: nowhere)."""
    box = page.locator(f"main svg.dag a.dag-node[aria-label^='node {node} (']").first
    return box.get_attribute("href")


def open_seconds(page: Any) -> float:
    """The longest "going on for <n> s so far" of the timeline's open bars (what is running now), or -1."""
    titles = page.locator("svg.tl rect.tl-open").evaluate_all("els => els.map(r => r.textContent)")
    got = [float(m.group(1)) for t in titles if (m := re.search(r"going on for ([\d.]+) s so far", t))]
    return max(got, default=-1.0)


def test_live_update_from_running_to_succeeded(runs: Runs, browse: Browse, tmp_path: Path) -> None:
    """A run that waits for a file: its page loads the first-party live script and shows n0 RUNNING, its
    timeline's open bars growing; once the file exists the same document (no reload: a window marker and one
    navigation entry survive) shows the execution and its nodes SUCCEEDED, keeps an opened <details> open and
    the focused DAG node focused, and then stops polling."""
    go = tmp_path / "go"
    name = runs.site.launch("waiting", path=str(go), timeout_s=120)
    runs.site.wait(name, frozenset({WF.RUNNING}), limit_s=60)
    page = browse.new_page()
    live: list[str] = []
    page.on("request", lambda r: "part=live" in r.url and live.append(r.url))
    goto(page, runs.site.execution_url(name))
    page.evaluate("window.__flyteLsMarker = 'kept'")
    scripts = page.locator("script").evaluate_all("els => els.map(s => s.getAttribute('src'))")
    assert scripts == ["/console/static/live.js"], scripts
    assert "RUNNING" in page.locator("h1").inner_text()
    deadline = time.monotonic() + 60
    while node_phase(page, "n0") != "RUNNING":  # the task may still be queued when the page loads
        assert time.monotonic() < deadline, node_phase(page, "n0")
        page.wait_for_timeout(200)
    assert page.locator("[data-terminal]").first.get_attribute("data-terminal") == "false"
    assert node_phase(page, "n3") not in ("RUNNING", "SUCCEEDED")
    # n3 has not started: it has no row yet, so its box links nothing (no fragment that lands nowhere)
    assert node_href(page, "n3") is None and node_href(page, "n0") == "#node-n0"
    assert_fragments_land(page)
    # the timeline of what runs grows with each update (its open bars end at "now")
    before = open_seconds(page)
    assert before >= 0, "no open bar in the running execution's timeline"
    deadline = time.monotonic() + 20
    while open_seconds(page) < before + 1:  # no reload: the live updates redraw it
        assert time.monotonic() < deadline, (
            f"the open bars stayed at {open_seconds(page)} s (from {before} s)"
        )
        page.wait_for_timeout(300)
    opened = page.locator("[data-terminal] details").first
    opened.locator("summary").first.click()
    page.locator("main svg.dag a.dag-node[href='#node-n0']").first.focus()
    go.write_text("hello")
    page.locator("h1").filter(has_text="SUCCEEDED").wait_for(timeout=60_000)
    assert page.evaluate("window.__flyteLsMarker") == "kept", "the page was reloaded, not updated in place"
    assert page.evaluate("performance.getEntriesByType('navigation').length") == 1
    assert live, "the page never fetched its live fragment"
    assert page.locator("[data-terminal]").first.get_attribute("data-terminal") == "true"
    nodes = dag_nodes(page.locator("main svg.dag").first)
    assert set(nodes) == {"n0", "n1", "n2", "n3"}, nodes
    assert {phase for _, phase in nodes.values()} == {"SUCCEEDED"}, nodes
    assert page.locator("[data-terminal] details").first.evaluate("d => d.open"), (
        "the update closed a <details>"
    )
    assert page.evaluate("document.activeElement.getAttribute('href')") == "#node-n0", "the update lost focus"
    assert node_href(page, "n3") == "#node-n3"  # it ran: its row exists now
    assert_fragments_land(page)
    seen = len(live)
    page.wait_for_timeout(4000)
    assert len(live) == seen, "the page kept polling after the execution ended"


def test_live_fragment_and_noscript_fallback(runs: Runs, browse: Browse, tmp_path: Path) -> None:
    """The fragment a running page polls is marked terminal or not; without scripts the page still
    refreshes itself (<noscript>); the finished page has neither."""
    go = tmp_path / "go"
    name = runs.site.launch("waiting", path=str(go), timeout_s=120)
    url = runs.site.execution_url(name)
    page = browse.new_page()
    try:
        runs.site.wait(name, frozenset({WF.RUNNING}), limit_s=60)
        goto(page, url)
        assert "http-equiv" in page.locator("noscript").inner_html()
        fragment = goto(page, f"{url}?part=live").text()
        assert re.search(r"data-terminal=['\"]false['\"]", fragment), fragment[:500]
        assert "<html" not in fragment.lower()
    finally:
        go.write_text("done")
    assert runs.site.wait(name) == "SUCCEEDED"
    fragment = goto(page, f"{url}?part=live").text()
    assert re.search(r"data-terminal=['\"]true['\"]", fragment), fragment[:500]
    goto(page, url)
    assert page.locator("noscript").count() == 0 and page.locator("script").count() == 0


# -- entity and project pages -------------------------------------------------------------------------------


def test_workflow_page_static_dag_and_versions(runs: Runs, browse: Browse) -> None:
    """The showcase workflow's version page: its interface, its static DAG (node links without a phase, to
    what each node runs), its versions newest first with this one marked current, and its executions."""
    page = browse.new_page()
    goto(page, runs.site.entity_url("workflow", "showcase"))
    main = page.locator("main")
    assert "browser_flows.showcase" in page.locator("h1").inner_text()
    inputs = main.locator("table", has=page.locator("caption", has_text="Inputs")).first.inner_text()
    assert re.search(r"^n\s+int\s+3\b", inputs, re.M), inputs
    nodes = dag_nodes(main.locator("svg.dag").first)
    assert set(nodes) == SHOWCASE_NODES, nodes
    assert not any(phase for _, phase in nodes.values()), nodes
    versions = main.locator("table", has=page.locator("caption", has_text="Versions")).first
    rows = versions.locator("tbody tr")
    assert [r.split()[0] for r in rows.all_inner_texts()] == ["v2", "v1"]
    assert rows.nth(1).get_attribute("aria-current") == "true"
    assert runs.finished in main.inner_text()
    rows.nth(0).get_by_role("link", name="v2").click()
    page.wait_for_load_state("load")
    assert page.url.endswith("/version/v2")
    current = page.locator("main table tbody tr[aria-current='true']")
    assert current.count() == 1 and current.inner_text().startswith("v2")
    assert_fragments_land(page)
    page.locator("main svg.dag a.dag-node[href*='browser_flows.summarize']").first.click()
    page.wait_for_load_state("load")
    assert "Task browser_flows.summarize" in page.locator("h1").inner_text()


def test_task_page_interface(runs: Runs, browse: Browse) -> None:
    page = browse.new_page()
    goto(page, runs.site.entity_url("task", "summarize"))
    text = page.locator("main").inner_text()
    assert "browser_flows.summarize" in text and "xs" in text and "int" in text


def listed(page: Any) -> str:
    return str(page.locator("main table").last.inner_text())


def test_project_page_filters_and_pages(runs: Runs, browse: Browse) -> None:
    """The executions list: the phase filter (a GET form) keeps only the failed runs; paging one by one keeps
    the filter; the entity filter keeps only that workflow's runs."""
    page = browse.new_page()
    base = runs.site.url("/console/projects/flytesnacks/domains/development/executions")
    goto(page, base)
    assert runs.finished in listed(page) and all(name in listed(page) for name in runs.failed)
    form = page.locator("main form").first
    form.get_by_label(re.compile("phase", re.I)).select_option("FAILED")
    with page.expect_navigation():
        form.locator("[type='submit']").first.click()
    assert "phase=FAILED" in page.url
    assert all(name in listed(page) for name in runs.failed) and runs.finished not in listed(page)
    goto(page, f"{base}?phase=FAILED&limit=1")
    first = listed(page)
    assert sum(name in first for name in runs.failed) == 1 and runs.finished not in first
    with page.expect_navigation():
        page.get_by_role("link", name=re.compile("next", re.I)).first.click()
    assert "limit=1" in page.url and "token=" in page.url and "phase=FAILED" in page.url
    second = listed(page)
    assert sum(name in second for name in runs.failed) == 1 and second != first
    goto(page, base)
    form = page.locator("main form").first
    form.locator("input[name='entity']").fill("browser_flows.fails")
    with page.expect_navigation():
        form.locator("[type='submit']").first.click()
    assert all(name in listed(page) for name in runs.failed) and runs.finished not in listed(page)
    assert_fragments_land(page)


def test_the_checks_see_csp_violations_and_outside_requests(runs: Runs, browse: Browse) -> None:
    """The fixture's checks work on a real console page: markup that escaping let through (an inline script,
    an image from elsewhere) is stopped by the page's CSP, and the test would see it."""
    page = browse.new_page()
    goto(page, runs.site.execution_url(runs.finished))
    page.evaluate(
        """() => {
            const s = document.createElement('script'); s.textContent = 'window.__injected = 1';
            document.body.append(s);
            document.body.insertAdjacentHTML('beforeend', "<img src='https://example.invalid/x.png'>");
        }"""
    )
    page.wait_for_timeout(300)
    assert page.evaluate("window.__injected") is None
    seen = " ".join(browse.csp)
    assert "script-src" in seen and "img-src" in seen, browse.csp
    browse.csp.clear()  # expected here: the fixture must not fail the test for them
    browse.errors.clear()


def test_the_browser_itself_sends_nothing_outside(runs: Runs, browser: Any, tmp_path: Path) -> None:
    """Chromium as launched here (its net log): opening the pages, typing into the project page's filter form
    (which makes Chromium want to ask its autofill server), it resolves no name and connects only to this
    machine."""
    netlog = tmp_path / "net.json"
    args = [*CHROMIUM_ARGS, f"--log-net-log={netlog}"]
    logged = browser.browser_type.launch(executable_path=require_chromium(), args=args, timeout=60_000)
    try:
        page = logged.new_page()
        goto(page, runs.site.execution_url(runs.finished))
        goto(page, runs.site.url("/console/projects/flytesnacks/domains/development/executions"))
        page.locator("input[name='entity']").fill("browser_flows")
        page.wait_for_timeout(2000)
    finally:
        logged.close()  # writes the net log
    log = json.loads(netlog.read_text())
    names = {v: k for k, v in log["constants"]["logEventTypes"].items()}
    dns, remote = [], []
    for event in log["events"]:
        kind, params = names.get(event["type"], ""), event.get("params", {})
        if kind == "DNS_TRANSACTION" and "hostname" in params:
            dns.append(params["hostname"])
        if kind == "TCP_CONNECT" and "remote_address" in params:
            remote.append(params["remote_address"])
    assert not dns, f"Chromium sent DNS queries for {sorted(set(dns))}"
    assert remote and all(a.rsplit(":", 1)[0] in ("127.0.0.1", "[::1]") for a in remote), remote


# -- screenshots --------------------------------------------------------------------------------------------


@pytest.mark.timeout(300)
def test_screenshot_script_writes_the_pictures(tmp_path: Path) -> None:
    """``make screenshots`` (scripts/console_screenshots.py) starts its own backend, runs the workflows and
    writes the four PNGs; the committed ones exist and the README shows them."""
    chromium = require_chromium()
    out = tmp_path / "images"
    script = REPO / "scripts" / "console_screenshots.py"
    proc = subprocess.run(
        [VENV_PYTHON, str(script), "--out", str(out), "--chromium", chromium],
        capture_output=True, text=True, timeout=280, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert load_script(script).CHROMIUM_ARGS == CHROMIUM_ARGS, "the script launches Chromium as the tests do"
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    for name in SCREENSHOTS:
        data = (out / name).read_bytes()
        assert data.startswith(PNG) and len(data) > 10_000, (name, len(data))
        committed = REPO / "docs" / "images" / name
        assert committed.read_bytes().startswith(PNG), committed
        assert f"docs/images/{name}" in readme, name
