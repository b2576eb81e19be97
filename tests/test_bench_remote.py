"""bench/remote_client.py's parts that need no backend (nothing timed): the counting proxy forwards real gRPC
calls (bytes, metadata, errors) and counts them by method; its docs/performance.md section replaces itself and
keeps the other sections and the hand-written notes."""

from __future__ import annotations

import sys
from concurrent import futures
from pathlib import Path
from typing import Any

import grpc
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

import remote_client
import report

pytestmark = pytest.mark.timeout(60)


class Echo(grpc.GenericRpcHandler):
    def service(self, handler_call_details: Any) -> grpc.RpcMethodHandler:
        def handle(request: bytes, context: grpc.ServicerContext) -> bytes:
            if request == b"fail":
                context.abort(grpc.StatusCode.NOT_FOUND, "no such thing")
            key = dict(context.invocation_metadata()).get("x-key", "")
            return request[::-1] + key.encode()

        return grpc.unary_unary_rpc_method_handler(handle)


def test_counting_proxy_forwards_and_counts() -> None:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4), handlers=[Echo()])
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    proxy = remote_client.CountingProxy(f"127.0.0.1:{port}")
    try:
        with grpc.insecure_channel(f"127.0.0.1:{proxy.port}") as channel:
            get = channel.unary_unary("/flyteidl.service.AdminService/GetExecution")
            assert get(b"abc", metadata=[("x-key", "k")], timeout=10) == b"cbak"
            assert get(b"xy", timeout=10) == b"yx"
            with pytest.raises(grpc.RpcError) as err:
                channel.unary_unary("/flyteidl.service.AdminService/ListNodeExecutions")(b"fail", timeout=10)
            assert err.value.code() == grpc.StatusCode.NOT_FOUND
        assert proxy.take() == {"GetExecution": 2, "ListNodeExecutions": 1}
        assert proxy.take() == {}
    finally:
        proxy.stop()
        server.stop(None)


def result() -> dict[str, Any]:
    follow = {"runs": [{}], "median_wall_s": 10.0, "median_rpcs": 25}
    return {
        "date": "2026-01-01 00:00 UTC",
        "load_avg_at_start": (0.1, 0.2, 0.3),
        "load_avg_at_end": (0.1, 0.2, 0.3),
        "imports": {"n": 3, "ours_median_s": 0.1, "theirs_median_s": 0.4, "ratio": 0.25},
        "follow": {
            "ours": {
                **follow,
                "median_rpcs": 25,
                "median_one_node_rpcs": 2,
                "median_everything_rpcs": 33,
                "by_method_last": {"GetExecution": 11, "GetExecutionData": 1, "ListNodeExecutions": 1},
                "one_node_by_method_last": {"ListTaskExecutions": 1, "GetNodeExecutionData": 1},
            },
            "flytekit": {**follow, "median_rpcs": 600, "by_method_last": {"GetExecution": 12, "X": 588}},
            "rpc_ratio": 24.0,
        },
        "execute": {
            "ours": {"walls_s": [0.01], "median_s": 0.01, "rpcs_per_execute": 2},
            "flytekit": {"walls_s": [0.01], "median_s": 0.012, "rpcs_per_execute": 2},
        },
    }


def test_section_replaces_itself_and_keeps_the_rest(tmp_path: Path) -> None:
    doc = tmp_path / "performance.md"
    doc.write_text(f"# Performance\n\nother section\n\n{report.NOTES_MARKER}\nnotes\n")
    remote_client.update_doc(doc, result())
    remote_client.update_doc(doc, result())
    text = doc.read_text()
    assert text.count(remote_client.BEGIN) == 1 and text.count(remote_client.END) == 1
    assert text.index("other section") < text.index(remote_client.BEGIN) < text.index(report.NOTES_MARKER)
    assert text.endswith("notes\n")
    assert "| 25 | 600 | 1/24.0 |" in text
    assert [v.rsplit(" ", 1)[1] for v in remote_client.verdicts(result())] == ["pass", "pass"]
    remote_client.update_doc(doc, {"error": "boom"})
    assert "failed in this run: boom" in doc.read_text() and "| 25 |" not in doc.read_text()
