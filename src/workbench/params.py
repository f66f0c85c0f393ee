"""Parameters: one typed schema for run parameters, YAML settings, and their merge.

Layers, lowest first: ``parameters/defaults.yaml`` → ``parameters/municipalities/<code>-<slug>.yaml``
→ run parameters (from the runner, the CLI or papermill). :func:`load_settings` merges and
validates them into a frozen :class:`Settings`. The run-parameter schema :data:`RUN_PARAMETERS`
is the single definition used by the CLI, the runner, the YAML loader and the notebooks'
``parameters`` cell (a hygiene test checks the cell against it).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from workbench import paths
from workbench.catalogue import load_catalogue
from workbench.municipalities import (
    NATIONAL,
    InvalidCodeError,
    Municipality,
    get_municipality,
    list_municipalities,
    normalise_county,
    normalise_kommun,
    slugify,
)


class ParameterError(ValueError):
    """Invalid parameters; the message names the file or parameter and the fix."""


@dataclass(frozen=True)
class ParamSpec:
    name: str
    type: type
    default: Any
    help: str


#: Run-level parameters: the only values papermill passes into a report notebook.
#: An empty string means "take the value from the parameter files". Help texts contain no "=":
#: papermill's parser (used by --help-notebook) skips lines with more than one.
RUN_PARAMETERS: tuple[ParamSpec, ...] = (
    ParamSpec(
        "kommun", str, NATIONAL, 'Kommunkod, 4 tecken som sträng ("0180"), "0000" för riket'
    ),
    ParamSpec("period", str, "", 'År "YYYY-YYYY", tomt: från parameters/defaults.yaml'),
    ParamSpec("data_dir", str, "", "Mapp med kanoniska data, tomt: från parametrarna"),
    ParamSpec("audience", str, "", '"public" eller "internal", tomt: från parametrarna'),
)
_RUN_NAMES = tuple(p.name for p in RUN_PARAMETERS)

#: Parameters that only some report notebooks take, on top of :data:`RUN_PARAMETERS`, by
#: notebook stem (e.g. the provider report's provider and provider type). Their values are
#: short codes (letters, digits, ``_``): they become part of the report's file name.
NOTEBOOK_PARAMETERS: dict[str, tuple[ParamSpec, ...]] = {
    "50-placement-providers": (
        ParamSpec("utforare", str, "", 'Utförarens kod ("P00042"), tomt: alla utförare'),
        ParamSpec(
            "utforartyp", str, "", 'Utförartyp ("hvb", "familjehemsorg", "stodboende"), tomt: alla'
        ),
    ),
}
_EXTRA_VALUE_RE = re.compile(r"^[A-Za-z0-9_]{0,40}$")


def normalise_notebook_parameters(notebook: str, values: Mapping[str, Any]) -> dict[str, str]:
    """Validate a notebook's own parameters (:data:`NOTEBOOK_PARAMETERS`); defaults filled in.

    Returns every parameter the notebook declares, in declaration order, as strings (empty =
    the notebook's default). Unknown names, non-strings and values that are not short codes are
    rejected with the notebook's list of parameters.
    """
    specs = NOTEBOOK_PARAMETERS.get(Path(notebook).stem, ())
    names = [s.name for s in specs]
    unknown = sorted(set(values) - set(names))
    if unknown:
        raise ParameterError(
            f"Unknown parameter(s) {unknown} for notebook {Path(notebook).stem!r}; "
            f"it takes {names or 'no notebook-specific parameters'} besides {list(_RUN_NAMES)}."
        )
    out: dict[str, str] = {}
    for spec in specs:
        val = values.get(spec.name, spec.default)
        val = "" if val is None else val
        if not isinstance(val, str):
            raise ParameterError(
                f"Parameter {spec.name} must be a string, got {type(val).__name__} {val!r}."
            )
        val = val.strip()
        if not _EXTRA_VALUE_RE.match(val):
            raise ParameterError(
                f"Parameter {spec.name} {val!r} is not a code (letters, digits and _ only, at "
                f"most 40 characters): {spec.help}"
            )
        out[spec.name] = val
    return out


#: Keys allowed in YAML parameter files.
_YAML_KEYS = {
    "schema_version",
    "kommun",
    "name",
    "period",
    "data_dir",
    "audience",
    "language",
    "disclosure",
    "min_registrations",
    "variables_off",
    "demo",
    "notes",
    "ambiguity",
    "voice",
    "providers",
}
_DISCLOSURE_KEYS = {"min_count", "min_denominator", "secondary"}
_AUDIENCES = ("public", "internal")
_PERIOD_RE = re.compile(r"^(\d{4})(?:-(\d{4}))?$")


@dataclass(frozen=True)
class RunParameters:
    kommun: str = NATIONAL
    period: str = ""
    data_dir: str = ""
    audience: str = ""

    def as_dict(self) -> dict[str, str]:
        return {n: getattr(self, n) for n in _RUN_NAMES}


@dataclass(frozen=True)
class Settings:
    """Validated settings of one report run."""

    municipality: Municipality
    period: tuple[int, int]
    data_dir: Path
    audience: str
    language: str
    disclosure: Mapping[str, Any]
    min_registrations: int
    variables_off: tuple[str, ...]
    variables_in_use: tuple[str, ...]
    sources: tuple[str, ...] = field(default_factory=tuple)
    #: The ``ambiguity:`` block (thresholds of :class:`workbench.ambiguity.AmbiguityThresholds`).
    ambiguity: Mapping[str, Any] = field(default_factory=dict)
    #: The ``voice:`` block (child survey; :class:`workbench.voice.VoiceSettings`).
    voice: Mapping[str, Any] = field(default_factory=dict)
    #: The ``providers:`` block (placement-provider report 50; ``min_ratings``).
    providers: Mapping[str, Any] = field(default_factory=dict)

    @property
    def kommun(self) -> str:
        return self.municipality.code

    @property
    def is_national(self) -> bool:
        return self.municipality.is_national

    @property
    def period_label(self) -> str:
        a, b = self.period
        return str(a) if a == b else f"{a}–{b}"

    @property
    def period_slug(self) -> str:
        a, b = self.period
        return str(a) if a == b else f"{a}-{b}"

    def describe(self) -> dict[str, Any]:
        """JSON-able summary for manifests and report appendices (no secrets live here)."""
        return {
            "kommun": self.kommun,
            "namn": self.municipality.name,
            "period": self.period_slug,
            "data_dir": str(self.data_dir),
            "audience": self.audience,
            "language": self.language,
            "disclosure": dict(self.disclosure),
            "min_registrations": self.min_registrations,
            "variables_off": list(self.variables_off),
            "ambiguity": copy.deepcopy(dict(self.ambiguity)),
            "voice": dict(self.voice),
            "providers": dict(self.providers),
        }


def normalise_run_parameters(values: Mapping[str, Any]) -> RunParameters:
    """Validate run parameters from any caller; unknown names are rejected.

    Papermill itself only warns about unknown parameters, so the runner and the CLI call this
    before starting a kernel, and the notebook calls it through :func:`load_settings`.
    """
    unknown = sorted(set(values) - set(_RUN_NAMES))
    if unknown:
        raise ParameterError(
            f"Unknown parameter(s) {unknown}. Report notebooks take only {list(_RUN_NAMES)}; "
            "other settings belong in parameters/defaults.yaml or the municipality's YAML file."
        )
    kommun = values.get("kommun", NATIONAL)
    try:
        kommun = normalise_kommun(kommun)
    except InvalidCodeError as exc:
        raise ParameterError(f"Parameter kommun: {exc}") from None
    period = values.get("period", "")
    if isinstance(period, int) and not isinstance(period, bool):
        period = str(period)  # papermill -p period 2020 arrives as an int
    out: dict[str, str] = {"kommun": kommun}
    for name, val in (
        ("period", period),
        *((n, values.get(n, "")) for n in ("data_dir", "audience")),
    ):
        if val is None:
            val = ""
        if not isinstance(val, str):
            raise ParameterError(
                f"Parameter {name} must be a string, got {type(val).__name__} {val!r}."
            )
        out[name] = val.strip()
    if out["period"]:
        _parse_period(out["period"], where="parameter period")
    if out["audience"] and out["audience"] not in _AUDIENCES:
        raise ParameterError(
            f"Parameter audience must be one of {_AUDIENCES}, got {out['audience']!r}."
        )
    return RunParameters(**out)


def _parse_period(value: object, *, where: str) -> tuple[int, int]:
    if not isinstance(value, str):
        raise ParameterError(
            f'{where}: period must be a quoted string like "2016-2025", got {value!r}.'
        )
    m = _PERIOD_RE.match(value.strip())
    if not m:
        raise ParameterError(f'{where}: period {value!r} is not "YYYY" or "YYYY-YYYY".')
    a = int(m.group(1))
    b = int(m.group(2) or a)
    if not (2000 <= a <= b <= 2100):
        raise ParameterError(f"{where}: period {value!r} must run forwards between 2000 and 2100.")
    return a, b


def read_yaml(path: Path) -> dict[str, Any]:
    """Read one parameter file and reject unknown keys and unquoted codes."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ParameterError(f"{path}: not valid YAML ({exc}).") from None
    if not isinstance(raw, dict):
        raise ParameterError(f"{path}: expected a mapping of settings at the top level.")
    unknown = sorted(set(raw) - _YAML_KEYS)
    if unknown:
        raise ParameterError(
            f"{path}: unknown key(s) {unknown}. Allowed keys: {sorted(_YAML_KEYS)}."
        )
    if "kommun" in raw and not isinstance(raw["kommun"], str):
        raise ParameterError(
            f"{path}: kommun is {raw['kommun']!r} ({type(raw['kommun']).__name__}), not a quoted "
            "string. YAML reads an unquoted 0114 as the octal number 76 and 0180 loses its zero "
            'in other tools: write kommun: "0114".'
        )
    demo = raw.get("demo")
    if isinstance(demo, dict) and "lan" in demo and not isinstance(demo["lan"], str):
        raise ParameterError(f'{path}: demo.lan must be a quoted string such as "22".')
    disc = raw.get("disclosure")
    if disc is not None and (not isinstance(disc, dict) or set(disc) - _DISCLOSURE_KEYS):
        raise ParameterError(
            f"{path}: disclosure must be a mapping with keys {sorted(_DISCLOSURE_KEYS)}."
        )
    return raw


def _merge(base: dict[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, val in override.items():
        if isinstance(val, Mapping) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], val)
        else:
            out[key] = copy.deepcopy(val)  # lists and scalars replace
    return out


def municipality_file(code: str) -> Path | None:
    """The municipality's own parameter file, if it exists."""
    folder = paths.parameters_dir() / "municipalities"
    matches = sorted(folder.glob(f"{code}-*.yaml"))
    if len(matches) > 1:
        raise ParameterError(f"Several parameter files for {code}: {[m.name for m in matches]}.")
    return matches[0] if matches else None


#: Settings that must be the same for every report of a batch, so only defaults.yaml sets them:
#: disclosure control is computed once over the linked set of all municipalities.
_NATIONAL_ONLY_KEYS = {"disclosure", "demo", "schema_version"}


def check_municipality_file(path: Path) -> dict[str, Any]:
    """Load a municipality file and check that its code exists and equals the file name's code."""
    raw = read_yaml(path)
    national = sorted(_NATIONAL_ONLY_KEYS & set(raw))
    if national:
        raise ParameterError(
            f"{path}: {national} can only be set in parameters/defaults.yaml. Disclosure control "
            "is computed once over all municipalities, county and nation together, so its rules "
            "must be the same for every report."
        )
    name_code = path.name.split("-", 1)[0]
    if "kommun" not in raw:
        raise ParameterError(f'{path}: missing kommun: "{name_code}".')
    try:
        code = normalise_kommun(raw["kommun"], allow_national=False)
    except InvalidCodeError as exc:
        raise ParameterError(f"{path}: {exc}") from None
    if code != name_code:
        raise ParameterError(
            f"{path}: kommun {code!r} does not match the file name's code {name_code!r}. "
            "Rename the file or fix the code."
        )
    return raw


def _validate_merged(merged: Mapping[str, Any], *, where: str) -> None:
    disc = merged.get("disclosure") or {}
    for key in ("min_count", "min_denominator"):
        val = disc.get(key)
        if not isinstance(val, int) or isinstance(val, bool) or val < 1:
            raise ParameterError(f"{where}: disclosure.{key} must be a positive integer.")
    if not isinstance(disc.get("secondary"), bool):
        raise ParameterError(f"{where}: disclosure.secondary must be true or false.")
    mr = merged.get("min_registrations")
    if not isinstance(mr, int) or isinstance(mr, bool) or mr < 0:
        raise ParameterError(f"{where}: min_registrations must be a non-negative integer.")
    if merged.get("language") not in ("sv", "en"):
        raise ParameterError(f'{where}: language must be "sv" or "en".')
    if merged.get("audience") not in _AUDIENCES:
        raise ParameterError(f"{where}: audience must be one of {_AUDIENCES}.")
    amb = merged.get("ambiguity") or {}
    if not isinstance(amb, Mapping):
        raise ParameterError(f"{where}: ambiguity must be a mapping of thresholds.")
    from workbench.ambiguity import AmbiguityThresholds  # the thresholds validate themselves

    try:
        AmbiguityThresholds.from_mapping(amb)
    except ValueError as exc:
        raise ParameterError(f"{where}: {exc}") from None
    from workbench.voice import VoiceSettings

    voice = merged.get("voice") or {}
    if not isinstance(voice, Mapping):
        raise ParameterError(f"{where}: voice must be a mapping such as {{min_answers: 10}}.")
    try:
        VoiceSettings.from_mapping(voice)
    except ValueError as exc:
        raise ParameterError(f"{where}: {exc}") from None
    _validate_providers(merged.get("providers") or {}, where=where)
    off = merged.get("variables_off")
    if not isinstance(off, list):
        raise ParameterError(f"{where}: variables_off must be a list of variable names.")
    cat = load_catalogue()
    for name in off:
        var = cat.variables.get(name)
        if var is None:
            raise ParameterError(
                f"{where}: variables_off names unknown variable {name!r}; see "
                "workbench.list_variables()."
            )
        if not var.optional:
            raise ParameterError(
                f"{where}: variable {name!r} is not optional and cannot be switched off; "
                "optional ones are listed by workbench.list_variables(optional=True)."
            )


def _validate_providers(block: object, *, where: str) -> None:
    """The ``providers:`` block: ``min_ratings``, a positive integer (default 5)."""
    if not isinstance(block, Mapping) or set(block) - {"min_ratings"}:
        raise ParameterError(f"{where}: providers must be a mapping such as {{min_ratings: 5}}.")
    mr = block.get("min_ratings", 5)
    if not isinstance(mr, int) or isinstance(mr, bool) or mr < 1:
        raise ParameterError(
            f"{where}: providers.min_ratings must be a positive integer (write it unquoted), "
            f"got {mr!r}."
        )


_PROVIDER_ID_RE = re.compile(r"^P[0-9]{5}$")
_PROVIDER_TYPES = ("hvb", "familjehemsorg", "stodboende")


def check_provider_parameters(utforare: object, utforartyp: object) -> tuple[str, str]:
    """Validate report 50's own parameters without data: the provider id's form and the type.

    Returns the normalised pair. Whether the provider exists is checked against the data by
    :func:`workbench.providers.check_selection` (the report's loader and the CLI call both).
    """
    hint = "See `workbench provider-report --help`."
    out = []
    for name, val in (("utforare", utforare), ("utforartyp", utforartyp)):
        val = "" if val is None else val
        if not isinstance(val, str):
            raise ParameterError(
                f"Parameter {name} must be a string, got {type(val).__name__} {val!r}. {hint}"
            )
        out.append(val.strip())
    prov, typ = out
    if prov and not _PROVIDER_ID_RE.match(prov):
        raise ParameterError(
            f'Parameter utforare {prov!r} is not a provider code such as "P00042" (P and five '
            f"digits). {hint}"
        )
    typ = typ.lower()
    if typ == "familjehem":
        typ = "familjehemsorg"
    if typ and typ not in _PROVIDER_TYPES:
        raise ParameterError(
            f"Parameter utforartyp {typ!r} is not a provider type; use one of "
            f"{list(_PROVIDER_TYPES)} (code list utforartyp). {hint}"
        )
    return prov, typ


def load_settings(
    kommun: object = NATIONAL,
    period: object = "",
    data_dir: object = "",
    audience: object = "",
) -> Settings:
    """Merge and validate all parameters for one report run.

    Called once by each notebook's setup cell with the values of its ``parameters`` cell.
    """
    run = normalise_run_parameters(
        {"kommun": kommun, "period": period, "data_dir": data_dir, "audience": audience}
    )
    defaults_path = paths.parameters_dir() / "defaults.yaml"
    merged = read_yaml(defaults_path)
    sources = [str(defaults_path.relative_to(paths.project_root()))]
    mfile = municipality_file(run.kommun) if run.kommun != NATIONAL else None
    if mfile is not None:
        merged = _merge(merged, check_municipality_file(mfile))
        sources.append(str(mfile.relative_to(paths.project_root())))
    for name in ("period", "data_dir", "audience"):
        if getattr(run, name):
            merged[name] = getattr(run, name)
    where = " + ".join(sources)
    _validate_merged(merged, where=where)
    years = _parse_period(merged.get("period"), where=where)
    if not isinstance(merged.get("data_dir"), str):
        raise ParameterError(f"{where}: data_dir must be a string path.")
    cat = load_catalogue()
    off = tuple(merged["variables_off"])
    in_use = tuple(n for n in cat.variables if n not in off)
    return Settings(
        municipality=get_municipality(run.kommun),
        period=years,
        data_dir=paths.resolve(merged["data_dir"]),
        audience=merged["audience"],
        language=merged["language"],
        disclosure=dict(merged["disclosure"]),
        min_registrations=merged["min_registrations"],
        variables_off=off,
        variables_in_use=in_use,
        sources=tuple(sources),
        ambiguity=copy.deepcopy(dict(merged.get("ambiguity") or {})),
        voice=dict(merged.get("voice") or {}),
        providers=dict(merged.get("providers") or {}),
    )


def demo_selection() -> tuple[list[str], bool]:
    """Municipality codes and whether to add the national report, from defaults.yaml ``demo``."""
    raw = read_yaml(paths.parameters_dir() / "defaults.yaml")
    demo = raw.get("demo") or {}
    lan = normalise_county(demo.get("lan", "22"))
    codes = list(list_municipalities(lan)["municipality_code"])
    return codes, bool(demo.get("national", True))


def init_parameter_files(*, overwrite: bool = False) -> list[Path]:
    """Write ``parameters/municipalities/<code>-<slug>.yaml`` for all 290 municipalities.

    Existing files are kept unless ``overwrite``; returns the files written.
    """
    folder = paths.parameters_dir() / "municipalities"
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for row in list_municipalities().itertuples(index=False):
        path = folder / f"{row.municipality_code}-{slugify(row.municipality_name)}.yaml"
        if path.exists() and not overwrite:
            continue
        path.write_text(
            f"# {row.municipality_name} ({row.county_name}). Overrides of parameters/defaults.yaml "
            "for this\n# municipality only; delete nothing here that you did not add.\n"
            f'kommun: "{row.municipality_code}"\n'
            f"name: {row.municipality_name}\n"
            "# Example: switch off optional variables this municipality does not record.\n"
            "# variables_off: [riskbedomning]\n",
            encoding="utf-8",
        )
        written.append(path)
    return written
