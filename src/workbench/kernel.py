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

    return IPCKernelManager


IPC_KERNEL_MANAGER = "workbench.kernel:IPCKernelManager"


def __getattr__(name: str):
    if name == "IPCKernelManager":
        return _ipc_manager_class()
    raise AttributeError(name)
