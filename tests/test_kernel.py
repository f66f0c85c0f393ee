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
