"""The ``flyte.*`` commands over stdio (pytest-lsp) against a real local backend and a real worker.

The backend is ``flyte-ls local start`` in a temp state dir; the server is configured with ``endpoint`` +
``insecure`` pointing at it and ``pythonPath`` = the venv's interpreter (which has flytekit), and its user
cache is a temp dir (worker copy, tracked executions). The workspace is a temp folder with a package of
tasks and a workflow that imports a sibling module.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest
import pytest_lsp
from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pygls.uris import from_fs_path
from pytest_lsp import ClientServerConfig, LanguageClient

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "local"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))
from local_backend import VENV_PYTHON, Backend, free_port, start_backend
from lsp_helpers import make_client, to_json

pytestmark = [pytest.mark.flytekit, pytest.mark.timeout(300)]

CACHE = Path(tempfile.mkdtemp(prefix="flyte-ls-commands-cache-"))
WORKSPACE = Path(tempfile.mkdtemp(prefix="flyte-ls-commands-ws-"))
CONFIG = ClientServerConfig(
    server_command=[sys.executable, "-m", "flyte_ls", "serve", "-v"],
    client_factory=make_client,
    server_env={**os.environ, "XDG_CACHE_HOME": str(CACHE)},
)
COMMAND_TIMEOUT = 180.0
RUN_DEADLINE = 180.0

HELPERS = """
def shout(text: str) -> str:
    return text.upper() + "!"
"""

FLOWS = """
import time
from datetime import datetime, timedelta

from flytekit import CronSchedule, LaunchPlan, approve, task, wait_for_input, workflow

from demo.helpers import shout


@task
def add_one(x: int) -> int:
    return x + 1


@task
def greet(name: str, excited: bool = False) -> str:
    return shout(name) if excited else "hello " + name


@task
def sleepy(seconds: int) -> int:
    time.sleep(seconds)
    return seconds


@workflow
def pipeline(x: int, y: int = 2) -> int:
    return add_one(x=add_one(x=x))


@task
def stamp(t: datetime, label: str) -> str:
    return f"{label}:{t:%Y-%m-%d}"


@workflow
def stamp_wf(t: datetime, label: str = "x") -> str:
    return stamp(t=t, label=label)


daily = LaunchPlan.get_or_create(
    stamp_wf,
    name="demo.flows.daily",
    schedule=CronSchedule(schedule="0 8 * * *", kickoff_time_input_arg="t"),
    fixed_inputs={"label": "daily"},
)


@workflow
def gated(x: int) -> str:
    bumped = add_one(x=x)
    approved = approve(bumped, "review", timeout=timedelta(minutes=10))
    title = wait_for_input("title", timeout=timedelta(minutes=10), expected_type=str)
    return greet(name=title, excited=True)
"""

SLOW_IMPORT = """
import time

from flytekit import task

time.sleep(3)


@task
def later(x: int) -> int:
    return x
"""


@pytest.fixture(scope="module", autouse=True)
def backend(tmp_path_factory: pytest.TempPathFactory):
    package = WORKSPACE / "demo"
    package.mkdir(exist_ok=True)
    (package / "__init__.py").write_text("")
    (package / "helpers.py").write_text(HELPERS)
    (package / "flows.py").write_text(FLOWS)
    (package / "slow.py").write_text(SLOW_IMPORT)
    (WORKSPACE / "inputs.yaml").write_text("name: yaml\nexcited: true\n")
    started = start_backend(tmp_path_factory.mktemp("backend") / "state")
    try:
        yield started
    finally:
        started.stop()
        for folder in (CACHE, WORKSPACE):
            shutil.rmtree(folder, ignore_errors=True)


def _settings(backend: Backend) -> dict[str, Any]:
    return {
        "endpoint": f"127.0.0.1:{backend.port}",
        "insecure": True,
        "pythonPath": VENV_PYTHON,
        "local": {"autoStart": False},
    }


@pytest_lsp.fixture(config=CONFIG, scope="module")
async def client(request: pytest.FixtureRequest, lsp_client: LanguageClient):
    backend: Backend = request.getfixturevalue("backend")
    params = types.InitializeParams(
        capabilities=types.ClientCapabilities(
            window=types.WindowClientCapabilities(
                work_done_progress=True, show_document=types.ShowDocumentClientCapabilities(support=True)
            )
        ),
        root_uri=from_fs_path(str(WORKSPACE)),
        workspace_folders=[types.WorkspaceFolder(uri=from_fs_path(str(WORKSPACE)), name="ws")],
        initialization_options=_settings(backend),
    )
    await asyncio.wait_for(lsp_client.initialize_session(params), 30)
    yield
    await asyncio.wait_for(lsp_client.shutdown_session(), 30)


FLOWS_URI = from_fs_path(str(WORKSPACE / "demo" / "flows.py"))


async def command(
    client: LanguageClient, name: str, *arguments: Any, timeout: float = COMMAND_TIMEOUT
) -> Any:
    params = types.ExecuteCommandParams(command=name, arguments=list(arguments))
    result = await asyncio.wait_for(client.workspace_execute_command_async(params), timeout)
    return to_json(result)


async def executions(client: LanguageClient) -> list[dict[str, Any]]:
    result = await asyncio.wait_for(client.protocol.send_request_async("flyte/executions", {}), 30)
    items = to_json(result)
    return items if isinstance(items, list) else items.get("executions", [])


async def wait_for_phase(client: LanguageClient, name: str, phases: set[str]) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + RUN_DEADLINE
    last: dict[str, Any] = {}
    while loop.time() < deadline:
        for item in await executions(client):
            if item["execution"]["name"] == name:
                last = item
                if item["phase"] in phases:
                    return item
        await asyncio.sleep(0.5)
    raise AssertionError(f"execution {name} not in {phases} within {RUN_DEADLINE} s: {last}")


def _progress_of(client: LanguageClient, before: set[Any], entity: str) -> list[Any]:
    """The progress tokens created since ``before`` by a command on ``entity`` (others run meanwhile)."""
    return [
        token
        for token in set(client.progress_reports) - before
        if entity in str(getattr(client.progress_reports[token][0], "title", ""))
    ]


async def test_register_twice_is_the_same_version_and_an_edit_a_new_one(client: LanguageClient) -> None:
    first = await command(client, "flyte.register", {"uri": FLOWS_URI, "entity": "pipeline"})
    kinds = {(e["resourceType"], e["name"]) for e in first["entities"]}
    assert ("WORKFLOW", "demo.flows.pipeline") in kinds and ("TASK", "demo.flows.add_one") in kinds
    assert ("LAUNCH_PLAN", "demo.flows.pipeline") in kinds
    assert all(e["version"] == first["version"] and e["project"] == "flytesnacks" for e in first["entities"])
    assert sorted(first["packagedFiles"]) == ["demo/__init__.py", "demo/flows.py", "demo/helpers.py"]
    assert "/console/" in first["consoleUrl"]
    again = await command(client, "flyte.register", {"uri": FLOWS_URI, "entity": "pipeline"})
    assert again["version"] == first["version"]
    helpers = WORKSPACE / "demo" / "helpers.py"
    helpers.write_text(HELPERS + "\n# edited\n")
    try:
        edited = await command(client, "flyte.register", {"uri": FLOWS_URI, "entity": "pipeline"})
    finally:
        helpers.write_text(HELPERS)
    assert edited["version"] != first["version"]
    # Progress: created, begun, the registration steps, ended.
    reports = [r for rs in client.progress_reports.values() for r in rs]
    messages = [getattr(r, "message", None) for r in reports]
    assert "packaging" in messages and "uploading" in messages and "registering" in messages
    assert any(isinstance(r, types.WorkDoneProgressEnd) for r in reports)


async def test_execute_a_task_and_a_workflow_to_success(client: LanguageClient) -> None:
    task = await command(
        client, "flyte.execute", {"uri": FLOWS_URI, "entity": "add_one", "inputs": {"x": 41}}
    )
    assert set(task) == {"execution", "consoleUrl", "version"}
    assert task["execution"]["project"] == "flytesnacks" and task["execution"]["domain"] == "development"
    wf = await command(client, "flyte.execute", {"uri": FLOWS_URI, "entity": "pipeline", "inputs": {"x": 1}})
    assert task["consoleUrl"].endswith("/executions/" + task["execution"]["name"])
    done_task = await wait_for_phase(client, task["execution"]["name"], {"SUCCEEDED", "FAILED"})
    done_wf = await wait_for_phase(client, wf["execution"]["name"], {"SUCCEEDED", "FAILED"})
    assert done_task["phase"] == "SUCCEEDED", done_task
    assert done_wf["phase"] == "SUCCEEDED", done_wf
    assert done_wf["entity"] == "pipeline" and done_wf["uri"] == FLOWS_URI


async def test_inputs_file_and_signature_defaults(client: LanguageClient) -> None:
    # greet(name, excited=False): the YAML file gives both; explicit inputs override the file's.
    run = await command(
        client,
        "flyte.execute",
        {"uri": FLOWS_URI, "entity": "greet", "inputsFile": "inputs.yaml", "inputs": {"name": "override"}},
    )
    done = await wait_for_phase(client, run["execution"]["name"], {"SUCCEEDED", "FAILED"})
    assert done["phase"] == "SUCCEEDED", done
    # A default applies when the input is not given (a task: the worker's signature defaults).
    run = await command(
        client, "flyte.execute", {"uri": FLOWS_URI, "entity": "greet", "inputs": {"name": "x"}}
    )
    done = await wait_for_phase(client, run["execution"]["name"], {"SUCCEEDED", "FAILED"})
    assert done["phase"] == "SUCCEEDED", done


async def test_missing_inputs_are_listed_with_their_types(client: LanguageClient) -> None:
    before = set(client.progress_reports)
    with pytest.raises(JsonRpcException) as err:
        await command(client, "flyte.execute", {"uri": FLOWS_URI, "entity": "pipeline"})
    assert err.value.code == types.ErrorCodes.InvalidParams.value
    data = to_json(err.value.data)
    assert data == {"missingInputs": [{"name": "x", "type": "int", "typeInfo": {"kind": "int"}}]}, data
    assert "x (int)" in err.value.message
    # The progress ends with the reason, not a bare "failed".
    (token,) = _progress_of(client, before, "pipeline")
    end = client.progress_reports[token][-1]
    assert isinstance(end, types.WorkDoneProgressEnd)
    assert end.message == "failed: missing required inputs: x (int)", end.message


async def test_a_rejected_execute_ends_its_progress_with_the_reason(client: LanguageClient) -> None:
    before = set(client.progress_reports)
    with pytest.raises(JsonRpcException):
        await command(
            client, "flyte.execute", {"uri": FLOWS_URI, "entity": "add_one", "inputs": {"x": "five"}}
        )
    (token,) = _progress_of(client, before, "add_one")
    end = client.progress_reports[token][-1]
    assert isinstance(end, types.WorkDoneProgressEnd)
    assert end.message.startswith("failed: ") and "'x'" in end.message, end.message


@pytest.mark.parametrize(
    ("arguments", "fragment"),
    [
        ((), "one JSON object argument"),
        (("pipeline",), "one JSON object argument"),
        (({"entity": "pipeline"},), "`uri` is missing"),
        (({"uri": FLOWS_URI, "entity": 3},), "`entity` must be a non-empty string"),
        (({"uri": FLOWS_URI, "entity": "pipeline", "inputs": [1]},), "`inputs` must be an object"),
        (({"uri": "file:///nowhere/x.py", "entity": "pipeline"},), "not a file on disk"),
        (({"uri": FLOWS_URI, "entity": "pipeline", "inputs": {"nope": 1}},), "no input named 'nope'"),
        (({"uri": FLOWS_URI, "entity": "add_one", "inputs": {"x": "five"}},), "'x'"),
        (({"uri": FLOWS_URI, "entity": "greet", "inputsFile": "missing.yaml"},), "does not exist"),
    ],
)
async def test_bad_arguments_are_invalid_params(
    client: LanguageClient, arguments: tuple[Any, ...], fragment: str
) -> None:
    with pytest.raises(JsonRpcException) as err:
        await command(client, "flyte.execute", *arguments)
    assert err.value.code == types.ErrorCodes.InvalidParams.value, err.value
    assert fragment in err.value.message, err.value.message
    assert "flyte.execute" in err.value.message


async def test_bad_execution_argument_and_the_server_still_answers(client: LanguageClient) -> None:
    for name in ("flyte.terminate", "flyte.approve", "flyte.trackExecution", "flyte.downloadOutputs"):
        with pytest.raises(JsonRpcException) as err:
            await command(client, name, {"execution": 42})
        assert err.value.code == types.ErrorCodes.InvalidParams.value, (name, err.value)
        assert "`execution`" in err.value.message
    with pytest.raises(JsonRpcException) as err:
        await command(
            client, "flyte.backfill", {"uri": FLOWS_URI, "entity": "pipeline", "from": "monday", "to": "x"}
        )
    assert "ISO date" in err.value.message
    assert await executions(client) is not None  # still up


async def test_an_import_error_comes_back_with_the_users_frames(client: LanguageClient) -> None:
    broken = WORKSPACE / "demo" / "broken.py"
    broken.write_text("from flytekit import task\n\nraise RuntimeError('boom at import')\n")
    with pytest.raises(JsonRpcException) as err:
        await command(client, "flyte.register", {"uri": from_fs_path(str(broken)), "entity": "anything"})
    assert "boom at import" in err.value.message
    data = to_json(err.value.data)
    assert data["kind"] == "import"
    assert any(f["file"].endswith("broken.py") and f["line"] == 3 for f in data["frames"]), data


async def test_terminate_and_track_by_console_url(client: LanguageClient) -> None:
    run = await command(
        client, "flyte.execute", {"uri": FLOWS_URI, "entity": "sleepy", "inputs": {"seconds": 120}}
    )
    name = run["execution"]["name"]
    await wait_for_phase(client, name, {"QUEUED", "RUNNING"})
    tracked = await command(client, "flyte.trackExecution", {"url": run["consoleUrl"]})
    assert tracked["execution"] == run["execution"]
    await command(client, "flyte.terminate", {"execution": run["execution"], "cause": "test"})
    done = await wait_for_phase(client, name, {"ABORTED", "FAILED", "SUCCEEDED"})
    assert done["phase"] == "ABORTED", done


async def test_open_console_shows_the_execution_page_externally(client: LanguageClient) -> None:
    run = await command(client, "flyte.execute", {"uri": FLOWS_URI, "entity": "add_one", "inputs": {"x": 1}})
    result = await command(client, "flyte.openConsole", {"execution": run["execution"]})
    assert result == {"consoleUrl": run["consoleUrl"], "shown": True}
    shown = client.shown_documents[-1]
    assert shown.uri == run["consoleUrl"] and shown.external is True


async def test_backend_down_is_a_clear_error_and_the_server_stays_up(
    client: LanguageClient, backend: Backend
) -> None:
    dead = f"127.0.0.1:{free_port()}"
    tracked_before = {e["execution"]["name"] for e in await executions(client)}
    client.workspace_did_change_configuration(
        types.DidChangeConfigurationParams(settings={"flyte": {**_settings(backend), "endpoint": dead}})
    )
    try:
        with pytest.raises(JsonRpcException) as err:
            await command(client, "flyte.register", {"uri": FLOWS_URI, "entity": "add_one"}, timeout=90)
        assert dead in err.value.message, err.value.message
        assert "flyte.endpoint" in err.value.message, err.value.message
        assert err.value.code == types.LSPErrorCodes.RequestFailed.value
    finally:
        client.workspace_did_change_configuration(
            types.DidChangeConfigurationParams(settings={"flyte": _settings(backend)})
        )
    again = await command(client, "flyte.register", {"uri": FLOWS_URI, "entity": "add_one"})
    assert again["version"]
    # The backend was rebuilt twice; the tracked executions stayed.
    assert tracked_before <= {e["execution"]["name"] for e in await executions(client)}


async def test_relaunch_and_download_outputs(client: LanguageClient) -> None:
    run = await command(client, "flyte.execute", {"uri": FLOWS_URI, "entity": "add_one", "inputs": {"x": 41}})
    done = await wait_for_phase(client, run["execution"]["name"], {"SUCCEEDED", "FAILED"})
    assert done["phase"] == "SUCCEEDED", done
    again = await command(client, "flyte.relaunch", {"execution": run["execution"]})
    assert again["execution"]["name"] != run["execution"]["name"]
    redone = await wait_for_phase(client, again["execution"]["name"], {"SUCCEEDED", "FAILED"})
    assert redone["phase"] == "SUCCEEDED" and redone["entity"] == "add_one", redone
    got = await command(client, "flyte.downloadOutputs", {"execution": run["execution"]})
    assert got["to"] == str(WORKSPACE / "flyte-outputs" / run["execution"]["name"])
    assert Path(got["outputs"]["o0"]).read_text().strip() == "42"
    elsewhere = await command(
        client,
        "flyte.downloadOutputs",
        {"execution": "ex:flytesnacks:development:" + run["execution"]["name"], "to": "out"},
    )
    assert elsewhere["to"] == str(WORKSPACE / "out") and Path(elsewhere["outputs"]["o0"]).is_file()


async def test_activate_a_launch_plan_and_backfill_it(client: LanguageClient, backend: Backend) -> None:
    from flyte_ls.remote.remote import AsyncFlyteRemote

    activated = await command(client, "flyte.activateLaunchPlan", {"uri": FLOWS_URI, "entity": "daily"})
    lp = activated["launchPlan"]
    assert (lp["resourceType"], lp["name"]) == ("LAUNCH_PLAN", "demo.flows.daily")
    async with AsyncFlyteRemote.for_endpoint(f"127.0.0.1:{backend.port}", insecure=True) as remote:
        active = await remote.fetch_active_launchplan("flytesnacks", "development", "demo.flows.daily")
    assert active is not None and active.id.version == lp["version"]
    run = await command(
        client,
        "flyte.backfill",
        {
            "uri": FLOWS_URI,
            "entity": "daily",
            "from": "2026-01-01",
            "to": "2026-01-03T12:00",
            "parallel": True,
        },
    )
    assert run["version"] == lp["version"]
    done = await wait_for_phase(client, run["execution"]["name"], {"SUCCEEDED", "FAILED"})
    assert done["phase"] == "SUCCEEDED", done


async def _until_accepted(client: LanguageClient, name: str, argument: dict[str, Any]) -> Any:
    """Answer a gate: the signal exists once the execution reaches the gate node (retried until then)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + RUN_DEADLINE
    while True:
        try:
            return await command(client, name, argument)
        except JsonRpcException as err:
            if "no signal" not in err.message or loop.time() > deadline:
                raise
        await asyncio.sleep(0.5)


async def _wait_for_gate(client: LanguageClient, name: str, signal_id: str) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + RUN_DEADLINE
    while loop.time() < deadline:
        for item in await executions(client):
            if item["execution"]["name"] == name:
                for gate in item["gates"]:
                    if gate["signalId"] == signal_id:
                        return dict(gate)
        await asyncio.sleep(0.3)
    raise AssertionError(f"execution {name} never waited for {signal_id}")


async def test_approve_and_set_input_through_the_gates(client: LanguageClient) -> None:
    run = await command(client, "flyte.execute", {"uri": FLOWS_URI, "entity": "gated", "inputs": {"x": 1}})
    execution = run["execution"]
    await _until_accepted(client, "flyte.approve", {"execution": execution, "signalId": "review"})
    # The input gate waits, with a typed description a client builds its prompt from.
    waiting = await _wait_for_gate(client, execution["name"], "title")
    assert waiting["kind"] == "input" and waiting["typeInfo"] == {"kind": "str"}, waiting
    with pytest.raises(JsonRpcException) as err:  # a value of the wrong type is the user's to fix
        await _until_accepted(
            client, "flyte.setInput", {"execution": execution, "signalId": "title", "value": 3}
        )
    assert err.value.code == types.ErrorCodes.InvalidParams.value and "title" in err.value.message
    await command(client, "flyte.setInput", {"execution": execution, "signalId": "title", "value": "gate"})
    done = await wait_for_phase(client, execution["name"], {"SUCCEEDED", "FAILED"})
    assert done["phase"] == "SUCCEEDED", done


async def test_reject_fails_the_execution(client: LanguageClient) -> None:
    run = await command(client, "flyte.execute", {"uri": FLOWS_URI, "entity": "gated", "inputs": {"x": 1}})
    await _until_accepted(client, "flyte.reject", {"execution": run["execution"], "signalId": "review"})
    done = await wait_for_phase(client, run["execution"]["name"], {"SUCCEEDED", "FAILED", "ABORTED"})
    assert done["phase"] == "FAILED", done


async def test_cancelling_the_progress_stops_between_steps(client: LanguageClient) -> None:
    before = set(client.progress_reports)
    slow_uri = from_fs_path(str(WORKSPACE / "demo" / "slow.py"))
    call = asyncio.ensure_future(
        command(client, "flyte.execute", {"uri": slow_uri, "entity": "later", "inputs": {"x": 1}})
    )
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30
    while not set(client.progress_reports) - before:
        assert loop.time() < deadline and not call.done(), "no progress token"
        await asyncio.sleep(0.05)
    (token,) = set(client.progress_reports) - before
    client.window_work_done_progress_cancel(types.WorkDoneProgressCancelParams(token=token))
    with pytest.raises(JsonRpcException) as err:
        await call
    assert err.value.code == types.LSPErrorCodes.RequestCancelled.value, err.value
    assert isinstance(client.progress_reports[token][-1], types.WorkDoneProgressEnd)
    assert not any(getattr(r, "message", "") == "launching" for r in client.progress_reports[token])


async def test_open_console_of_a_registered_entity(client: LanguageClient) -> None:
    registered = await command(client, "flyte.register", {"uri": FLOWS_URI, "entity": "greet"})
    result = await command(client, "flyte.openConsole", {"uri": FLOWS_URI, "entity": "greet"})
    assert result["consoleUrl"] == registered["consoleUrl"] and result["shown"] is True
    with pytest.raises(JsonRpcException) as err:
        await command(client, "flyte.openConsole", {"uri": FLOWS_URI, "entity": "stamp"})
    assert "run or register it first" in err.value.message


async def test_a_python_path_without_flytekit_is_named_with_the_remedy(
    client: LanguageClient, backend: Backend
) -> None:
    python = sys.base_prefix + "/bin/python3"  # the interpreter the venv was made from: no flytekit
    client.workspace_did_change_configuration(
        types.DidChangeConfigurationParams(settings={"flyte": {**_settings(backend), "pythonPath": python}})
    )
    try:
        with pytest.raises(JsonRpcException) as err:
            await command(client, "flyte.register", {"uri": FLOWS_URI, "entity": "add_one"}, timeout=120)
        assert python in err.value.message and "pip install flytekit" in err.value.message, err.value.message
        assert to_json(err.value.data)["kind"] == "flytekit"
    finally:
        client.workspace_did_change_configuration(
            types.DidChangeConfigurationParams(settings={"flyte": _settings(backend)})
        )
    again = await command(client, "flyte.register", {"uri": FLOWS_URI, "entity": "add_one"})
    assert again["version"]
