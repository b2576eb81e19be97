"""``flyte-ls serve --tcp HOST:PORT --log-file F``: the same protocol over TCP, with the log in a file."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.timeout(60)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def send(writer: asyncio.StreamWriter, message: dict[str, Any]) -> None:
    body = json.dumps({"jsonrpc": "2.0", **message}).encode()
    writer.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
    await writer.drain()


async def receive(reader: asyncio.StreamReader, msg_id: int) -> dict[str, Any]:
    """The response to ``msg_id`` (notifications such as window/logMessage are skipped)."""
    while True:
        length = 0
        while (line := await reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode().partition(":")
            if name.lower() == "content-length":
                length = int(value)
        message = json.loads(await reader.readexactly(length))
        if message.get("id") == msg_id:
            return message  # type: ignore[no-any-return]


async def connect(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 15
    while True:
        try:
            return await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            if loop.time() > deadline:
                raise
            await asyncio.sleep(0.1)


async def test_tcp_and_log_file(tmp_path: Path) -> None:
    port = free_port()
    log_file = tmp_path / "flyte-ls.log"
    cmd = [
        sys.executable,
        "-m",
        "flyte_ls",
        "serve",
        "--tcp",
        f"127.0.0.1:{port}",
        "--log-file",
        str(log_file),
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        reader, writer = await connect(port)
        await send(
            writer, {"id": 1, "method": "initialize", "params": {"processId": None, "capabilities": {}}}
        )
        response = await asyncio.wait_for(receive(reader, 1), 15)
        assert response["result"]["serverInfo"]["name"] == "flyte-ls"
        assert response["result"]["capabilities"]["codeLensProvider"]["resolveProvider"] is True
        await send(writer, {"method": "initialized", "params": {}})
        await send(
            writer, {"id": 2, "method": "flyte/entities", "params": {"textDocument": {"uri": "untitled:x"}}}
        )
        error = (await asyncio.wait_for(receive(reader, 2), 15))["error"]
        assert error["code"] == -32602 and "neither an open document" in error["message"]
        await send(writer, {"id": 3, "method": "shutdown"})
        await asyncio.wait_for(receive(reader, 3), 15)
        await send(writer, {"method": "exit"})
        writer.close()
        proc.wait(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert (
        proc.stdout is not None and proc.stdout.read() == b""
    )  # nothing but the protocol, and that went to TCP
    log = log_file.read_text()
    assert "initialising" in log and "flyte/entities" in log


def test_a_bad_tcp_address_is_a_usage_error() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "flyte_ls", "serve", "--tcp", "nowhere"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 2
    assert "HOST:PORT" in proc.stderr
