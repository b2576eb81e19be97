"""Executions of the local Admin: their records (:mod:`.records`), CreateExecution's input merging
(:mod:`.inputs`), the hidden ``.flytegen`` workflow of single-task executions (:mod:`.flytegen`) and the
:class:`Executor` protocol between the AdminService and whatever runs executions.

The Executor protocol
---------------------
``AdminServicer(store, executor)`` creates the execution record first (phase QUEUED, inputs written to
``<state>/metadata/<p>/<d>/<name>/inputs``), then calls ``executor.submit(execution_id)``, so the record
exists before the call and before ``CreateExecution`` answers (flytekit calls ``GetExecution`` right away).

- ``submit(execution_id)`` must return quickly (run the execution in the background). It reads what it needs
  through :class:`~flyte_ls.local.executions.records.ExecutionRecords` (``get_execution``,
  ``compiled_workflow``, ``inputs``, ``launch_plan_of``) and reports progress through the same object:
  ``set_execution_phase`` (RUNNING, then SUCCEEDED with ``outputs_uri`` / FAILED with ``error``),
  ``start_node``/``finish_node`` and ``start_task_attempt``/``finish_task_attempt``. If ``submit`` raises,
  the execution is marked FAILED with the error (as Admin stores a failed launch).
- ``terminate(execution_id, cause)`` is called by ``TerminateExecution`` for an unfinished execution, after
  the closure moved to ABORTING with ``abort_metadata{cause}``. It should stop the running attempts and mark
  open nodes/attempts ABORTED, and may return before they are dead. When it returns, the servicer marks the
  execution ABORTED; a later phase change of a terminal execution is refused with ``FailedPrecondition``, so
  an executor must expect that from ``set_execution_phase`` after a terminate.
- ``spec.metadata.mode`` RECOVERED (from ``RecoverExecution``) with ``spec.metadata.reference_execution``:
  the executor copies the outputs of the nodes that SUCCEEDED (or were RECOVERED) in the referenced
  execution (marking them RECOVERED) instead of running them again; an executor that ignores this simply
  runs everything.

:class:`NullExecutor` accepts executions and leaves them QUEUED: the AdminService works without an executor.
"""

from __future__ import annotations

from typing import Protocol

from flyteidl.core import identifier_pb2


class Executor(Protocol):
    def submit(self, execution_id: identifier_pb2.WorkflowExecutionIdentifier) -> None: ...

    def terminate(self, execution_id: identifier_pb2.WorkflowExecutionIdentifier, cause: str) -> None: ...


class NullExecutor:
    """Runs nothing: submitted executions stay QUEUED until terminated."""

    def submit(self, execution_id: identifier_pb2.WorkflowExecutionIdentifier) -> None:
        return None

    def terminate(self, execution_id: identifier_pb2.WorkflowExecutionIdentifier, cause: str) -> None:
        return None


__all__ = ["Executor", "NullExecutor"]
