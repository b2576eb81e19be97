"""Caching of discoverable tasks (reference §4 "Caching"), kept in the Store so it survives a restart.

The key is datacatalog's: dataset ``flyte_task-<task name>`` in the task's project and domain, dataset
version ``<cache version>-<hash of the input variables>-<hash of the output variables>``, and artifact tag
``flyte_cached-<hash of the inputs>``. The inputs hash covers the input literal map without the task's
``cache_ignore_input_vars``, each literal with ``hash`` set replaced by that hash (flytekit's
``HashMethod`` / ``Annotated[..., HashMethod]`` values). The node's ``cacheable`` / ``cache_version`` override
the task's ``discoverable`` / ``discovery_version``. Hashes are sha256 (base64url), so keys are stable across
restarts but not byte-identical with a datacatalog's.

A hit copies the stored outputs to the node without running the task (no TaskExecution); a miss runs it and
puts the outputs (``CACHE_POPULATED``); ``overwrite_cache`` skips the lookup and puts, and the node keeps
``CACHE_SKIPPED`` (propeller's final event would say POPULATED, from the put; SKIPPED tells the user the
cache was bypassed). Map tasks / ArrayNodes are cached per index (key: that index's inputs; the status of
each index is in the task execution's ``external_resources``). Not cached: tasks without outputs (as
propeller) and ``@dynamic`` tasks (they always run).

``cache_serializable`` (``Cache(serialize=True)``): runs of one key by this executor take turns (propeller's
reservation): the first runs and puts, the others then hit; without it, concurrent misses of one key all run
and the last put wins.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

from flyteidl.admin import node_execution_pb2
from flyteidl.core import catalog_pb2, identifier_pb2, interface_pb2, literals_pb2, tasks_pb2, workflow_pb2
from google.protobuf.message import Message

from flyte_ls.local.store import CacheRow, Store

Status = catalog_pb2.CatalogCacheStatus


def _digest(message: Message) -> str:
    raw = hashlib.sha256(message.SerializeToString(deterministic=True)).digest()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _hashed(literal: literals_pb2.Literal) -> literals_pb2.Literal:
    """The literal as the cache key sees it: a literal with ``hash`` becomes only that hash."""
    if literal.hash:
        return literals_pb2.Literal(hash=literal.hash)
    if literal.HasField("collection"):
        items = [_hashed(item) for item in literal.collection.literals]
        return literals_pb2.Literal(collection=literals_pb2.LiteralCollection(literals=items))
    if literal.HasField("map"):
        out = literals_pb2.Literal()
        out.map.SetInParent()
        for key, item in literal.map.literals.items():
            out.map.literals[key].CopyFrom(_hashed(item))
        return out
    return literal


@dataclass(frozen=True)
class CacheKey:
    project: str
    domain: str
    dataset: str  # flyte_task-<task name>
    version: str  # <cache version>-<input variables hash>-<output variables hash>
    tag: str  # flyte_cached-<inputs hash>

    def catalog_key(
        self, source: identifier_pb2.TaskExecutionIdentifier | None
    ) -> catalog_pb2.CatalogMetadata:
        meta = catalog_pb2.CatalogMetadata(
            dataset_id=identifier_pb2.Identifier(
                resource_type=identifier_pb2.DATASET,
                project=self.project,
                domain=self.domain,
                name=self.dataset,
                version=self.version,
            ),
            artifact_tag=catalog_pb2.CatalogArtifactTag(artifact_id=self.tag, name=self.tag),
        )
        if source is not None:
            meta.source_task_execution.CopyFrom(source)
        return meta


def cache_key(
    template: tasks_pb2.TaskTemplate, node: workflow_pb2.Node, inputs: literals_pb2.LiteralMap
) -> CacheKey | None:
    """The cache key of a task node's run with ``inputs``, or None when the task is not cached."""
    meta, node_meta = template.metadata, node.metadata
    enabled = node_meta.cacheable if node_meta.HasField("cacheable") else meta.discoverable
    if not enabled or not template.interface.outputs.variables:  # propeller: nothing to cache, DISABLED
        return None
    version = node_meta.cache_version if node_meta.HasField("cache_version") else meta.discovery_version
    ignored = set(meta.cache_ignore_input_vars)
    kept = literals_pb2.LiteralMap()
    for name, literal in inputs.literals.items():
        if name not in ignored:
            kept.literals[name].CopyFrom(_hashed(literal))
    iface = template.interface
    signature = f"{_digest(_vars(iface.inputs))}-{_digest(_vars(iface.outputs))}"
    return CacheKey(
        project=template.id.project,
        domain=template.id.domain,
        dataset=f"flyte_task-{template.id.name}",
        version=f"{version}-{signature}",
        tag=f"flyte_cached-{_digest(kept)}",
    )


def _vars(variables: interface_pb2.VariableMap) -> interface_pb2.VariableMap:
    """Only the names and types (descriptions do not change what a task computes)."""
    out = interface_pb2.VariableMap()
    for name, var in variables.variables.items():
        out.variables[name].type.CopyFrom(var.type)
    return out


@dataclass(frozen=True)
class CachedOutputs:
    outputs: literals_pb2.LiteralMap
    source: identifier_pb2.TaskExecutionIdentifier


def cache_serializable(template: tasks_pb2.TaskTemplate, node: workflow_pb2.Node) -> bool:
    node_meta = node.metadata
    if node_meta.HasField("cache_serializable"):
        return node_meta.cache_serializable
    return template.metadata.cache_serializable


class TaskCache:
    """The task output cache of one Store, and the turns of serialized keys (use on one event loop)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._turns: dict[CacheKey, tuple[asyncio.Lock, list[int]]] = {}

    @contextlib.asynccontextmanager
    async def serialized(self, key: CacheKey, serialize: bool) -> AsyncIterator[None]:
        """Hold ``key``'s turn while a serializable task looks up, runs and puts (no-op otherwise)."""
        if not serialize:
            yield
            return
        lock, users = self._turns.setdefault(key, (asyncio.Lock(), [0]))
        users[0] += 1
        try:
            async with lock:
                yield
        finally:
            users[0] -= 1
            if users[0] == 0:
                self._turns.pop(key, None)

    def get(self, key: CacheKey) -> CachedOutputs | None:
        row = self.store.get_cached(key.project, key.domain, key.dataset, key.version, key.tag)
        if row is None:
            return None
        return CachedOutputs(
            literals_pb2.LiteralMap.FromString(row.outputs),
            identifier_pb2.TaskExecutionIdentifier.FromString(row.source),
        )

    def put(
        self,
        key: CacheKey,
        outputs: literals_pb2.LiteralMap,
        source: identifier_pb2.TaskExecutionIdentifier,
    ) -> None:
        self.store.put_cached(
            CacheRow(
                0,
                key.project,
                key.domain,
                key.dataset,
                key.version,
                key.tag,
                time.time(),
                outputs.SerializeToString(deterministic=True),
                source.SerializeToString(deterministic=True),
            )
        )


def node_metadata(
    status: int, key: CacheKey, source: identifier_pb2.TaskExecutionIdentifier | None = None
) -> node_execution_pb2.TaskNodeMetadata:
    """The node closure's ``task_node_metadata`` for a cached task: the status, and the catalog key when
    outputs were read from or written to the cache (``source``: the attempt that produced them)."""
    meta = node_execution_pb2.TaskNodeMetadata(cache_status=status)
    if source is not None:
        meta.catalog_key.CopyFrom(key.catalog_key(source))
    return meta


def lookup(cache: TaskCache, key: CacheKey, overwrite: bool) -> tuple[CachedOutputs | None, int]:
    """A cache hit (or None), and the status of the node's run when it missed."""
    if overwrite:
        return None, Status.CACHE_SKIPPED
    try:
        return cache.get(key), Status.CACHE_MISS
    except Exception:  # a damaged entry: the task runs
        return None, Status.CACHE_LOOKUP_FAILURE


def populate(
    cache: TaskCache,
    key: CacheKey,
    status: int,
    outputs: literals_pb2.LiteralMap | None,
    source: identifier_pb2.TaskExecutionIdentifier,
) -> node_execution_pb2.TaskNodeMetadata:
    """Put the outputs of a successful run (``outputs`` None: the run failed, nothing is put); the node's
    cache metadata."""
    if outputs is None:
        return node_metadata(status, key)
    try:
        cache.put(key, outputs, source)
    except Exception:
        return node_metadata(Status.CACHE_PUT_FAILURE, key)
    return node_metadata(Status.CACHE_POPULATED if status == Status.CACHE_MISS else status, key, source)
