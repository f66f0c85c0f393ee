"""The named Jupyter kernel ``workbench`` that papermill always uses.

The kernelspec is written into the virtual environment (``sys.prefix``), not the user's home, and
starts IPython with history kept in memory only, so code and values typed into a report kernel
are never written to an on-disk history database.
"""

from __future__ import annotations

import functools
import json
import sys
import tempfile
from pathlib import Path

KERNEL_NAME = "workbench"
DISPLAY_NAME = "Python (workbench)"


def kernelspec_dict(python: str | None = None) -> dict[str, object]:
    return {
        "argv": [
            python or sys.executable,
            "-m",
            "ipykernel_launcher",
            "-f",
            "{connection_file}",
            "--HistoryManager.hist_file=:memory:",
        ],
        "display_name": DISPLAY_NAME,
        "language": "python",
        "metadata": {"debugger": True},
        "env": {"MPLBACKEND": "Agg", "PYTHONHASHSEED": "0"},
    }


def kernel_env() -> dict[str, str]:
    """The environment a ``workbench`` kernel gets: this process's plus the kernelspec's."""
    import os

    env = kernelspec_dict()["env"]
    assert isinstance(env, dict)
    return {**os.environ, **env}


def install_kernel(prefix: str | None = None) -> Path:
    """Install (or refresh) the ``workbench`` kernelspec under ``prefix`` (default ``sys.prefix``)."""
    from jupyter_client.kernelspec import KernelSpecManager

    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp) / KERNEL_NAME
        d.mkdir()
        (d / "kernel.json").write_text(json.dumps(kernelspec_dict(), indent=1), encoding="utf-8")
        dest = KernelSpecManager().install_kernel_spec(
            str(d), kernel_name=KERNEL_NAME, prefix=prefix or sys.prefix
        )
    return Path(dest)


def kernel_installed() -> bool:
    from jupyter_client.kernelspec import find_kernel_specs

    return KERNEL_NAME in find_kernel_specs()


_LAST_PEAK: dict[str, float] = {}


def _record_peak(pid: object) -> None:
    """Remember the kernel's peak resident memory (Linux ``VmHWM``) before it is shut down."""
    if not isinstance(pid, int):
        return
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    _LAST_PEAK["mb"] = int(line.split()[1]) / 1024
                    return
    except OSError:  # not Linux, or the kernel is already gone
        return


def last_kernel_peak_mb() -> float | None:
    """Peak resident memory in MB of the last kernel this process shut down (and forget it);
    ``None`` when not known (e.g. not on Linux)."""
    return _LAST_PEAK.pop("mb", None)


@functools.cache
def _ipc_manager_class():
    """Build the IPC kernel manager class lazily (jupyter_client is heavy to import)."""
    import os
    import uuid

    from jupyter_client.manager import AsyncKernelManager
    from jupyter_core.paths import jupyter_runtime_dir
    from traitlets import CaselessStrEnum, default

    class IPCKernelManager(AsyncKernelManager):
        """Kernel manager whose kernels talk over Unix sockets (IPC), not TCP.

        Report kernels hold case data; with TCP their ports on 127.0.0.1 are reachable by every
        local user of a shared analysis server. IPC sockets live in the user's Jupyter runtime
        folder (mode 0700).
        """

        transport = CaselessStrEnum(["tcp", "ipc"], default_value="ipc", config=True)

        @default("ip")
        def _ip_default(self) -> str:  # the socket path prefix for IPC
            runtime = jupyter_runtime_dir()
            os.makedirs(runtime, mode=0o700, exist_ok=True)
            return os.path.join(runtime, f"wb-{uuid.uuid4().hex[:12]}")

        async def shutdown_kernel(self, now: bool = False, restart: bool = False) -> None:
            _record_peak(getattr(self.provisioner, "pid", None))  # before the process is gone
            await super().shutdown_kernel(now=now, restart=restart)

    return IPCKernelManager


@functools.cache
def _warm_manager_class():
    """IPC kernel manager whose kernels are forked from a warm server (workbench.forkserver)."""
    import logging
    import os
    import pathlib
    from uuid import uuid4

    from jupyter_client.provisioning.local_provisioner import LocalProvisioner

    from workbench.forkserver import (
        ForkedProcess,
        ForkServer,
        ForkServerError,
        kernel_args,
        warm_enabled,
    )

    log = logging.getLogger("workbench.kernel")

    class ForkProvisioner(LocalProvisioner):  # type: ignore[misc]
        """Launches the kernel by asking this process's :class:`ForkServer` to fork one; any
        kernel it cannot serve (another command or interpreter, a start-only environment
        variable that differs) is launched the ordinary way."""

        async def launch_kernel(self, cmd: list[str], **kwargs: object):  # type: ignore[override]
            args = kernel_args(cmd)
            env = dict(kwargs.get("env") or os.environ)  # type: ignore[call-overload]
            if args is None or not warm_enabled():
                return await super().launch_kernel(cmd, **kwargs)
            try:
                server = ForkServer.get(env)
                if not server.compatible(env):
                    return await super().launch_kernel(cmd, **kwargs)
                cwd = str(kwargs.get("cwd") or os.getcwd())
                pid = server.fork(args, env=env, cwd=cwd)
            except ForkServerError as exc:
                log.warning("warm kernel not available (%s); starting a cold one", exc)
                return await super().launch_kernel(cmd, **kwargs)
            self.process = ForkedProcess(pid)
            self.pid = pid
            self.pgid = None  # the child makes its own session; signal the kernel itself
            self.cwd = kwargs.get("cwd", pathlib.Path.cwd())
            return self.connection_info

    class WarmIPCKernelManager(_ipc_manager_class()):  # type: ignore[misc]
        """:class:`IPCKernelManager` whose kernel is forked from a pre-imported server.

        Each report still gets a fresh kernel process (see ``workbench.forkserver``).
        """

        async def _async_pre_start_kernel(self, **kw: object):  # type: ignore[override]
            if self.provisioner is None:
                self.kernel_id = self.kernel_id or str(kw.pop("kernel_id", "") or uuid4())
                self.provisioner = ForkProvisioner(
                    kernel_id=self.kernel_id, kernel_spec=self.kernel_spec, parent=self
                )
            return await super()._async_pre_start_kernel(**kw)

    return WarmIPCKernelManager


IPC_KERNEL_MANAGER = "workbench.kernel:IPCKernelManager"


def __getattr__(name: str):
    if name == "IPCKernelManager":
        return _ipc_manager_class()
    if name == "WarmIPCKernelManager":
        return _warm_manager_class()
    raise AttributeError(name)
