"""Warm kernels: a fork server that starts each report's kernel from a pre-imported process.

Starting a report kernel the usual way costs an interpreter start, importing ipykernel and
IPython, then the report's own imports (pandas, matplotlib, seaborn, statsmodels, pyarrow and
the package): about three seconds of CPU per report, most of a small report's time. The fork
server pays that once per batch worker:

* :class:`ForkServer` starts ``python -m workbench.forkserver`` with the kernelspec's
  environment. That process imports the heavy libraries and the package's report modules
  (:data:`WARM_IMPORTS`; imports only, no data read, no function called), then waits for
  requests on its standard input.
* For each report kernel, jupyter_client's launch goes to :class:`ForkProvisioner`
  (:class:`workbench.kernel.WarmIPCKernelManager`), which asks the server to ``fork()``. The
  child starts a new session, takes the kernel's environment and working folder, closes every
  inherited file descriptor, and runs ``IPKernelApp`` on the connection file jupyter_client wrote
  (IPC transport, history in memory), exactly the arguments of the ``workbench`` kernelspec.
* Every kernel is a **fresh process**: a copy of the server's pristine post-import state, with
  an empty user namespace; nothing a report did can reach another report (each is a separate
  process, forked from a server that never runs report code). Kernels exit when their manager
  shuts them down, when the server dies (ipykernel's parent poller watches the server's pid),
  and the server exits when its worker closes the pipe.

Limits (docs/runner.md): POSIX only (``fork``); the server's imports are those of the moment it
started, so an edit of the package during a batch reaches only the next batch (as for the
worker processes themselves); a kernel whose environment differs from the server's in a way
that matters at interpreter start (``PYTHONHASHSEED``, the Python executable, the kernel
command) is started the ordinary way instead. Set ``WORKBENCH_WARM_KERNELS=0`` to turn warm
kernels off.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib
import json
import logging
import os
import pkgutil
import signal
import subprocess
import sys
import threading
from collections.abc import Mapping, Sequence
from typing import Any

log = logging.getLogger(__name__)

#: Modules imported once by the server (then shared, copy-on-write, by every forked kernel).
#: Every ``workbench.views*`` module is added at start (the report notebooks' imports).
WARM_IMPORTS: tuple[str, ...] = (
    "numpy",
    "pandas",
    "pyarrow.parquet",
    "scipy.stats",
    "matplotlib",
    "matplotlib.pyplot",
    "seaborn",
    "statsmodels.api",
    "statsmodels.formula.api",
    "IPython",
    "ipykernel.kernelapp",
    "workbench",
)
#: Environment variables that act when an interpreter starts: a request whose values differ
#: from the server's cannot be served by a fork.
START_ONLY_ENV = ("PYTHONHASHSEED", "PYTHONPATH", "PYTHONNOUSERSITE", "PYTHONSAFEPATH")


def warm_enabled() -> bool:
    """Warm (forked) kernels are used unless ``WORKBENCH_WARM_KERNELS=0`` or not on POSIX."""
    return hasattr(os, "fork") and os.environ.get("WORKBENCH_WARM_KERNELS", "1") != "0"


def kernel_args(cmd: Sequence[str]) -> list[str] | None:
    """The ``IPKernelApp`` arguments of a kernel command, if a fork can run it, else None.

    Only the command this project's kernelspec writes qualifies: this interpreter with
    ``-m ipykernel_launcher``.
    """
    if len(cmd) < 3 or list(cmd[1:3]) != ["-m", "ipykernel_launcher"]:
        return None
    if os.path.realpath(cmd[0]) != os.path.realpath(sys.executable):
        return None
    return list(cmd[3:])


# -- the server process ---------------------------------------------------------------------------
def _warm() -> list[str]:
    names = list(WARM_IMPORTS)
    import workbench

    names += sorted(
        f"workbench.{m.name}"
        for m in pkgutil.iter_modules(workbench.__path__)
        if m.name.startswith("views")
    )
    for name in names:
        importlib.import_module(name)
    return names


def _child(req: Mapping[str, Any], server_pid: int) -> None:
    """In the forked child: become the kernel; never returns."""
    code = 0
    try:
        os.setsid()
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # the kernel waits for its own children
        signal.signal(signal.SIGINT, signal.default_int_handler)
        devnull = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(devnull, fd)
        os.closerange(3, 1 << 16)  # pipes to the worker, files: nothing of the server's
        os.chdir(req["cwd"])
        os.environ.clear()
        os.environ.update(req["env"])
        os.environ["JPY_PARENT_PID"] = str(server_pid)  # exit if the server goes away
        sys.argv = [sys.executable, "-m", "ipykernel_launcher", *req["args"]]
        from ipykernel.kernelapp import IPKernelApp

        app = IPKernelApp.instance()
        app.initialize(list(req["args"]))
        app.start()
    except BaseException:  # noqa: BLE001 - a kernel that cannot start simply exits
        code = 1
    finally:
        os._exit(code)


def serve() -> None:
    """Run the server: warm up, say ready, then fork one kernel per request line."""
    # Children are reaped by the kernel (no zombies): a dead kernel's pid disappears at once,
    # which is how the provisioner sees it exit.
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    names = _warm()
    out = sys.stdout
    out.write(json.dumps({"ready": True, "pid": os.getpid(), "warm": len(names)}) + "\n")
    out.flush()
    me = os.getpid()
    for line in sys.stdin:
        req = json.loads(line)
        pid = os.fork()
        if pid == 0:
            _child(req, me)
        out.write(json.dumps({"pid": pid}) + "\n")
        out.flush()


# -- the client, in each batch worker ------------------------------------------------------------
class ForkServerError(RuntimeError):
    """The fork server could not start or answer."""


class ForkServer:
    """A fork server owned by this process (one per batch worker), started on first use."""

    _instance: ForkServer | None = None
    _lock = threading.Lock()

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = dict(env)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "workbench.forkserver"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=self.env,
            text=True,
            start_new_session=True,
        )
        hello = self._read()
        if not hello.get("ready"):
            raise ForkServerError("the fork server did not start")
        self.pid = int(hello["pid"])
        self._io = threading.Lock()
        atexit.register(self.close)

    def _read(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise ForkServerError(f"the fork server exited (code {self.proc.poll()})")
        return json.loads(line)

    @classmethod
    def get(cls, env: Mapping[str, str]) -> ForkServer:
        """This process's server for kernels with environment ``env`` (started if needed)."""
        with cls._lock:
            srv = cls._instance
            if srv is None or srv.proc.poll() is not None:
                srv = cls._instance = cls(env)
            return srv

    def compatible(self, env: Mapping[str, str]) -> bool:
        return all(env.get(k) == self.env.get(k) for k in START_ONLY_ENV)

    def fork(self, args: Sequence[str], *, env: Mapping[str, str], cwd: str) -> int:
        """Fork a kernel running ``IPKernelApp`` with ``args``; returns its pid."""
        req = {"args": list(args), "env": dict(env), "cwd": cwd}
        with self._io:
            assert self.proc.stdin is not None
            try:
                self.proc.stdin.write(json.dumps(req) + "\n")
                self.proc.stdin.flush()
            except OSError as exc:
                raise ForkServerError(f"the fork server is gone ({exc})") from None
            return int(self._read()["pid"])

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                assert self.proc.stdin is not None
                self.proc.stdin.close()  # EOF: the server leaves its loop and exits
                self.proc.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
        with ForkServer._lock:
            if ForkServer._instance is self:
                ForkServer._instance = None


class ForkedProcess:
    """The :class:`subprocess.Popen` surface jupyter_client's provisioner uses, for a kernel
    forked by the server (not our child: it is watched by pid)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.returncode: int | None = None
        self.stdin = self.stdout = self.stderr = None

    def poll(self) -> int | None:
        if self.returncode is None:
            try:
                os.kill(self.pid, 0)
            except ProcessLookupError:
                self.returncode = 0  # the exit status belongs to the server, which reaped it
            except PermissionError:  # pid reused by another user's process: ours is gone
                self.returncode = 0
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        import time

        end = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if end is not None and time.monotonic() > end:
                raise subprocess.TimeoutExpired(["kernel", str(self.pid)], timeout or 0)
            time.sleep(0.02)
        return int(self.returncode or 0)

    def send_signal(self, signum: int) -> None:
        if self.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signum)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


if __name__ == "__main__":
    serve()
