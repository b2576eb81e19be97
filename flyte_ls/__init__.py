"""flyte-ls: a language server for Flyte."""

__version__ = "0.1.0"
