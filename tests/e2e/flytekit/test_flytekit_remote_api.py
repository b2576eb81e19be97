"""§7: the rest of FlyteRemote's read API against the backend — projects, domains, fetch by latest version,
tasks by version, and console URLs that open."""

from __future__ import annotations

import urllib.request

import pytest
from flytekit_e2e import DOMAIN, PROJECT
from flytekit_suite import Suite

pytestmark = [pytest.mark.flytekit, pytest.mark.timeout(120)]


def test_projects_and_domains(suite: Suite) -> None:
    assert PROJECT in {p.id for p in suite.remote.list_projects()}
    assert {"development", "staging", "production"} <= {d.id for d in suite.remote.get_domains()}


def test_fetch_latest_and_list_by_version(suite: Suite) -> None:
    wf = suite.register("environment", "env_wf")
    version = wf.id.version
    assert suite.remote.fetch_workflow(name="workflows.environment.env_wf").id.version == version
    lp = suite.remote.fetch_launch_plan(name="workflows.environment.env_wf", version=version)
    assert lp.id.version == version and set(lp.interface.inputs) == {"name"}
    task = suite.remote.fetch_task(name="workflows.environment.greet")
    assert task.id.version == version
    names = {t.id.name for t in suite.remote.list_tasks_by_version(version, project=PROJECT, domain=DOMAIN)}
    assert "workflows.environment.greet" in names

    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    for entity in (wf, lp, task):
        url = suite.remote.generate_console_url(entity)
        assert url.startswith(suite.backend.http), url
        with opener.open(url, timeout=30) as resp:
            assert resp.status == 200 and version in resp.read().decode()


def test_execution_names(suite: Suite) -> None:
    """An explicit execution name (a second execute with it finds the first: ALREADY_EXISTS, which flytekit
    tolerates) and flytekit's `execution_name_prefix`."""
    wf = suite.register("environment", "env_wf")
    first = suite.remote.execute(wf, inputs={"name": "first"}, execution_name="e2e-named")
    again = suite.remote.execute(wf, inputs={"name": "second"}, execution_name="e2e-named")
    assert first.id.name == again.id.name == "e2e-named"
    done = suite.wait(again)
    assert done.outputs.get("o0", as_type=str) == "hello, first"
    prefixed = suite.remote.execute(wf, inputs={"name": "p"}, execution_name_prefix="e2e-prefix")
    assert prefixed.id.name.startswith("e2e-prefix-")
    assert suite.wait(prefixed).closure.phase == 4  # SUCCEEDED
