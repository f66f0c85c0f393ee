"""Where things live: the project root and its folders.

The root is found without asserting the working directory: the environment variable
``WORKBENCH_ROOT`` wins; otherwise the nearest folder above the current directory that holds
``parameters/defaults.yaml``; otherwise the checkout this package was installed from (editable
install). Notebooks executed by papermill in ``runs/`` therefore find the same root as the CLI.
"""

from __future__ import annotations

import os
from pathlib import Path

_MARKER = Path("parameters") / "defaults.yaml"


class ProjectRootNotFound(RuntimeError):
    """Raised when no workbench project folder can be located."""


def project_root() -> Path:
    """Return the workbench project folder.

    Raises
    ------
    ProjectRootNotFound
        If neither ``WORKBENCH_ROOT``, the current directory's ancestors nor the package's own
        checkout contain ``parameters/defaults.yaml``.
    """
    env = os.environ.get("WORKBENCH_ROOT")
    if env:
        root = Path(env).expanduser().resolve()
        if not (root / _MARKER).is_file():
            raise ProjectRootNotFound(
                f"WORKBENCH_ROOT={env} has no {_MARKER}. Point it at the workbench checkout."
            )
        return root
    for folder in [Path.cwd(), *Path.cwd().parents]:
        if (folder / _MARKER).is_file():
            return folder
    installed = Path(__file__).resolve().parents[2]
    if (installed / _MARKER).is_file():
        return installed
    raise ProjectRootNotFound(
        "Cannot find the workbench project folder (no parameters/defaults.yaml above "
        f"{Path.cwd()}). Run from the checkout or set WORKBENCH_ROOT."
    )


def reference_dir() -> Path:
    """Committed reference data (catalogue, municipalities, indicators)."""
    return project_root() / "data" / "reference"


def demo_data_dir() -> Path:
    """The generated synthetic national dataset (git-ignored)."""
    return project_root() / "data" / "demo"


def parameters_dir() -> Path:
    return project_root() / "parameters"


def notebooks_dir() -> Path:
    return project_root() / "notebooks" / "reports"


def reports_dir() -> Path:
    """The publish zone: only protected HTML/Excel/index files."""
    return project_root() / "reports"


def runs_dir() -> Path:
    """The private zone for executed notebooks, logs and caches."""
    return project_root() / "runs"


def cache_dir() -> Path:
    """Cache of computed tables (private zone: protected tables still hold raw counts).

    ``WORKBENCH_CACHE`` overrides the default ``runs/cache``.
    """
    env = os.environ.get("WORKBENCH_CACHE")
    return Path(env).expanduser().resolve() if env else runs_dir() / "cache"


def resolve(path: str | os.PathLike[str]) -> Path:
    """Resolve a path given in parameters: absolute as is, relative to the project root."""
    p = Path(path).expanduser()
    return p if p.is_absolute() else project_root() / p
