"""The fork server behind flyte_ls.local.pool: a warm, pre-imported flytekit process that forks task attempts.

Runs in the *user's* interpreter, started by the backend as `python -c "<exec this file>" <socket path>`:
standard library and flytekit only, never flyte_ls.

It imports flytekit's entrypoint module once, then serves one request per connection on a Unix socket:
`{"op": "run", "argv": [...], "env": {...}, "cwd": ..., "log": ...}` (one JSON line). For each request it
forks a child that becomes its own session (process group), gets the log file as stdout/stderr, the cwd and
exactly the env of the request, and runs the console script of `argv` (`python <bin>/pyflyte-execute ...` or
`python -c "from flytekit.bin.entrypoint import ...; ...()" ...`) as a fresh interpreter would. The server
answers `{"pid": N}` at once and `{"exit": code}` (negative: killed by a signal, as subprocess reports it)
when the child has ended; it kills what the child left in its session before reaping it, as the runner does
after a spawned attempt. EOF on stdin (the backend went away) or SIGTERM: every running child is killed and
the server exits.

What differs from a fresh process, and how it is made the same (`_become`, `_refresh_flytekit`):
- sys.path, sys.argv, sys.executable, `__main__`: rebuilt as the interpreter would from the argv, the cwd and
  PYTHONPATH (entries made absolute, the script's real directory first).
- Environment read when flytekit is imported: the loggers, the sandbox directories made under TMPDIR
  (`Config.local_sandbox_path`, `data_persistence.flyte_tmp_dir`) with the default file access provider
  (DataConfig from the env), and the default context (FlyteContextManager.initialize, which also sets the
  SIGINT handler) are redone in the child. Variables read only at interpreter start-up or when the
  pre-imported libraries are imported (`_FIXED_ENV`) must equal the server's; otherwise the child execs the
  command (exactly as spawned).
- A module on the task's PYTHONPATH that would shadow a module the server already imported: the child execs.
- Signals, signal mask, wakeup fd and the server's file descriptors are reset or closed; `random` reseeds at
  fork (CPython's own at-fork hook). The hash seed is the server's (a fresh process draws its own).
- Exit: non-daemon threads are joined, atexit callbacks run and stdio is flushed, as at interpreter exit.
- `pyflyte-fast-execute` downloads the distribution with flytekit's own code and then starts `pyflyte-execute`
  in a second interpreter: that subprocess call is replaced by running the inner console script in the same
  child after `_become` (new PYTHONPATH, fresh flytekit state); a command that is not a flytekit console
  script of this interpreter still runs as a real subprocess.
The server forks only while it has a single thread (it refuses requests otherwise).
"""

from __future__ import annotations

import builtins
import contextlib
import importlib
import json
import os
import selectors
import signal
import socket
import sys
import time
import traceback
import types
from collections.abc import Callable
from typing import Any

ENTRYPOINTS = {
    "pyflyte-execute": "execute_task_cmd",
    "pyflyte-fast-execute": "fast_execute_task_cmd",
    "pyflyte-map-execute": "map_execute_task_cmd",
}
# Read once at interpreter start-up or when flytekit and its libraries are imported, and not redone in the
# child: a request whose value differs from the server's is run by exec (exactly as spawned).
_FIXED_ENV = (
    "HOME",
    "LANG",
    "LANGUAGE",
    "FLYTE_SDK_RICH_TRACEBACKS",
    "_F_P_WRITE_CHUNK_SIZE",
    "_F_TE_MAX_COROS",
)
_FIXED_ENV_PREFIXES = (
    "PYTHON",  # except PYTHONPATH, rebuilt into sys.path
    "LC_",
    "LD_",
    "FSSPEC_",
    "GRPC_",
    "PROTOCOL_BUFFERS_",
    "AIOHTTP_",
    "MSGPACK_",
)
_MAX_REQUEST = 16 << 20
# Imported lazily by flytekit on common paths (any dataclass in a task's interface: ~50 ms per attempt), and
# free of side effects on the environment: imported ahead in the server (checked in `_warm`).
_WARM_IMPORTS = ("mashumaro.jsonschema",)


def _fixed(key: str) -> bool:
    return key != "PYTHONPATH" and (key in _FIXED_ENV or key.startswith(_FIXED_ENV_PREFIXES))


class Server:
    """The single-threaded accept / fork / reap loop."""

    def __init__(self, path: str) -> None:
        self.pid = os.getpid()
        self.base_path = list(sys.path)
        self.startup_env = dict(os.environ)
        self.watched = _import_dirs(self.base_path)
        self.fingerprint = _site_fingerprint(self.watched)
        self.selector = selectors.DefaultSelector()
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(path)
        self.listener.listen(128)
        self.listener.setblocking(False)
        self.wake_r, self.wake_w = os.pipe()
        os.set_blocking(self.wake_r, False)
        os.set_blocking(self.wake_w, False)
        self.pending: dict[socket.socket, bytearray] = {}
        self.children: dict[int, socket.socket | None] = {}
        self.stopping = False

    # -- loop ------------------------------------------------------------------------------------------------
    def serve(self) -> None:
        signal.signal(signal.SIGCHLD, lambda *_: None)
        signal.signal(signal.SIGTERM, self._on_term)
        signal.set_wakeup_fd(self.wake_w)
        self.selector.register(self.listener, selectors.EVENT_READ, self._accept)
        self.selector.register(self.wake_r, selectors.EVENT_READ, self._drain_wakeup)
        self.selector.register(sys.stdin.fileno(), selectors.EVENT_READ, self._lifeline)
        while not self.stopping:
            for key, _ in self.selector.select(timeout=1.0):
                key.data(key.fileobj)
            self._reap()
        self._kill_all()

    def _on_term(self, *_: object) -> None:
        self.stopping = True

    def _lifeline(self, _: object) -> None:
        if not os.read(sys.stdin.fileno(), 4096):
            self.stopping = True

    def _drain_wakeup(self, _: object) -> None:
        try:
            while os.read(self.wake_r, 4096):
                pass
        except BlockingIOError:
            pass

    def _accept(self, _: object) -> None:
        try:
            conn, _ = self.listener.accept()
        except BlockingIOError:
            return
        conn.setblocking(False)
        self.pending[conn] = bytearray()
        self.selector.register(conn, selectors.EVENT_READ, self._read_request)

    def _read_request(self, conn: Any) -> None:
        try:
            chunk = conn.recv(65536)
        except BlockingIOError:
            return
        except OSError:
            chunk = b""
        buffer = self.pending[conn]
        buffer += chunk
        if not chunk or len(buffer) > _MAX_REQUEST:
            self._drop(conn)
            return
        if b"\n" not in buffer:
            return
        self.selector.unregister(conn)
        del self.pending[conn]
        try:
            request = json.loads(bytes(buffer).split(b"\n", 1)[0])
            self._handle(conn, request)
        except Exception as exc:  # a bad request must never take the server down
            self._reply(conn, {"error": f"{type(exc).__name__}: {exc}"})
            conn.close()

    def _drop(self, conn: socket.socket) -> None:
        self.selector.unregister(conn)
        self.pending.pop(conn, None)
        conn.close()

    def _handle(self, conn: socket.socket, request: dict[str, Any]) -> None:
        if _site_fingerprint(self.watched) != self.fingerprint:
            self._reply(
                conn, {"error": "stale", "message": "packages were installed or removed since the start"}
            )
            conn.close()
            return
        threads = _thread_count()
        if threads != 1:
            self._reply(
                conn, {"error": "threads", "message": f"the server has {threads} threads; not forking"}
            )
            conn.close()
            return
        if request.get("op") == "ping":
            self._reply(conn, {"ok": True, "pid": self.pid})
            conn.close()
            return
        argv, env, cwd, log = request["argv"], request["env"], request["cwd"], request["log"]
        if not (isinstance(argv, list) and argv and all(isinstance(a, str) for a in argv)):
            raise ValueError("argv must be a non-empty list of strings")
        for stream in (sys.stdout, sys.stderr):
            stream.flush()
        pid = os.fork()
        if pid == 0:  # the child: never returns into the loop
            code = 70
            try:
                self._close_in_child(conn)
                code = _child(argv, dict(env), cwd, log, self)
            except BaseException:
                traceback.print_exc()
            finally:
                os._exit(code)
        self.children[pid] = conn
        conn.setblocking(True)
        self._reply(conn, {"pid": pid})
        conn.setblocking(False)
        self.selector.register(conn, selectors.EVENT_READ, self._watch)

    def _watch(self, conn: Any) -> None:
        """A running child's connection: EOF means the backend side gave up on it; kill the attempt."""
        try:
            data = conn.recv(4096)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if data:
            return
        self.selector.unregister(conn)
        for pid, owner in self.children.items():
            if owner is conn:
                _killpg(pid)
                self.children[pid] = None
        conn.close()

    def _reap(self) -> None:
        while self.children:
            try:
                info = os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT)
            except ChildProcessError:
                return
            if info is None or info.si_pid == 0:
                return
            pid = info.si_pid
            _killpg(
                pid
            )  # what the attempt left in its session dies with it (the zombie keeps the group alive)
            _, status = os.waitpid(pid, 0)
            conn = self.children.pop(pid, None)
            if conn is not None:
                self.selector.unregister(conn)
                conn.setblocking(True)
                self._reply(conn, {"exit": os.waitstatus_to_exitcode(status)})
                conn.close()

    def _kill_all(self) -> None:
        for pid in list(self.children):
            _killpg(pid)
        while self.children:
            try:
                pid, _ = os.waitpid(-1, 0)
            except ChildProcessError:
                break
            conn = self.children.pop(pid, None)
            if conn is not None:
                conn.close()
        self.listener.close()

    def _reply(self, conn: socket.socket, message: dict[str, Any]) -> None:
        try:
            conn.sendall(json.dumps(message).encode() + b"\n")
        except OSError:
            pass

    def _close_in_child(self, conn: socket.socket) -> None:
        signal.set_wakeup_fd(-1)
        for sig in (signal.SIGCHLD, signal.SIGTERM):
            signal.signal(sig, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_SETMASK, set())
        self.selector.close()
        self.listener.close()
        for other in [*self.pending, *(c for c in self.children.values() if c is not None), conn]:
            other.close()
        os.close(self.wake_r)
        os.close(self.wake_w)


def _killpg(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _thread_count() -> int:
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        import threading

        return threading.active_count()


def _import_dirs(path: list[str]) -> list[str]:
    """The import path entries the server's modules came from (site-packages, the standard library), not
    directories that are only on sys.path (an editable project's source, which changes all the time)."""
    files = []
    for module in list(sys.modules.values()):
        origin = object.__getattribute__(module, "__dict__").get("__file__")  # not getattr: lazy modules
        if isinstance(origin, str):
            files.append(origin)
    return [e for e in path if e and any(f.startswith(e.rstrip(os.sep) + os.sep) for f in files)]


def _site_fingerprint(path: list[str]) -> list[tuple[str, int]]:
    """Modification times of the import path's directories: a package installed or removed changes them."""
    out = []
    for entry in path:
        try:
            out.append((entry, os.stat(entry or ".").st_mtime_ns))
        except OSError:
            out.append((entry, -1))
    return out


# -- the child -----------------------------------------------------------------------------------------------
def _child(argv: list[str], env: dict[str, str], cwd: str, log: str, server: Server) -> int:
    os.setsid()
    _die_with_parent(server.pid)
    fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    os.chdir(cwd)
    kind, target, reason = _main_of(argv)
    if kind is not None:
        reason = _become(argv, env, server, target if kind == "script" else "")
    if reason is not None:
        print(
            f"# flyte-ls fork server: {reason}; executing the command as spawned", file=sys.stderr, flush=True
        )
        os.execve(argv[0], argv, env)
    entrypoint: Any = sys.modules["flytekit.bin.entrypoint"]
    spawn = entrypoint._run_subprocess
    entrypoint._run_subprocess = lambda cmd, env=None: _inner_command(cmd, env, server, spawn)
    return _finish(_run_main(kind, target))


def _die_with_parent(parent: int) -> None:
    """The attempt dies with the server (a killed, hung server must not leave attempts nobody reports)."""
    try:
        _libc().prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent:
        os._exit(70)


def _libc() -> Any:
    import ctypes

    return ctypes.CDLL(None, use_errno=True)


def _main_of(argv: list[str]) -> tuple[str | None, str, str | None]:
    """("script", path, None) or ("code", source, None) for flytekit entrypoints; else (None, "", reason)."""
    if argv[0] != sys.executable or len(argv) < 2:
        return None, "", f"{argv[0]} is not this server's interpreter {sys.executable}"
    if argv[1] == "-c" and len(argv) >= 3:
        return "code", argv[2], None
    name = os.path.basename(argv[1])
    if name in ENTRYPOINTS and os.path.dirname(argv[1]) == os.path.dirname(sys.executable):
        return "script", argv[1], None
    return None, "", f"{argv[1]} is not a flytekit entrypoint next to {sys.executable}"


def _become(argv: list[str], env: dict[str, str], server: Server, script: str) -> str | None:
    """Turn this process into a fresh `argv` under `env` (cwd already set); a reason when it cannot."""
    for key in set(env) | set(server.startup_env):
        if _fixed(key) and env.get(key) != server.startup_env.get(key):
            return f"{key} differs from the server's (read at start-up)"
    os.environ.clear()
    os.environ.update(env)
    first = os.path.dirname(os.path.realpath(script)) if script else ""
    pythonpath = (
        [os.path.abspath(p) for p in env["PYTHONPATH"].split(os.pathsep)] if env.get("PYTHONPATH") else []
    )
    shadow = _shadowed(pythonpath if script else [os.getcwd(), *pythonpath])  # `-c`: the cwd comes first
    if shadow:
        return shadow
    sys.path[:] = [first, *pythonpath, *server.base_path]
    sys.argv[:] = ["-c", *argv[3:]] if not script else [script, *argv[2:]]
    importlib.invalidate_caches()
    _refresh_flytekit()
    return None


def _shadowed(entries: list[str]) -> str | None:
    """A module the server imported that a PYTHONPATH entry (searched first when fresh) would replace."""
    for entry in entries:
        try:
            names = os.listdir(entry)
        except OSError:
            continue
        for name in names:
            full = os.path.join(entry, name)
            if name.endswith((".py", ".pyc", ".so")):
                module = name.split(".", 1)[0]
            elif os.path.isfile(os.path.join(full, "__init__.py")):
                module = name
            else:
                continue
            loaded = sys.modules.get(module)
            if loaded is None:
                continue
            # Not getattr: that would load a lazily imported module (importlib.util.LazyLoader).
            attributes = object.__getattribute__(loaded, "__dict__")
            origin = attributes.get("__file__") or getattr(attributes.get("__spec__"), "origin", None)
            if not (origin and os.path.realpath(origin).startswith(os.path.realpath(entry))):
                return f"{full} would shadow {module!r}, which the server imported"
    return None


def _refresh_flytekit() -> None:
    """Redo what importing flytekit did that depends on the environment and on TMPDIR."""
    import tempfile

    tempfile.tempdir = None  # gettempdir() caches TMPDIR
    time.tzset()
    loggers: Any = sys.modules["flytekit.loggers"]
    for name in ("logger", "user_space_logger", "developer_logger"):
        getattr(loggers, name).handlers.clear()
    loggers.initialize_global_loggers()
    configuration: Any = sys.modules["flytekit.configuration"]
    _set_dataclass_default(configuration.Config, "local_sandbox_path", tempfile.mkdtemp(prefix="flyte"))
    persistence: Any = sys.modules["flytekit.core.data_persistence"]
    old = persistence.default_local_file_access_provider
    persistence.flyte_tmp_dir = tempfile.mkdtemp(prefix="flyte-")
    new = persistence.FileAccessProvider(
        local_sandbox_dir=os.path.join(persistence.flyte_tmp_dir, "sandbox"),
        raw_output_prefix=os.path.join(persistence.flyte_tmp_dir, "raw"),
        data_config=configuration.DataConfig.auto(),
    )
    for name, module in list(sys.modules.items()):
        # Only flytekit's own modules hold it; touching others could load a lazily imported module (joblib's
        # import alone sets KMP_INIT_AT_FORK in the environment).
        if name.startswith("flytekit.") and type(module) is types.ModuleType:
            if vars(module).get("default_local_file_access_provider") is old:
                vars(module)["default_local_file_access_provider"] = new
    sys.modules["flytekit.core.context_manager"].FlyteContextManager.initialize()


def _set_dataclass_default(cls: type, field: str, value: object) -> None:
    """Change a dataclass field's default (a frozen dataclass computed it once, at class creation)."""
    old = cls.__dataclass_fields__[field].default  # type: ignore[attr-defined]
    cls.__dataclass_fields__[field].default = value  # type: ignore[attr-defined]
    setattr(cls, field, value)
    init = cls.__init__  # type: ignore[misc]
    if init.__defaults__:
        init.__defaults__ = tuple(value if d is old else d for d in init.__defaults__)


def _inner_command(
    cmd: list[str], env: dict[str, str] | None, server: Server, spawn: Callable[..., int]
) -> int:
    """pyflyte-fast-execute's subprocess for the inner command: run here when it is our console script."""
    import shutil

    env = dict(os.environ) if env is None else env
    path = cmd[0] if os.sep in cmd[0] else shutil.which(cmd[0], path=env.get("PATH", os.defpath))
    interpreter = _shebang(path) if path else None
    bin_dir = os.path.dirname(sys.executable)
    if (
        path is None
        or interpreter is None
        or os.path.basename(path) not in ENTRYPOINTS
        or os.path.dirname(path) != bin_dir
        or os.path.dirname(interpreter) != bin_dir
    ):
        return spawn(cmd, env)
    reason = _become([interpreter, path, *cmd[1:]], env, server, path)
    if reason is not None:
        print(
            f"# flyte-ls fork server: {reason}; starting the inner command as flytekit does", file=sys.stderr
        )
        return spawn(cmd, env)
    sys.executable = interpreter
    return _run_main("script", path)


def _shebang(path: str) -> str | None:
    try:
        with open(path, "rb") as f:
            line = f.readline(4096)
    except OSError:
        return None
    if not line.startswith(b"#!"):
        return None
    parts = line[2:].decode(errors="replace").split()
    return parts[0] if len(parts) == 1 else None


def _run_main(kind: str | None, target: str) -> int:
    """Run a console script file or `-c` source as `__main__`; the exit code an interpreter would give."""
    main = types.ModuleType("__main__")
    main.__dict__["__builtins__"] = builtins
    previous = sys.modules.get("__main__")
    sys.modules["__main__"] = main
    try:
        if kind == "script":
            main.__file__ = target
            with open(target, "rb") as f:
                code = compile(f.read(), target, "exec")
        else:
            code = compile(target, "<string>", "exec")
        exec(code, main.__dict__)
        return 0
    except SystemExit as stop:
        return _exit_code(stop)
    except BaseException:
        sys.excepthook(*sys.exc_info())
        return 1
    finally:
        if previous is not None:
            sys.modules["__main__"] = previous


def _exit_code(stop: SystemExit) -> int:
    if stop.code is None:
        return 0
    if isinstance(stop.code, int):
        return stop.code & 0xFF
    print(stop.code, file=sys.stderr)
    return 1


def _finish(code: int) -> int:
    """What the interpreter does before exiting: join threads, run atexit callbacks, flush stdio."""
    import atexit
    import threading

    try:
        threading._shutdown()  # type: ignore[attr-defined]
    except Exception:
        traceback.print_exc()
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass
    return code


def _warm() -> None:
    for name in _WARM_IMPORTS:
        before = dict(os.environ)
        with contextlib.suppress(ImportError):
            importlib.import_module(name)
        if dict(os.environ) != before:  # a fresh process would see that change only after this import
            raise ImportError(f"importing {name} changes the environment; leave it out of _WARM_IMPORTS")


def main(args: list[str]) -> int:
    started = time.monotonic()
    try:
        import flytekit
        import flytekit.bin.entrypoint

        _warm()

        for module, names in (
            (
                "flytekit.loggers",
                ("initialize_global_loggers", "logger", "user_space_logger", "developer_logger"),
            ),
            ("flytekit.configuration", ("Config", "DataConfig")),
            ("flytekit.core.data_persistence", ("default_local_file_access_provider", "flyte_tmp_dir")),
            ("flytekit.core.context_manager", ("FlyteContextManager",)),
            ("flytekit.bin.entrypoint", ("_run_subprocess", *ENTRYPOINTS.values())),
        ):
            missing = [n for n in names if not hasattr(sys.modules[module], n)]
            if missing:
                raise ImportError(f"flytekit {flytekit.__version__} has no {module}.{missing[0]}")
        if "local_sandbox_path" not in getattr(flytekit.configuration.Config, "__dataclass_fields__", {}):
            raise ImportError(
                f"flytekit {flytekit.__version__}: Config.local_sandbox_path is not a dataclass field"
            )
        with contextlib.suppress(OSError, ImportError):
            _libc()  # loaded once here rather than in every child
        server = Server(args[0])
    except Exception as exc:
        print(json.dumps({"error": f"{type(exc).__name__}: {exc}"}), flush=True)
        return 1
    ready = {
        "pid": os.getpid(),
        "flytekit": flytekit.__version__,
        "import_s": round(time.monotonic() - started, 3),
    }
    print(json.dumps(ready), flush=True)
    os.dup2(2, 1)  # nothing reads stdout after the ready line; the server's own output goes to its log
    server.serve()
    # Its directory (socket, log, TMPDIR of the import) goes with it, also when the backend was killed and
    # cannot remove it.
    import shutil

    shutil.rmtree(os.path.dirname(os.path.abspath(args[0])), ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
