"""The private cache of national computations shared by every report of a batch.

Each report of a batch shows its municipality beside its county and the nation, and the
disclosure control protects one linked set for the whole country. Those national results are
the same for every report, so they are computed once (by the first report that needs them) and
stored in ``paths.cache_dir()`` (``runs/cache``, private: they hold unprotected counts and model
estimates). A result's file name carries the SHA-256 of its :func:`cache_key`: the data tables'
hashes, the period, the disclosure rules, the catalogue version and a digest of the package's
code, so a change of any of them computes afresh and a stale result is never read.

Writes are atomic (temporary file, fsync, rename): workers computing the same result at the
same time each write a complete, identical file.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from workbench import __version__, paths


def digest_files(files: Sequence[Path], base: Path) -> str:
    """SHA-256 over files' relative paths and contents, in sorted order."""
    h = hashlib.sha256()
    for f in sorted(files):
        h.update(f.relative_to(base).as_posix().encode() + b"\0")
        h.update(hashlib.sha256(f.read_bytes()).digest())
    return h.hexdigest()


def code_digest() -> str:
    """SHA-256 over the installed package's Python files and report templates.

    The package version alone does not change with an editable install's code edits, and the
    reports' computations, wording, tables and layout all live in the package.
    """
    pkg = Path(__file__).parent
    files = [p for p in pkg.rglob("*") if p.is_file() and "__pycache__" not in p.parts]
    return digest_files([p for p in files if p.suffix in (".py", ".j2", ".css", ".tpl")], pkg)


@functools.cache
def _code_digest_once() -> str:
    # a report process computes it once; a batch's parent hashes afresh (run.batch_parts)
    return code_digest()


def cache_dir() -> Path:
    """The cache folder, created private (0700): it holds unprotected numbers."""
    d = paths.cache_dir()
    d.mkdir(parents=True, exist_ok=True)
    d.chmod(0o700)
    return d


def cache_key(
    kind: str, *, manifest: Mapping[str, Any], period: Any, rules: Mapping[str, Any], **extra: Any
) -> dict[str, Any]:
    """What a cached national computation depends on: its kind, the data tables' hashes, the
    period, the disclosure rules, the catalogue version, the package's version and code, and
    ``extra``."""
    from workbench.catalogue import load_catalogue

    return {
        "kind": kind,
        "data": manifest.get("tables", {}),
        "period": list(period),
        "rules": dict(rules),
        "catalogue": load_catalogue().version,
        "version": __version__,
        "code": _code_digest_once(),
        **extra,
    }


def key_digest(key: Mapping[str, Any]) -> str:
    """Short SHA-256 of a cache key (the part of a cached file's name that identifies it)."""
    return hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()[:24]


def cached_frame(key: Mapping[str, Any], compute: Callable[[], pd.DataFrame]) -> pd.DataFrame:
    """The frame stored under ``key``, or ``compute()`` stored there and returned."""
    from workbench.dataset import write_table

    path = cache_dir() / f"{key['kind']}-{key_digest(key)}.parquet"
    if path.is_file():
        return pd.read_parquet(path)
    frame = compute()
    write_table(frame, path)
    return frame


def cached_object(key: Mapping[str, Any], compute: Callable[[], Any]) -> Any:
    """The Python object stored under ``key`` (pickled), or ``compute()`` stored and returned.

    For results that are not one frame (e.g. several frames and result objects). The cache is
    written only by this package, in a private folder, so unpickling reads our own files.
    """
    import pickle

    from workbench.dataset import _atomic_write_bytes

    path = cache_dir() / f"{key['kind']}-{key_digest(key)}.pickle"
    if path.is_file():
        with path.open("rb") as fh:
            return pickle.load(fh)  # noqa: S301 - our own private cache, see the docstring
    value = compute()
    _atomic_write_bytes(path, pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL))
    return value
