"""The worker's ``loaded_files`` lists the user's imported source files without touching lazily loaded
modules: reading ``__file__`` through attribute access would import them (flytekit registers several lazy
modules — joblib and others — which cost ~20 ms a request when loaded this way)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from flyte_ls.worker.serialize import loaded_files

pytestmark = pytest.mark.timeout(30)


def test_a_lazy_module_under_the_root_is_listed_but_not_loaded(tmp_path: Path) -> None:
    lazy_file = tmp_path / "lazy_thing.py"
    lazy_file.write_text("import builtins\nbuiltins._flyte_ls_lazy_loaded = True\n")
    eager_file = tmp_path / "eager_thing.py"
    eager_file.write_text("VALUE = 1\n")
    spec = importlib.util.spec_from_file_location("lazy_thing", lazy_file)
    assert spec is not None and spec.loader is not None
    spec.loader = importlib.util.LazyLoader(spec.loader)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # a LazyLoader defers this until the first attribute access
    eager_spec = importlib.util.spec_from_file_location("eager_thing", eager_file)
    assert eager_spec is not None and eager_spec.loader is not None
    eager = importlib.util.module_from_spec(eager_spec)
    eager_spec.loader.exec_module(eager)
    sys.modules["lazy_thing"], sys.modules["eager_thing"] = module, eager
    try:
        found = loaded_files(str(tmp_path))
        assert str(eager_file) in found
        assert str(lazy_file) in found  # its file is known without loading it
        import builtins

        assert not hasattr(builtins, "_flyte_ls_lazy_loaded"), "loaded_files loaded a lazy module"
    finally:
        del sys.modules["lazy_thing"], sys.modules["eager_thing"]
        import builtins

        if hasattr(builtins, "_flyte_ls_lazy_loaded"):
            del builtins._flyte_ls_lazy_loaded  # type: ignore[attr-defined]
