"""The local Flyte backend (``flyte-ls local``): a real-protocol Flyte Admin (gRPC, SQLite + files) and an
executor that runs tasks with flytekit's own entrypoints. Depends on flyteidl and grpcio, never on
:mod:`flyte_ls.server` and never imports flytekit (tasks run in the ``--python`` interpreter)."""
