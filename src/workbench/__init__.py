"""workbench: follow-up of Swedish municipal social child and youth care (BBIC).

Importing the package has no side effects; heavy modules load on first use.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = [
    "__version__",
    "list_municipalities",
    "list_counties",
    "list_variables",
    "load_catalogue",
    "load_settings",
    "krippendorff_alpha",
    "fleiss_kappa",
    "cohen_kappa",
    "list_indicators",
    "list_profiles",
]


def __getattr__(name: str):  # lazy public API, so `import workbench` stays cheap
    if name in ("list_municipalities", "list_counties", "get_municipality"):
        from workbench import municipalities

        return getattr(municipalities, name)
    if name in ("list_variables", "load_catalogue"):
        from workbench import catalogue

        return getattr(catalogue, name)
    if name in ("load_settings",):
        from workbench import params

        return getattr(params, name)
    if name in ("krippendorff_alpha", "fleiss_kappa", "cohen_kappa"):
        from workbench import agreement

        return getattr(agreement, name)
    if name == "list_indicators":
        from workbench import indicators

        return indicators.list_indicators
    if name == "list_profiles":
        from workbench.ingest.profile import list_profiles

        return list_profiles
    raise AttributeError(f"module 'workbench' has no attribute {name!r}")
