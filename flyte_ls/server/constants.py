"""Every name the server shares with clients: request names, setting keys, command ids, diagnostic sources.

One source of truth: the VS Code client, the tests and the README refer to these values.
"""

from __future__ import annotations

from typing import Final

SERVER_NAME: Final = "flyte-ls"

# Custom requests and notifications.
ENTITIES_REQUEST: Final = "flyte/entities"
EXECUTIONS_REQUEST: Final = "flyte/executions"  # -> the tracked executions (flyte/executionChanged's shape)
EXECUTION_CHANGED_NOTIFICATION: Final = "flyte/executionChanged"
BACKEND_STATUS_REQUEST: Final = "flyte/backendStatus"  # {refresh?} -> which backend, does it answer
PROJECTS_REQUEST: Final = "flyte/projects"  # {} -> {projects: [{id, name}], domains: [{id, name}]}

# Commands (workspace/executeCommand).
ENTITY_INFO_COMMAND: Final = "flyte.entity.info"  # argument: {"uri": str, "name": str} -> the entity's dict
# Register and execute (one JSON object argument each; README "Run and register from the editor").
REGISTER_COMMAND: Final = "flyte.register"  # {uri, entity, project?, domain?, version?}
EXECUTE_COMMAND: Final = "flyte.execute"  # {uri, entity, inputs?, inputsFile?, project?, domain?}
RELAUNCH_COMMAND: Final = "flyte.relaunch"  # {execution}
TERMINATE_COMMAND: Final = "flyte.terminate"  # {execution, cause?}
OPEN_CONSOLE_COMMAND: Final = "flyte.openConsole"  # {execution} or {uri, entity}
APPROVE_COMMAND: Final = "flyte.approve"  # {execution, signalId}
REJECT_COMMAND: Final = "flyte.reject"  # {execution, signalId}
SET_INPUT_COMMAND: Final = "flyte.setInput"  # {execution, signalId, value}
DOWNLOAD_OUTPUTS_COMMAND: Final = "flyte.downloadOutputs"  # {execution, to?}
ACTIVATE_LAUNCH_PLAN_COMMAND: Final = "flyte.activateLaunchPlan"  # {uri, entity}
BACKFILL_COMMAND: Final = "flyte.backfill"  # {uri, entity, from, to, parallel?}
TRACK_EXECUTION_COMMAND: Final = "flyte.trackExecution"  # {execution} or {url}
START_LOCAL_BACKEND_COMMAND: Final = "flyte.startLocalBackend"  # {} -> {adminEndpoint, consoleUrl, stateDir,
# started}
STOP_LOCAL_BACKEND_COMMAND: Final = "flyte.stopLocalBackend"  # {} -> {stopped, stateDir}

# Settings: the section in workspace/configuration and the (camelCase, dotted) keys under it.
SETTINGS_SECTION: Final = "flyte"
SETTING_EXCLUDE: Final = "exclude"
SETTING_CODE_LENS_ENABLED: Final = "codeLens.enabled"
SETTING_DIAGNOSTICS_ENABLED: Final = "diagnostics.enabled"
SETTING_DIAGNOSTICS_DEBOUNCE_MS: Final = "diagnostics.debounceMs"
SETTING_LINT_IGNORE: Final = "lint.ignore"
SETTING_LINT_SELECT: Final = "lint.select"
SETTING_INDEX_MAX_FILE_SIZE: Final = "index.maxFileSizeBytes"
SETTING_PYTHON_PATH: Final = "pythonPath"
SETTING_CONFIG_FILE: Final = "configFile"
SETTING_ENDPOINT: Final = "endpoint"
SETTING_INSECURE: Final = "insecure"
SETTING_PROJECT: Final = "project"
SETTING_DOMAIN: Final = "domain"
SETTING_IMAGE: Final = "image"
SETTING_CONSOLE_ENDPOINT: Final = "consoleEndpoint"
SETTING_LOCAL_AUTO_START: Final = "local.autoStart"
SETTING_BACKEND: Final = "backend"  # BACKEND_AUTO or BACKEND_LOCAL
BACKEND_AUTO: Final = "auto"  # the settings, a discovered config, the sandbox, else the local backend
BACKEND_LOCAL: Final = "local"  # always the local backend in the user cache
BACKEND_CHOICES: Final = (BACKEND_AUTO, BACKEND_LOCAL)
SETTING_CODE_LENS_RUN: Final = "codeLens.run"
SETTING_CODE_LENS_REGISTER: Final = "codeLens.register"
SETTING_CODE_LENS_INFO: Final = "codeLens.info"  # task · 2 inputs → 1 output
SETTING_CODE_LENS_OUTCOME: Final = "codeLens.outcome"  # ✓ SUCCEEDED 12s · 3m ago
SETTING_CODE_LENS_RERUN: Final = "codeLens.rerun"  # ⟳ Re-run
SETTING_CODE_LENS_OPEN_CONSOLE: Final = "codeLens.openConsole"  # Open console
DEFAULT_PROJECT: Final = "flytesnacks"
DEFAULT_DOMAIN: Final = "development"

# Diagnostic sources: diagnostics are stored per (source, uri) and merged before publishing.
SOURCE_LINT: Final = "flyte"
SOURCE_EXEC: Final = "flyte-exec"  # execution status

# Dynamic registration ids.
WATCHER_REGISTRATION_ID: Final = "flyte-ls.watch-python-files"

# Workspace indexing.
DEFAULT_MAX_FILE_SIZE: Final = 5 * 1024 * 1024
SKIPPED_DIR_NAMES: Final = frozenset(
    {"node_modules", "__pycache__", "site-packages"}
)  # plus hidden dirs and virtualenvs
MAX_WORKSPACE_SYMBOLS: Final = 1000
