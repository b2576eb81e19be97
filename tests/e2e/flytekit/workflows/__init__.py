"""Workflow files written for the §7 suite (tests/e2e/flytekit): one module per feature group.

Every module runs unchanged three ways: flytekit's own local execution, `pyflyte run --remote --wait` and
FlyteRemote against `flyte-ls local`; the tests compare the outputs.
"""
