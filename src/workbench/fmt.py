"""Swedish number formatting by explicit functions (never by setting the process locale).

Decimal comma, a no-break space as thousands separator and before the percent sign:
``format_int(12345) == "12 345"``, ``format_percent(0.125) == "12,5 %"`` (with no-break spaces).
Symbols follow Swedish official statistics and Kolada: ``..`` suppressed or too uncertain,
``.`` not applicable, ``–`` zero (used only where a table says so).
"""

from __future__ import annotations

import math

NBSP = "\u00a0"
SUPPRESSED = ".."
NOT_APPLICABLE = "."
ZERO = "–"


def is_missing(x: object) -> bool:
    """True for None, NaN and pd.NA (a suppressed or absent value)."""
    if x is None:
        return True
    try:
        return bool(x != x) or (isinstance(x, float) and math.isnan(x))  # NaN and pd.NA
    except TypeError:
        return True  # pd.NA raises on bool()


def format_int(x: object, *, missing: str = SUPPRESSED) -> str:
    """``12345 -> "12 345"``; missing → ``..``."""
    if is_missing(x):
        return missing
    s = f"{int(round(float(x))):,}"  # type: ignore[arg-type]
    return s.replace(",", NBSP)


def format_number(x: object, decimals: int = 1, *, missing: str = SUPPRESSED) -> str:
    """``1234.56 -> "1 234,6"`` with the given number of decimals."""
    if is_missing(x):
        return missing
    s = f"{float(x):,.{decimals}f}"  # type: ignore[arg-type]
    return s.replace(",", "\x00").replace(".", ",").replace("\x00", NBSP)


def format_percent(share: object, decimals: int = 0, *, missing: str = SUPPRESSED) -> str:
    """A share in [0, 1] as Swedish percent: ``0.125 -> "13 %"``, ``decimals=1 -> "12,5 %"``."""
    if is_missing(share):
        return missing
    return f"{format_number(100 * float(share), decimals)}{NBSP}%"  # type: ignore[arg-type]


def percent_tick(value: float, _pos: object = None) -> str:
    """Matplotlib tick formatter for axes in percent units (0–100)."""
    return f"{format_number(value, 0)} %".replace(NBSP, " ")
