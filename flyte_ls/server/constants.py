"""Every name the server shares with clients: request names, setting keys, command ids, diagnostic sources.

One source of truth: the VS Code client, the tests and the README refer to these values.
"""

from __future__ import annotations

from typing import Final

SERVER_NAME: Final = "flyte-ls"

# Custom requests.
ENTITIES_REQUEST: Final = "flyte/entities"

# Commands (workspace/executeCommand).
ENTITY_INFO_COMMAND: Final = "flyte.entity.info"  # argument: {"uri": str, "name": str} -> the entity's dict

# Settings: the section in workspace/configuration and the (camelCase, dotted) keys under it.
SETTINGS_SECTION: Final = "flyte"
SETTING_EXCLUDE: Final = "exclude"
SETTING_CODE_LENS_ENABLED: Final = "codeLens.enabled"
SETTING_DIAGNOSTICS_ENABLED: Final = "diagnostics.enabled"
SETTING_DIAGNOSTICS_DEBOUNCE_MS: Final = "diagnostics.debounceMs"
SETTING_LINT_IGNORE: Final = "lint.ignore"
SETTING_LINT_SELECT: Final = "lint.select"
SETTING_INDEX_MAX_FILE_SIZE: Final = "index.maxFileSizeBytes"

# Diagnostic sources: diagnostics are stored per (source, uri) and merged before publishing.
SOURCE_LINT: Final = "flyte"
SOURCE_EXEC: Final = "flyte-exec"  # execution status (a later issue)

# Dynamic registration ids.
WATCHER_REGISTRATION_ID: Final = "flyte-ls.watch-python-files"

# Workspace indexing.
DEFAULT_MAX_FILE_SIZE: Final = 5 * 1024 * 1024
SKIPPED_DIR_NAMES: Final = frozenset(
    {"node_modules", "__pycache__", "site-packages"}
)  # plus hidden dirs and virtualenvs
MAX_WORKSPACE_SYMBOLS: Final = 1000
