"""The worker: runs in the *user's* interpreter (where flytekit lives) and serializes their entities.

Standard library and flytekit only, relative imports only: the server copies this package into its cache
directory as ``flyte_ls_worker`` and runs ``python -m flyte_ls_worker`` with only that directory added to
``PYTHONPATH``, so nothing of the server's environment leaks into the user's. flytekit is imported inside
functions, so :mod:`flyte_ls.remote` can import :mod:`.serialize` without loading it.
"""
