"""Task nodes of a :class:`~flyte_ls.local.executor.engine.WorkflowRun` (a mixin): attempts with retries
and timeouts through :func:`~flyte_ls.local.runner.run_task_attempt_async`, the cache (:mod:`.cache`),
``@dynamic`` sub-DAGs and ArrayNodes (map tasks)."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import math
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING

from flyteidl.core import (
    catalog_pb2,
    compiler_pb2,
    dynamic_job_pb2,
    execution_pb2,
    identifier_pb2,
    literals_pb2,
    tasks_pb2,
    workflow_pb2,
)

from flyte_ls.local.compiler import compile_dynamic_job
from flyte_ls.local.errors import AdminError
from flyte_ls.local.executor.cache import cache_key, cache_serializable, lookup, node_metadata, populate
from flyte_ls.local.executor.config import IdKey, Scope, entity_key
from flyte_ls.local.executor.notebook import explain_error, missing_pickle
from flyte_ls.local.executor.observer import IndexRun, NodeRef, RunObserver
from flyte_ls.local.executor.recovery import recovered_futures
from flyte_ls.local.executor.result import NodeResult as _Result
from flyte_ls.local.executor.result import failed as _failed
from flyte_ls.local.executor.result import write_map as _write
from flyte_ls.local.runner import (
    AttemptPaths,
    AttemptPhase,
    ErrorOrigin,
    run_task_attempt_async,
)

if TYPE_CHECKING:
    from flyte_ls.local.executor.config import RunConfig

NodePhase = execution_pb2.NodeExecution
TaskPhase = execution_pb2.TaskExecution
Status = catalog_pb2.CatalogCacheStatus
USER = execution_pb2.ExecutionError.USER
SYSTEM = execution_pb2.ExecutionError.SYSTEM
_TASK_PHASE = {
    NodePhase.SUCCEEDED: TaskPhase.SUCCEEDED,
    NodePhase.FAILED: TaskPhase.FAILED,
    NodePhase.ABORTED: TaskPhase.ABORTED,
}
_key = entity_key
_Scope = Scope


class NodeSlot:
    """A node's place in the execution's ``max_parallelism`` budget (no budget: a no-op); released once."""

    def __init__(self, slots: asyncio.Semaphore | None) -> None:
        self._slots = slots
        self._held = False

    async def acquire(self) -> None:
        if self._slots is not None:
            await self._slots.acquire()
            self._held = True

    def release(self) -> None:
        if self._held and self._slots is not None:
            self._held = False
            self._slots.release()


class TaskNodes:
    """The task-node half of :class:`~flyte_ls.local.executor.engine.WorkflowRun` (which sets these)."""

    closure: compiler_pb2.CompiledWorkflowClosure
    config: RunConfig
    observer: RunObserver
    raw_dir: Path
    log_dir: Path
    work_dir: Path
    _tasks: dict[IdKey, tasks_pb2.TaskTemplate]
    _subworkflows: dict[IdKey, compiler_pb2.CompiledWorkflow]
    _slots: asyncio.Semaphore | None
    _node_slots: dict[str, NodeSlot]  # the slots held by running task / launch-plan nodes
    _execution_id: identifier_pb2.WorkflowExecutionIdentifier

    async def _run_workflow(
        self,
        compiled: compiler_pb2.CompiledWorkflow,
        inputs: literals_pb2.LiteralMap,
        scope: Scope,
        top: bool = False,
    ) -> _Result:
        raise NotImplementedError  # WorkflowRun's

    @contextlib.asynccontextmanager
    async def _slot(self) -> AsyncIterator[None]:
        if self._slots is None:
            yield
            return
        async with self._slots:
            yield

    def _attempt_paths(
        self, ref: NodeRef, attempt: int, input_path: Path, index: int | None = None
    ) -> AttemptPaths:
        assert ref.data_dir is not None
        sub_id = ref.unique_id if index is None else f"{ref.unique_id}-n{index}"
        name = f"{self.config.execution.name}-{sub_id}"
        # an ArrayNode index writes to <array output dir>/<index>/<attempt>
        out_dir = ref.data_dir if index is None else ref.data_dir / "0" / str(index)

        def raw(n: int) -> Path:
            leaf = f"{name}-{n}"
            if len(leaf) > 50:
                leaf = hashlib.sha1(leaf.encode()).hexdigest()
            return self.raw_dir / hashlib.sha1(leaf.encode()).hexdigest()[:2] / leaf

        return AttemptPaths(
            # the full inputs of the array node; a copy per index, as the runner (re)writes its inputs file
            inputs=input_path if index is None else out_dir / "inputs.pb",
            output_prefix=out_dir / str(attempt),
            raw_output_prefix=raw(attempt),
            checkpoint=raw(attempt) / "_flytecheckpoints",
            prev_checkpoint=raw(attempt - 1) / "_flytecheckpoints" if attempt > 0 else None,
            workdir=self.work_dir / f"{sub_id}-{attempt}",
            log=self.log_dir / f"{sub_id}-{attempt}.log",
        )

    def _task_execution_id(
        self, ref: NodeRef, template: tasks_pb2.TaskTemplate, attempt: int
    ) -> identifier_pb2.TaskExecutionIdentifier:
        """The id of one attempt of ``ref``'s task: the source a cache entry it populates points at."""
        return identifier_pb2.TaskExecutionIdentifier(
            task_id=template.id,
            node_execution_id=identifier_pb2.NodeExecutionIdentifier(
                node_id=ref.unique_id, execution_id=self._execution_id
            ),
            retry_attempt=attempt,
        )

    def _template(self, node: workflow_pb2.Node) -> tasks_pb2.TaskTemplate | _Result:
        template = self._tasks.get(_key(node.task_node.reference_id))
        if template is None:
            return _failed("TaskNotFound", f"task [{node.task_node.reference_id.name}] is not in the closure")
        if not template.HasField("container"):
            return _failed("Unimplemented", f"tasks of type [{template.type}] are not supported locally yet")
        missing = missing_pickle(template)
        if missing is not None:  # not a crashing pyflyte-fast-execute retried as a system error
            return _failed("NotebookPickleNotFound", missing, USER)
        return template

    async def _task_node(
        self, node: workflow_pb2.Node, ref: NodeRef, inputs: literals_pb2.LiteralMap, input_path: Path
    ) -> _Result:
        template = self._template(node)
        if isinstance(template, _Result):
            return template
        assert ref.data_dir is not None
        recovered = recovered_futures(self.config.recover_from.get(ref.unique_id), ref.data_dir)
        if recovered is not None:  # RecoverExecution: the original's DynamicJobSpec, the task not run again
            futures, futures_uri, attempt = recovered
            done = _Result(NodePhase.SUCCEEDED, futures=futures, futures_uri=futures_uri, attempt=attempt)
            return await self._dynamic(ref, template, inputs, done)
        cache = self.config.cache
        key = cache_key(template, node, inputs) if cache is not None else None
        if cache is None or key is None:
            result = await self._attempts(node, ref, template, inputs, input_path)
            if result.futures is not None:
                return await self._dynamic(ref, template, inputs, result)
            return result
        async with cache.serialized(key, cache_serializable(template, node)):
            hit, status = lookup(cache, key, self.config.overwrite_cache)
            if hit is not None:  # no attempt at all: the outputs of the attempt that populated the cache
                meta = node_metadata(Status.CACHE_HIT, key, hit.source)
                return _Result(NodePhase.SUCCEEDED, outputs=hit.outputs, task_node_metadata=meta)
            result = await self._attempts(node, ref, template, inputs, input_path)
            if result.futures is not None:
                return await self._dynamic(ref, template, inputs, result)  # @dynamic: not cached
            source = self._task_execution_id(ref, template, result.attempt)
            ok = result.phase == NodePhase.SUCCEEDED
            result.task_node_metadata = populate(cache, key, status, result.outputs if ok else None, source)
            return result

    async def _dynamic(
        self, ref: NodeRef, template: tasks_pb2.TaskTemplate, inputs: literals_pb2.LiteralMap, done: _Result
    ) -> _Result:
        """A ``@dynamic`` task returned futures.pb: compile the DynamicJobSpec (propeller's ``dynamic_<node>``
        workflow) and run it with the node as parent (child ids ``<node>-<attempt>-dn0``...)."""
        assert done.futures is not None and ref.data_dir is not None
        spec = dynamic_job_pb2.DynamicJobSpec.FromString(done.futures)
        workflow_id = identifier_pb2.Identifier(
            resource_type=identifier_pb2.WORKFLOW,
            project=template.id.project,
            domain=template.id.domain,
            name=f"dynamic_{ref.unique_id}",
            version=hashlib.sha1(done.futures).hexdigest()[:16],
        )
        try:
            compiled = compile_dynamic_job(
                spec,
                workflow_id,
                template.interface,
                self.config.children.launch_plan_interface if self.config.children else lambda _: None,
                lambda ident: self._tasks.get(_key(ident)),
            )
        except AdminError as exc:
            return _failed("DynamicWorkflowCompileFailure", str(exc), USER)
        for task in compiled.tasks:
            self._tasks.setdefault(_key(task.template.id), task.template)
        for sub in compiled.sub_workflows:
            self._subworkflows.setdefault(_key(sub.template.id), sub)
        self.observer.dynamic_workflow(ref, compiled, futures_uri=done.futures_uri)
        self.observer.dynamic_running(ref)
        slot = self._node_slots.get(ref.unique_id)
        if (
            slot is not None
        ):  # the sub-DAG's task nodes need the slots (propeller counts them, not the parent)
            slot.release()
        scope = _Scope(ref.unique_id, ref.data_dir / str(done.attempt), retry_group=str(done.attempt))
        result = await self._run_workflow(compiled.primary, inputs, scope)
        return _Result(result.phase, outputs=result.outputs, error=result.error, deck_uri=done.deck_uri)

    async def _array_node(
        self, node: workflow_pb2.Node, ref: NodeRef, inputs: literals_pb2.LiteralMap, input_path: Path
    ) -> _Result:
        """flytekit's map_task: an ArrayNode over a task node; every index runs `pyflyte-map-execute` on the
        array node's full inputs with FLYTE_K8S_ARRAY_INDEX, and the outputs are gathered into lists."""
        array = node.array_node
        if array.node.WhichOneof("target") != "task_node":
            return _failed(
                "Unimplemented", "ArrayNodes over anything but a task are not supported locally yet"
            )
        template = self._template(array.node)
        if isinstance(template, _Result):
            return template
        bound = set(array.bound_inputs)
        sizes = {
            len(lit.collection.literals)
            for var, lit in inputs.literals.items()
            if var not in bound and lit.HasField("collection")
        }
        if len(sizes) > 1:
            return _failed(
                "InvalidArrayLength", f"the list inputs of [{node.id}] have different lengths {sorted(sizes)}"
            )
        size = sizes.pop() if sizes else 0
        criteria = array.WhichOneof("success_criteria")
        if criteria == "min_successes":
            needed = array.min_successes
        elif criteria == "min_success_ratio":
            needed = math.ceil(array.min_success_ratio * size)
        else:
            needed = size
        limit = array.parallelism if array.WhichOneof("parallelism_option") == "parallelism" else 0
        gate = asyncio.Semaphore(limit) if limit > 0 else None

        async def run(index: int) -> _Result:
            if gate is None:
                return await self._attempts(array.node, ref, template, inputs, input_path, index=index)
            async with gate:
                return await self._attempts(array.node, ref, template, inputs, input_path, index=index)

        async def one(index: int) -> tuple[_Result, IndexRun]:
            result, status = await self._array_index(array, ref, template, inputs, index, run)
            log = self._attempt_paths(ref, result.attempt, input_path, index).log
            phase = _TASK_PHASE.get(result.phase, TaskPhase.FAILED)
            return result, IndexRun(index, result.attempt, phase, status, log)

        self.observer.attempt_started(
            ref,
            template.id,
            0,
            input_uri=str(input_path),
            log=self._attempt_paths(ref, 0, input_path).log,
            task_type=template.type,
        )
        try:
            done = await asyncio.gather(*(one(i) for i in range(size)))
        except asyncio.CancelledError:
            self.observer.attempt_finished(ref, 0, TaskPhase.ABORTED)
            raise
        results = [result for result, _ in done]
        indexes = [info for _, info in done]
        successes = sum(1 for r in results if r.phase == NodePhase.SUCCEEDED)
        if successes < needed:
            first = next(r for r in results if r.phase != NodePhase.SUCCEEDED)
            self.observer.attempt_finished(ref, 0, TaskPhase.FAILED, error=first.error, indexes=indexes)
            return _Result(NodePhase.FAILED, error=first.error)
        gathered = literals_pb2.LiteralMap()
        none = literals_pb2.Literal(scalar=literals_pb2.Scalar(none_type=literals_pb2.Void()))
        for var in template.interface.outputs.variables:
            items = gathered.literals[var].collection.literals
            for r in results:
                ok = r.phase == NodePhase.SUCCEEDED and r.outputs is not None and var in r.outputs.literals
                items.append(r.outputs.literals[var] if ok and r.outputs is not None else none)
        assert ref.data_dir is not None
        uri = _write(ref.data_dir / "0" / "outputs.pb", gathered)
        self.observer.attempt_finished(ref, 0, TaskPhase.SUCCEEDED, output_uri=uri, indexes=indexes)
        return _Result(NodePhase.SUCCEEDED, outputs=gathered, output_uri=uri)

    async def _array_index(
        self,
        array: workflow_pb2.ArrayNode,
        ref: NodeRef,
        template: tasks_pb2.TaskTemplate,
        inputs: literals_pb2.LiteralMap,
        index: int,
        run: Callable[[int], Awaitable[_Result]],
    ) -> tuple[_Result, int]:
        """One index of an ArrayNode, cached per index when the task is (key: the index's own inputs); its
        result and cache status."""
        cache = self.config.cache
        key = None
        if cache is not None:
            own = literals_pb2.LiteralMap()
            for var, literal in inputs.literals.items():
                items = literal.collection.literals
                if var in array.bound_inputs or not literal.HasField("collection"):
                    own.literals[var].CopyFrom(literal)
                else:
                    own.literals[var].CopyFrom(items[index])
            key = cache_key(template, array.node, own)
        if cache is None or key is None:
            return await run(index), Status.CACHE_DISABLED
        async with cache.serialized(key, cache_serializable(template, array.node)):
            hit, status = lookup(cache, key, self.config.overwrite_cache)
            if hit is not None:
                return _Result(NodePhase.SUCCEEDED, outputs=hit.outputs), Status.CACHE_HIT
            result = await run(index)
            source = self._task_execution_id(ref, template, result.attempt)
            ok = result.phase == NodePhase.SUCCEEDED
            meta = populate(cache, key, status, result.outputs if ok else None, source)
            return result, meta.cache_status

    async def _attempts(
        self,
        node: workflow_pb2.Node,
        ref: NodeRef,
        template: tasks_pb2.TaskTemplate,
        inputs: literals_pb2.LiteralMap,
        input_path: Path,
        index: int | None = None,
    ) -> _Result:
        """Attempts of one task (or one ArrayNode index, not reported as attempts) until success, a permanent
        failure or the end of the retry budgets."""
        report = index is None
        meta = node.metadata
        retries = meta.retries.retries if meta.HasField("retries") else template.metadata.retries.retries
        timeout = meta.timeout if meta.HasField("timeout") else template.metadata.timeout
        timeout_s = timeout.ToTimedelta().total_seconds() or None
        max_attempts = retries + 1
        user_failures = system_failures = 0
        attempt = 0
        while True:
            paths = self._attempt_paths(ref, attempt, input_path, index)
            if report:
                self.observer.attempt_started(
                    ref,
                    template.id,
                    attempt,
                    input_uri=str(input_path),
                    log=paths.log,
                    task_type=template.type,
                )
            try:
                # a task node holds its max_parallelism slot from before its start record (_run_node); the
                # indexes of an ArrayNode take one each, as propeller counts an ArrayNode's subnodes
                async with self._slot() if not report else contextlib.nullcontext():
                    result = await run_task_attempt_async(
                        template,
                        inputs=inputs,
                        python=self.config.python,
                        work=paths,
                        execution=self.config.execution,
                        node_id=ref.unique_id if index is None else f"{ref.unique_id}-n{index}",
                        attempt=attempt,
                        fast_distribution=self.config.fast_distribution,
                        timeout_s=timeout_s,
                        workflow_name=self.closure.primary.template.id.name,
                        array_index=index,
                        extra_env=self.config.extra_env,
                        kill_grace_s=self.config.kill_grace_s,
                    )
            except asyncio.CancelledError:
                if report:
                    self.observer.attempt_finished(ref, attempt, TaskPhase.ABORTED, log=paths.log)
                raise
            deck = str(result.deck) if result.deck is not None else ""
            if result.phase == AttemptPhase.SUCCEEDED:
                if result.futures is not None:
                    if not report:
                        error = execution_pb2.ExecutionError(
                            code="Unimplemented", message="@dynamic map tasks are not supported", kind=SYSTEM
                        )
                        return _Result(NodePhase.FAILED, error=error)
                    futures_uri = str(result.futures_path or "")
                    # as propeller: the attempt's output is <prefix>/outputs.pb (the dynamic node's outputs
                    # land there), never futures.pb, which is no LiteralMap for Get{Node,Task}ExecutionData
                    futures_path = result.futures_path
                    outputs_uri = str(futures_path.with_name("outputs.pb")) if futures_path else ""
                    self.observer.attempt_finished(
                        ref, attempt, TaskPhase.SUCCEEDED, output_uri=outputs_uri, log=paths.log
                    )
                    return _Result(
                        NodePhase.SUCCEEDED,
                        futures=result.futures,
                        futures_uri=futures_uri,
                        attempt=attempt,
                        deck_uri=deck,
                    )
                uri = str(result.outputs_path or "")
                if report:
                    self.observer.attempt_finished(
                        ref, attempt, TaskPhase.SUCCEEDED, output_uri=uri, log=paths.log
                    )
                return _Result(
                    NodePhase.SUCCEEDED,
                    outputs=result.outputs or literals_pb2.LiteralMap(),
                    output_uri=uri,
                    attempt=attempt,
                    deck_uri=deck,
                )
            if result.phase == AttemptPhase.TIMED_OUT:
                error = execution_pb2.ExecutionError(
                    code="TimeoutExpired", message=f"task execution timeout [{timeout_s}s] expired", kind=USER
                )
                retryable, origin = True, ErrorOrigin.USER
            elif result.phase == AttemptPhase.ABORTED or result.error is None:
                error = execution_pb2.ExecutionError(
                    code="Aborted", message="the attempt was aborted", kind=SYSTEM
                )
                if report:
                    self.observer.attempt_finished(
                        ref, attempt, TaskPhase.ABORTED, error=error, log=paths.log
                    )
                return _Result(NodePhase.ABORTED, error=error, attempt=attempt)
            else:
                error = explain_error(template, result.error.to_execution_error(), self.config.python)
                retryable, origin = result.error.recoverable, result.error.origin
            if report:
                self.observer.attempt_finished(ref, attempt, TaskPhase.FAILED, error=error, log=paths.log)
            if not retryable:
                return _Result(NodePhase.FAILED, error=error, deck_uri=deck, attempt=attempt)
            if origin == ErrorOrigin.SYSTEM:
                system_failures += 1
                can_retry = system_failures <= self.config.max_system_retries
            else:
                user_failures += 1
                can_retry = user_failures < max_attempts
            if not can_retry:
                exhausted = execution_pb2.ExecutionError(
                    code=f"RetriesExhausted|{error.code}",
                    message=f"[{attempt + 1}/{max_attempts}] currentAttempt done. Last Error: "
                    f"{execution_pb2.ExecutionError.ErrorKind.Name(error.kind)}::{error.message}",
                    kind=error.kind,
                    error_uri=error.error_uri,
                )
                return _Result(NodePhase.FAILED, error=exhausted, deck_uri=deck, attempt=attempt)
            attempt += 1
