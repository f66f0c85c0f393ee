"""The final report (notebook 40): composition, section structure, clean HTML, release gate.

Three papermill runs with the real 'workbench' kernel on the small synthetic dataset: the nation,
a large municipality (Stockholm) and a tiny one (fewer registrations than the report threshold).
"""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import papermill as pm
import pytest
from nbconvert.filters.strings import add_anchor

from workbench import dataset
from workbench.release import check_release
from workbench.report import IndexEntry, export_html, write_index, write_report_list
from workbench.views_final import SECTIONS, VerifiedMethod, heading_anchor, verify_methods

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "reports" / "40-final-report.ipynb"

# Snapshot of the section structure (h2, and h3 under sections whose sub-headings are fixed).
# The h3 of "Otydliga variabler och rekommendationer" name the variables the data flag, and the
# h3 of the distributions come from the catalogue; both are left out so that the snapshot is
# about the report's structure. Update deliberately when the structure changes.
EXPECTED_H2 = [
    "Sammanfattning",
    "Bakgrund och syfte",
    "Data och metod",
    "Målgrupp",
    "Grundproblematik",
    "Insatser",
    "Resultat",
    "Likvärdig vård",
    "Jämförelser",
    "Barns och ungas röst",
    "Otydliga variabler och rekommendationer",
    "Lärdomar och nästa steg",
    "Bilaga A: Variabler och kodlistor",
    "Bilaga B: Röjandekontroll",
    "Bilaga C: Ursprung och spårbarhet",
    "Bilaga D: Verifierade metoder",
]
EXPECTED_H3 = {
    "Data och metod": ["Fullständighet"],
    "Målgrupp": ["Kön", "Åldersgrupp", "Ursprung (födelselandsgrupp)"],
    "Grundproblematik": ["Grundproblematik", "Aktualiseringsväg"],
    "Insatser": ["Öppenvård eller placering", "Insatstyp"],
    "Resultat": ["Måluppfyllelse", "Avslutsorsak", "Förändring över tid"],
    "Likvärdig vård": [
        "Likvärdig vård: måluppfyllelse (målen helt uppnådda)",
        "Likvärdig vård: sammanbrott i placeringen",
    ],
    "Bilaga A: Variabler och kodlistor": ["Kodlistor"],
    "Bilaga B: Röjandekontroll": ["Röjandekontroll"],
}


class _Outline(HTMLParser):
    """Headings (level, text), ids of all elements, in-page links and the summary's items."""

    def __init__(self) -> None:
        super().__init__()
        self.headings: list[tuple[int, str]] = []
        self.ids: set[str] = set()
        self.links: list[str] = []
        self.findings: list[str] = []
        self._h: int | None = None
        self._li = False
        self._in_findings = False
        self._text = ""

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if a.get("id"):
            self.ids.add(a["id"])
        if tag == "a" and (a.get("href") or "").startswith("#"):
            self.links.append(a["href"][1:])
        if re.fullmatch(r"h[1-6]", tag):
            self._h, self._text = int(tag[1]), ""
        if tag == "ol" and "wb-findings" in (a.get("class") or ""):
            self._in_findings = True
        if tag == "li" and self._in_findings:
            self._li, self._text = True, ""

    def handle_endtag(self, tag):
        if self._h and tag == f"h{self._h}":
            self.headings.append((self._h, self._text.strip()))
            self._h = None
        if tag == "li" and self._li:
            self.findings.append(self._text.strip())
            self._li = False
        if tag == "ol":
            self._in_findings = False

    def handle_data(self, data):
        if self._h or self._li:
            self._text += data


def _outline(text: str) -> _Outline:
    p = _Outline()
    p.feed(text)
    return p


def _h3_by_section(headings: list[tuple[int, str]]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    current = ""
    for level, text in headings:
        if level == 2:
            current = text
            out[current] = []
        elif level == 3 and current:
            out[current].append(text)
    return out


# -- without a kernel ------------------------------------------------------------------------


def test_heading_anchor_equals_the_id_nbconvert_gives_markdown_headings():
    for _, title in SECTIONS:
        html = add_anchor(f"<h2>{title}</h2>", anchor_link_text="")
        assert f'id="{heading_anchor(title)}"' in html, title


def test_sections_match_the_notebook_headings_in_order():
    nb = json.loads(NOTEBOOK.read_text(encoding="utf-8"))
    found = []
    for cell in nb["cells"]:
        if cell["cell_type"] == "markdown":
            for line in "".join(cell["source"]).splitlines():
                m = re.match(r"^(#{2})\s+(.*)$", line)
                if m:
                    found.append((len(m.group(1)), m.group(2).strip()))
    assert found == list(SECTIONS)
    assert [t for _, t in SECTIONS] == EXPECTED_H2


def test_verify_methods_reproduces_every_published_reference_value():
    # Sources: Newcombe (1998a) Table I; Newcombe (1998b) Table II method 10; Krippendorff
    # (2011) example C; Fleiss (1971) Table 1 (the values are asserted in test_stats.py and
    # test_agreement.py too).
    result = verify_methods()
    assert len(result.checks) == 6
    assert result.all_reproduced, result.to_frame()
    frame = result.to_frame()
    assert frame["reproduced"].all() and len(frame) == 6
    by_name = {c.method: c for c in result.checks}
    assert round(by_name["Krippendorffs alfa, nominal"].computed, 3) == 0.743


def test_verified_method_is_not_reproduced_when_the_value_differs():
    assert not VerifiedMethod("x", "y", 0.743, 0.7449, 3).reproduced
    assert VerifiedMethod("x", "y", 0.743, 0.7434, 3).reproduced


def test_index_groups_by_county_and_links_every_report_and_the_excel_appendix(tmp_path):
    folder = tmp_path / "reports" / "2016-2025"
    folder.mkdir(parents=True)
    entries = []
    for code, name, county, county_name in [
        ("2281", "Sundsvall", "22", "Västernorrlands län"),
        ("0180", "Stockholm", "01", "Stockholms län"),
    ]:
        for nb in ("10-follow-up", "30-comparisons", "40-final-report"):
            href = f"{code}-{nb}.html"
            (folder / href).write_text("<p>x</p>", encoding="utf-8")
            entries.append(IndexEntry(code, name, county, county_name, folder.name, href, nb))
    (folder / "0180-30-comparisons.xlsx").write_bytes(b"")  # only Stockholm has an appendix
    write_report_list(folder, entries)
    text = write_index(tmp_path / "reports").read_text(encoding="utf-8")
    from workbench.report import index_script

    assert text.lower().count("<script") == 1 and index_script() in text  # only our filter
    # one <details> per county, reached from an in-page list of counties
    assert text.count("<details ") == 2
    assert '<a href="#period-2016-2025-lan-01">Stockholms län</a>' in text
    assert 'id="period-2016-2025-lan-01"' in text and 'id="period-2016-2025-lan-22"' in text
    assert text.index("Stockholms län (1 st)") < text.index("Västernorrlands län (1 st)")
    for code in ("2281", "0180"):
        for nb in ("10-follow-up", "30-comparisons", "40-final-report"):
            assert f'href="2016-2025/{code}-{nb}.html"' in text
    assert 'href="2016-2025/0180-30-comparisons.xlsx"' in text
    assert "2281-30-comparisons.xlsx" not in text
    assert check_release([tmp_path / "reports" / "index.html"]).clean


# -- papermill runs --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_code(small_dataset) -> str:
    reg = dataset.read_table(small_dataset, "registrations", columns=["kommun"])
    counts = reg["kommun"].value_counts()
    tiny = counts[(counts > 0) & (counts < 10)]
    if tiny.empty:
        pytest.fail("the small synthetic dataset should contain a municipality with 1-9 rows")
    return str(sorted(tiny.index)[0])


@pytest.fixture(scope="module")
def final_reports(small_dataset, kernel_ready, tiny_code, tmp_path_factory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("final")
    out = {}
    for code in ("0000", "0180", tiny_code):
        nb = pm.execute_notebook(
            str(NOTEBOOK),
            str(tmp / f"{code}.ipynb"),
            parameters={"kommun": code, "data_dir": str(small_dataset)},
            kernel_name=kernel_ready,
            progress_bar=False,
            cwd=str(tmp),
        )
        out[code] = export_html(nb, tmp / f"{code}-40.html", title=f"Slutrapport {code}")
    return out


@pytest.mark.kernel
@pytest.mark.xdist_group("kernel")
def test_final_report_section_structure_matches_snapshot(final_reports):
    for code, path in final_reports.items():
        o = _outline(path.read_text(encoding="utf-8"))
        assert [t for lv, t in o.headings if lv == 1] == [
            "Slutrapport: uppföljning av social barn- och ungdomsvård"
        ], code
        assert [t for lv, t in o.headings if lv == 2] == EXPECTED_H2, code
        h3 = _h3_by_section(o.headings)
        if code != "0000":
            continue
        for section, expected in EXPECTED_H3.items():
            assert h3[section] == expected, (code, section)


@pytest.mark.kernel
@pytest.mark.xdist_group("kernel")
def test_final_report_headings_never_skip_a_level(final_reports):
    for code, path in final_reports.items():
        levels = [lv for lv, _ in _outline(path.read_text(encoding="utf-8")).headings]
        assert levels[0] == 1
        assert all(b <= a + 1 for a, b in zip(levels, levels[1:], strict=False)), code


@pytest.mark.kernel
@pytest.mark.xdist_group("kernel")
def test_final_report_table_of_contents_links_resolve(final_reports):
    for code, path in final_reports.items():
        o = _outline(path.read_text(encoding="utf-8"))
        toc = [heading_anchor(t) for _, t in SECTIONS]
        assert set(toc) <= set(o.links), code
        assert set(o.links) <= o.ids, set(o.links) - o.ids


@pytest.mark.kernel
@pytest.mark.xdist_group("kernel")
def test_final_report_html_has_no_code_traceback_or_warning(final_reports):
    for path in final_reports.values():
        text = path.read_text(encoding="utf-8")
        assert '<html lang="sv">' in text
        assert "Traceback" not in text and "Warning" not in text
        assert "<script" not in text.lower()
        assert not re.search(r"""(src|href)=["']https?://""", text), "external resource"
        assert "load_settings" not in text and "import " not in text
        assert "FinalReport" not in text and "rapport." not in text
        assert path.stat().st_size < 3_000_000  # target: under 3 MB per report


@pytest.mark.kernel
@pytest.mark.xdist_group("kernel")
def test_final_report_passes_the_release_gate(final_reports):
    report = check_release(list(final_reports.values()), min_count=5)
    assert report.ok, [str(f) for f in report.errors][:5]


@pytest.mark.kernel
@pytest.mark.xdist_group("kernel")
def test_final_report_summary_has_five_generated_findings(final_reports, tiny_code):
    summaries = {
        c: _outline(p.read_text(encoding="utf-8")).findings for c, p in final_reports.items()
    }
    assert len(summaries["0000"]) == 5 and len(summaries["0180"]) == 5
    # generated from each unit's results: the nation and Stockholm do not read the same
    assert summaries["0000"] != summaries["0180"]
    assert any("Stockholm" in f for f in summaries["0180"])
    assert any("kommuner har ett säkert sämre" in f for f in summaries["0000"])
    # a tiny municipality's summary speaks of its county and the nation, never of itself
    tiny_text = final_reports[tiny_code].read_text(encoding="utf-8")
    assert "För få registreringar" in tiny_text
    assert "har för få registreringar för egna resultat" in tiny_text


@pytest.mark.kernel
@pytest.mark.xdist_group("kernel")
def test_national_final_report_lists_reproduced_reference_values(final_reports):
    text = final_reports["0000"].read_text(encoding="utf-8")
    # Newcombe (1998a) Table I 0,2553-0,3662; Krippendorff (2011) 0,743; Fleiss (1971) 0,430
    for value in ("0,2553", "0,3662", "0,0524", "0,3339", "0,743", "0,430"):
        assert value in text, value
    assert "6 publicerade referensvärden" in text and "; 6 återskapades" in text
    assert ">NEJ<" not in text
    municipal = final_reports["0180"].read_text(encoding="utf-8")
    assert "redovisas i den nationella rapporten" in municipal


@pytest.mark.kernel
@pytest.mark.xdist_group("kernel")
def test_final_report_appendix_shows_code_list_status(final_reports):
    text = final_reports["0180"].read_text(encoding="utf-8")
    assert "Kodlistans status" in text
    assert "officiell" in text and "preliminär (platshållare)" in text
    assert re.search(r"<code>[0-9a-f]{64}</code>", text)  # full manifest checksums


@pytest.mark.kernel
@pytest.mark.xdist_group("kernel")
def test_final_report_voice_section_shows_items_with_intervals_and_links_report_60(
    final_reports, tiny_code
):
    def section(code: str) -> str:
        text = final_reports[code].read_text(encoding="utf-8")
        anchor = heading_anchor("Barns och ungas röst")
        return text.split(f'id="{anchor}"', 1)[1].split("<h2", 1)[0]

    big = section("0180")
    for item in ("Jag känner mig trygg", "Jag blir lyssnad på", "Jag vet vad som ska hända"):
        assert item in big
    assert "Svarsfrekvens: Stockholm" in big and "Stockholms län" in big and "Riket" in big
    assert "95 % KI" in big and re.search(r"\d+–\d+\s%", big)  # intervals
    assert 'href="0180-stockholm-60-childrens-voice.html"' in big
    national = section("0000")
    assert 'href="0000-riket-60-childrens-voice.html"' in national
    assert f'href="{tiny_code}-' in section(tiny_code)
