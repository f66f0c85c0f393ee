"""Ingest municipal exports into the canonical dataset: validated, pseudonymised, nothing lost.

Modules: :mod:`~workbench.ingest.read` (files → raw strings and structural rows),
:mod:`~workbench.ingest.profile` (export profiles), :mod:`~workbench.ingest.values` (raw strings →
codes, dates, numbers), :mod:`~workbench.ingest.problems` (rules and messages),
:mod:`~workbench.ingest.core` (the pipeline), :mod:`~workbench.ingest.report` (ingest report,
problems, quarantine) and :mod:`~workbench.ingest.suggest` (``workbench profile suggest``).
"""

from __future__ import annotations

__all__ = [
    "IngestError",
    "IngestResult",
    "ingest",
    "list_profiles",
    "load_profile",
    "suggest_profile",
]


def __getattr__(name: str):  # lazy, so importing the package stays cheap
    if name in ("ingest", "IngestError", "IngestResult"):
        from workbench.ingest import core

        return getattr(core, name)
    if name in ("list_profiles", "load_profile"):
        from workbench.ingest import profile

        return getattr(profile, name)
    if name == "suggest_profile":
        from workbench.ingest import suggest

        return suggest.suggest_profile
    raise AttributeError(f"module 'workbench.ingest' has no attribute {name!r}")
