"""The language server: LSP glue only (pygls 2), between the protocol and :mod:`flyte_ls.analysis`."""
