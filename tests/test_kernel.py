"""The 'workbench' kernel: in-memory history and IPC transport (no TCP ports for other users)."""

from __future__ import annotations

import asyncio
import json

import psutil
import pytest

from workbench.kernel import KERNEL_NAME, kernelspec_dict

pytestmark = [pytest.mark.kernel, pytest.mark.xdist_group("kernel")]


def test_kernelspec_keeps_history_in_memory():
    assert "--HistoryManager.hist_file=:memory:" in kernelspec_dict()["argv"]


def test_installed_kernelspec_is_ours(kernel_ready):
    from jupyter_client.kernelspec import KernelSpecManager

    spec = KernelSpecManager().get_kernel_spec(KERNEL_NAME)
    assert "--HistoryManager.hist_file=:memory:" in spec.argv


def test_ipc_kernel_opens_no_tcp_port_and_executes(kernel_ready):
    from workbench.kernel import IPCKernelManager

    async def run() -> tuple[dict, list, str]:
        km = IPCKernelManager(kernel_name=KERNEL_NAME)
        await km.start_kernel()
        try:
            info = km.get_connection_info()
            conns = psutil.Process(km.provisioner.pid).net_connections(kind="inet")
            kc = km.client()
            kc.start_channels()
            await kc.wait_for_ready(timeout=60)
            outputs = []
            reply = await kc.execute_interactive(
                "import IPython; print(IPython.get_ipython().history_manager.hist_file)",
                timeout=60,
                output_hook=lambda m: outputs.append(m),
            )
            kc.stop_channels()
            text = "".join(
                m["content"].get("text", "") for m in outputs if m["msg_type"] == "stream"
            )
            assert reply["content"]["status"] == "ok"
            return info, conns, text
        finally:
            await km.shutdown_kernel(now=True)

    info, conns, text = asyncio.run(run())
    assert info["transport"] == "ipc"
    assert conns == []
    assert text.strip() == ":memory:"
    json.dumps(info, default=str)


# -- warm kernels (workbench.forkserver) ----------------------------------------------------------
async def _run_in_kernel(km, code: str) -> str:
    kc = km.client()
    kc.start_channels()
    try:
        await kc.wait_for_ready(timeout=60)
        outputs: list = []
        reply = await kc.execute_interactive(code, timeout=60, output_hook=outputs.append)
        assert reply["content"]["status"] == "ok", reply["content"]
    finally:
        kc.stop_channels()
    return "".join(m["content"].get("text", "") for m in outputs if m["msg_type"] == "stream")


def test_kernel_args_accepts_only_our_kernel_command():
    import sys

    from workbench.forkserver import kernel_args

    argv = kernelspec_dict()["argv"]
    assert kernel_args([sys.executable, *argv[1:]]) == argv[3:]
    assert kernel_args(["/usr/bin/python3-other", *argv[1:]]) is None
    assert kernel_args([sys.executable, "-m", "some_other_kernel", "-f", "x.json"]) is None


def test_warm_kernels_are_fresh_processes_forked_from_the_warm_server(kernel_ready, monkeypatch):
    """Each warm kernel is a new process, a child of the fork server, with the heavy libraries
    already imported and an empty user namespace: a variable set in one kernel is not in the
    next, and a module-level change made by one report does not reach the next."""
    from workbench.forkserver import ForkServer
    from workbench.kernel import WarmIPCKernelManager, kernel_env

    monkeypatch.delenv("WORKBENCH_WARM_KERNELS", raising=False)
    probe = (
        "import os, sys, json\n"
        "import pandas as pd\n"
        "print(json.dumps({'pid': os.getpid(), 'ppid': os.getppid(),"
        " 'leak': 'leaked' in globals(), 'opt': pd.get_option('display.max_rows'),"
        " 'hist': get_ipython().history_manager.hist_file}))\n"
        "leaked = 1\n"
        "pd.set_option('display.max_rows', 7)\n"
    )

    async def one() -> tuple[dict, list]:
        km = WarmIPCKernelManager(kernel_name=KERNEL_NAME)
        await km.start_kernel()
        try:
            conns = psutil.Process(km.provisioner.pid).net_connections(kind="inet")
            return json.loads(await _run_in_kernel(km, probe)), conns
        finally:
            await km.shutdown_kernel(now=True)

    first, conns = asyncio.run(one())
    second, _ = asyncio.run(one())
    server = ForkServer.get(kernel_env())
    assert first["ppid"] == server.pid == second["ppid"]  # forked by the server
    assert first["pid"] != second["pid"]  # a new process per kernel
    assert not first["leak"] and not second["leak"]  # nothing of the earlier kernel
    assert first["opt"] == second["opt"] == 60  # pandas' default again, not 7
    assert first["hist"] == second["hist"] == ":memory:"
    assert conns == []  # IPC transport: no TCP port
    assert not psutil.pid_exists(first["pid"]) or psutil.Process(first["pid"]).status() in (
        psutil.STATUS_ZOMBIE,
        psutil.STATUS_DEAD,
    )


def test_warm_kernels_can_be_switched_off(kernel_ready, monkeypatch):
    from workbench.kernel import WarmIPCKernelManager

    monkeypatch.setenv("WORKBENCH_WARM_KERNELS", "0")

    async def one() -> int:
        km = WarmIPCKernelManager(kernel_name=KERNEL_NAME)
        await km.start_kernel()
        try:
            text = await _run_in_kernel(km, "import os; print(os.getppid())")
            return int(text)
        finally:
            await km.shutdown_kernel(now=True)

    import os

    assert asyncio.run(one()) == os.getpid()  # an ordinary child of this process
