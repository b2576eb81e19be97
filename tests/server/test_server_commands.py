"""The ``flyte.*`` commands over stdio (pytest-lsp) against a real local backend and a real worker.

The backend is ``flyte-ls local start`` in a temp state dir; the server is configured with ``endpoint`` +
``insecure`` pointing at it and ``pythonPath`` = the venv's interpreter (which has flytekit), and its user
cache is a temp dir (worker copy, tracked executions). The workspace is a temp folder with a package of
tasks and a workflow that imports a sibling module.
"""

from __future__ import annotations

import asyncio
import os
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

from flytekit import task, workflow

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
"""


@pytest.fixture(scope="module", autouse=True)
def backend(tmp_path_factory: pytest.TempPathFactory):
    package = WORKSPACE / "demo"
    package.mkdir(exist_ok=True)
    (package / "__init__.py").write_text("")
    (package / "helpers.py").write_text(HELPERS)
    (package / "flows.py").write_text(FLOWS)
    (WORKSPACE / "inputs.yaml").write_text("name: yaml\nexcited: true\n")
    started = start_backend(tmp_path_factory.mktemp("backend") / "state")
    try:
        yield started
    finally:
        started.stop()


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
    with pytest.raises(JsonRpcException) as err:
        await command(client, "flyte.execute", {"uri": FLOWS_URI, "entity": "pipeline"})
    assert err.value.code == types.ErrorCodes.InvalidParams.value
    data = to_json(err.value.data)
    assert data == {"missingInputs": [{"name": "x", "type": "int"}]}, data
    assert "x (int)" in err.value.message


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
