"""Shared fixtures: a small synthetic dataset built once per test session (never real data)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("WORKBENCH_ROOT", str(ROOT))
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("PYTHONHASHSEED", "0")


@pytest.fixture(scope="session", autouse=True)
def _shared_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """One cache of protected tables for the session (copies of the project share it)."""
    os.environ["WORKBENCH_CACHE"] = str(tmp_path_factory.getbasetemp() / "wb-cache")


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def small_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A synthetic national dataset at 5 % volume (all 290 municipalities, few rows each)."""
    from workbench import synth

    out = tmp_path_factory.mktemp("data") / "small"
    synth.build(out, synth.SynthConfig(scale=0.05))
    return out


@pytest.fixture(scope="session")
def kernel_ready() -> str:
    """Make sure the 'workbench' kernelspec exists in this environment (as `make` does)."""
    from workbench.kernel import KERNEL_NAME, install_kernel, kernel_installed

    if not kernel_installed():
        install_kernel()
    return KERNEL_NAME


CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def launch_chromium():
    """Debian's headless Chromium through Playwright (never a downloaded browser).

    A context manager yielding the browser. Without Chromium the test skips with the reason,
    except under CI=true, where a missing browser is a failure.
    """
    import contextlib
    import shutil

    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(chromium).exists():
        if os.environ.get("CI") == "true":
            pytest.fail("Chromium is missing under CI=true: `make test` should have installed it")
        pytest.skip("Chromium not installed (apt-get install chromium); browser tests skipped")

    @contextlib.contextmanager
    def _session():
        from playwright.sync_api import sync_playwright

        with sync_playwright() as p:
            b = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
            try:
                yield b
            finally:
                b.close()

    return _session()
