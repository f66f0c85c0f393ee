"""JupyterLab as researchers use it: a real server on loopback, its REST API and a real kernel."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import requests

pytestmark = [pytest.mark.kernel, pytest.mark.xdist_group("kernel")]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def lab_server(root, kernel_ready, tmp_path):
    port = _free_port()
    token = secrets.token_hex(16)
    env = {
        **os.environ,
        "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
        "JUPYTER_CONFIG_DIR": str(tmp_path / "config"),
        "JUPYTER_DATA_DIR": str(tmp_path / "data"),
    }
    jupyter = Path(sys.executable).parent / "jupyter"
    proc = subprocess.Popen(
        [
            str(jupyter),
            "lab",
            "--no-browser",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={port}",
            f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={root / 'notebooks'}",
            "--ServerApp.port_retries=0",
            "--LabApp.news_url=",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            *(["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    headers = {"Authorization": f"token {token}"}
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(
                f"jupyter lab exited: {proc.stdout.read().decode(errors='replace')[-2000:]}"
            )
        try:
            if requests.get(f"{base}/api/status", headers=headers, timeout=2).ok:
                break
        except requests.ConnectionError:
            time.sleep(0.3)
    else:
        proc.kill()
        pytest.fail("jupyter lab did not start within 60 s")
    yield base, headers, token
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()


async def _execute(base: str, token: str, kernel_id: str, code: str) -> tuple[str, str]:
    from tornado.httpclient import HTTPRequest
    from tornado.websocket import websocket_connect

    url = base.replace("http", "ws") + f"/api/kernels/{kernel_id}/channels?token={token}"
    conn = await websocket_connect(HTTPRequest(url, headers={"Authorization": f"token {token}"}))
    msg_id = uuid.uuid4().hex
    conn.write_message(
        json.dumps(
            {
                "header": {
                    "msg_id": msg_id,
                    "username": "test",
                    "session": uuid.uuid4().hex,
                    "msg_type": "execute_request",
                    "version": "5.3",
                },
                "parent_header": {},
                "metadata": {},
                "channel": "shell",
                "content": {
                    "code": code,
                    "silent": False,
                    "store_history": False,
                    "user_expressions": {},
                    "allow_stdin": False,
                },
            }
        )
    )
    output, status = "", ""
    while not status:
        raw = await asyncio.wait_for(conn.read_message(), timeout=60)
        msg = json.loads(raw)
        if msg.get("parent_header", {}).get("msg_id") != msg_id:
            continue
        if msg["msg_type"] == "stream":
            output += msg["content"]["text"]
        elif msg["msg_type"] == "execute_reply":
            status = msg["content"]["status"]
    conn.close()
    return status, output


def test_jupyterlab_offers_workbench_kernel_and_runs_a_cell(lab_server):
    base, headers, token = lab_server
    assert requests.get(f"{base}/lab", headers=headers, timeout=10).status_code == 200
    specs = requests.get(f"{base}/api/kernelspecs", headers=headers, timeout=10).json()
    assert "workbench" in specs["kernelspecs"]
    listing = requests.get(f"{base}/api/contents/reports", headers=headers, timeout=10).json()
    names = {item["name"] for item in listing["content"]}
    assert "10-follow-up.ipynb" in names
    kernel = requests.post(
        f"{base}/api/kernels", headers=headers, json={"name": "workbench"}, timeout=30
    ).json()
    try:
        status, out = asyncio.run(
            _execute(
                base,
                token,
                kernel["id"],
                "import workbench\nfrom workbench import get_municipality\n"
                "print(workbench.__version__, get_municipality('2281').name)",
            )
        )
        assert status == "ok"
        assert out.strip().endswith("Sundsvall")
    finally:
        r = requests.delete(f"{base}/api/kernels/{kernel['id']}", headers=headers, timeout=30)
        assert r.status_code == 204
    assert requests.get(f"{base}/api/kernels", headers=headers, timeout=10).json() == []
