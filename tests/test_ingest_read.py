"""Reading layer of ingestion (workbench.ingest.read): encodings, delimiters, structure, Excel.

All fixtures are synthetic and written by the tests; identifiers look like "X0001".
"""

from __future__ import annotations

import codecs
import datetime as dt
import pickle
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workbench.ingest.read import ExportError, RawExport, read_export

HEADER = "Id;Kön;Beslutsdatum;Insats"
ROWS = [
    "X0001;Flicka;2021-03-01;Öppenvård",
    "X0002;Pojke;2021-04-15;Familjehem",
    "X0003;Flicka;2022-01-31;HVB",
]
SWEDISH = ["Åsa Ärlig Östen", "åsa ärlig östen", "Café René"]  # å ä ö Å Ä Ö é


def write(tmp_path: Path, text: str, encoding: str = "utf-8", name: str = "export.csv") -> Path:
    p = tmp_path / name
    p.write_bytes(text.encode(encoding))
    return p


def csv_text(*rows: str, header: str = HEADER, newline: str = "\n") -> str:
    return newline.join([header, *rows]) + newline


def expect_error(rule: str, path: Path, **kwargs) -> ExportError:
    with pytest.raises(ExportError) as info:
        read_export(path, **kwargs)
    assert info.value.rule == rule, str(info.value)
    return info.value


# -- encodings ----------------------------------------------------------------------------------


def test_read_export_utf8_gives_raw_strings_with_row_numbers(tmp_path):
    raw = read_export(write(tmp_path, csv_text(*ROWS)))
    assert raw.format == "csv"
    assert raw.encoding == "utf-8"
    assert raw.delimiter == ";"
    assert raw.header == ("Id", "Kön", "Beslutsdatum", "Insats")
    assert list(raw.data.columns) == ["_rad", "Id", "Kön", "Beslutsdatum", "Insats"]
    assert raw.data["_rad"].tolist() == [2, 3, 4]
    assert raw.data["_rad"].dtype == "int64"
    assert all(raw.data[c].dtype == "str" for c in raw.header)
    assert raw.data["Insats"].tolist() == ["Öppenvård", "Familjehem", "HVB"]
    assert raw.rows_read == 3 and raw.structural.empty and raw.stated_totals == ()


def test_read_export_hash_and_size_are_of_the_file_bytes(tmp_path):
    import hashlib

    p = write(tmp_path, csv_text(*ROWS))
    raw = read_export(p)
    assert raw.sha256 == hashlib.sha256(p.read_bytes()).hexdigest()
    assert raw.size == p.stat().st_size


def test_read_export_utf8_bom_is_detected_and_not_part_of_the_header(tmp_path):
    p = tmp_path / "bom.csv"
    p.write_bytes(codecs.BOM_UTF8 + csv_text(*ROWS).encode("utf-8"))
    raw = read_export(p)
    assert raw.encoding == "utf-8-sig"
    assert raw.header[0] == "Id"
    assert raw.data["Kön"].tolist() == ["Flicka", "Pojke", "Flicka"]


def test_read_export_utf16_le_with_bom_is_detected(tmp_path):
    p = tmp_path / "u16.csv"
    p.write_bytes(csv_text(*ROWS, newline="\r\n").encode("utf-16"))  # Python writes a LE BOM
    assert p.read_bytes()[:2] == codecs.BOM_UTF16_LE
    raw = read_export(p)
    assert raw.encoding == "utf-16"
    assert raw.header == ("Id", "Kön", "Beslutsdatum", "Insats")
    assert raw.data["Insats"].tolist() == ["Öppenvård", "Familjehem", "HVB"]
    assert raw.data["_rad"].tolist() == [2, 3, 4]


def test_read_export_cp1252_twin_equals_utf8(tmp_path):
    text = csv_text(*[f"X000{i};{s};2021-01-0{i};HVB" for i, s in enumerate(SWEDISH, 1)])
    u = read_export(write(tmp_path, text, "utf-8", "u.csv"))
    w = read_export(write(tmp_path, text, "cp1252", "w.csv"))
    assert (u.encoding, w.encoding) == ("utf-8", "cp1252")
    assert u.header == w.header
    pd.testing.assert_frame_equal(u.data, w.data)
    assert w.data["Kön"].tolist() == SWEDISH


def test_read_export_declared_latin1_is_used(tmp_path):
    p = write(tmp_path, csv_text("X0001;Åsa Öst;2021-01-01;HVB"), "latin-1")
    raw = read_export(p, encoding="latin-1")
    assert raw.encoding == "latin-1"
    assert raw.data["Kön"].tolist() == ["Åsa Öst"]


def test_read_export_declared_encoding_that_fails_names_the_line(tmp_path):
    p = write(
        tmp_path, csv_text("X0001;Flicka;2021-01-01;HVB", "X0002;Pojke;2021-01-01;Öppen"), "cp1252"
    )
    err = expect_error("decode_error", p, encoding="utf-8")
    # The header "Kön" already is invalid UTF-8 in cp1252 bytes: line 1.
    assert err.row == 1
    p2 = tmp_path / "p2.csv"
    p2.write_bytes(b"Id;Kon\nX0001;Flicka\nX0002;P\xf6jke\n")  # cp1252 "ö" on line 3
    err = expect_error("decode_error", p2, encoding="utf-8")
    assert err.row == 3
    assert "utf-8" in str(err)


def test_read_export_undeclared_file_neither_utf8_nor_cp1252_is_refused(tmp_path):
    p = tmp_path / "bad.csv"
    p.write_bytes(b"Id;Kon\nX0001;a\x81b\n")  # 0x81 is undefined in cp1252 and invalid UTF-8
    err = expect_error("decode_error", p)
    assert err.row == 2


def test_read_export_mixed_utf8_and_invalid_bytes_is_refused(tmp_path):
    p = tmp_path / "mixed.csv"
    p.write_bytes("Id;Kön\nX0001;Flicka\n".encode() + b"X0002;P\xf6jke\n")
    err = expect_error("mixed_encoding", p)
    assert err.row == 3


@pytest.mark.parametrize(
    ("cell", "shown"),
    [
        ("KÃ¶n", "Ã¶"),  # ö as UTF-8 read as cp1252
        ("Ã¥terfall", "Ã¥"),  # å
        ("Ã¤ldre", "Ã¤"),  # ä
        ("Ã–rebro", "Ã–"),  # Ö
        ("trasig \ufffd", "\ufffd"),  # replacement character
        ("kontroll\x96tecken", "\\x96"),  # C1 control character (cp1252 read as latin-1)
    ],
)
def test_read_export_mojibake_is_refused_with_row_and_column(tmp_path, cell, shown):
    p = write(tmp_path, csv_text("X0001;Flicka;2021-01-01;HVB", f"X0002;Pojke;2021-01-01;{cell}"))
    err = expect_error("mojibake", p)
    assert (err.row, err.column) == (3, "Insats")
    assert shown in str(err)
    assert "wrong encoding" in str(err) and "fel teckenkodning" in str(err)


@pytest.mark.parametrize("encoding", ["utf-8", "cp1252"])
def test_read_export_legitimate_non_ascii_text_is_not_taken_for_mojibake(tmp_path, encoding):
    values = ["JOÃO Çelik", "Ñuñez Ørjan", "Ævar Þór", "5 € – ’citat’ «x» § 3°", "1\xa0234"]
    if encoding == "utf-8":
        values += ["Łukasz Wałęsa", "Ăn Ńa ĂƒŁ"]  # continuation bytes 0x82/0x83 without Ã/Â
    text = "Id;Text\n" + "".join(f"X{i:04d};{v}\n" for i, v in enumerate(values))
    raw = read_export(write(tmp_path, text, encoding))
    assert raw.encoding == encoding
    assert raw.data["Text"].tolist() == values


def test_read_export_mojibake_in_header_is_refused(tmp_path):
    p = write(tmp_path, "Id;KÃ¶n\nX0001;Flicka\n")
    err = expect_error("mojibake", p)
    assert (err.row, err.column) == (1, "KÃ¶n")
    assert 'probably "ö"' in str(err)


def test_read_export_utf8_file_declared_cp1252_is_refused_as_mojibake(tmp_path):
    p = write(tmp_path, csv_text(*ROWS), "utf-8")
    err = expect_error("mojibake", p, encoding="cp1252")
    assert err.column == "KÃ¶n"  # the header, as decoded, is the first place it shows
    assert "valid UTF-8" in str(err) and "encoding: utf-8" in str(err)


def test_read_export_cp1252_file_declared_latin1_with_c1_character_is_refused(tmp_path):
    # "’" is 0x92 in cp1252; read as latin-1 it becomes the C1 control U+0092.
    p = write(tmp_path, "Id;Kommentar\nX0001;ok\nX0002;barnets’ ord\n", "cp1252")
    err = expect_error("mojibake", p, encoding="latin-1")
    assert (err.row, err.column) == (3, "Kommentar")


def test_read_export_bom_contradicting_declared_encoding_is_refused(tmp_path):
    p = tmp_path / "bom.csv"
    p.write_bytes(codecs.BOM_UTF8 + csv_text(*ROWS).encode())
    expect_error("bom_mismatch", p, encoding="cp1252")


def test_read_export_utf16_without_bom_is_refused(tmp_path):
    p = tmp_path / "u16.csv"
    p.write_bytes(csv_text(*ROWS).encode("utf-16-le"))
    expect_error("nul_bytes", p)


# -- delimiters and quoting ---------------------------------------------------------------------


@pytest.mark.parametrize("delimiter", [";", ",", "\t"])
def test_read_export_detects_delimiter(tmp_path, delimiter):
    text = csv_text(*ROWS).replace(";", delimiter)
    raw = read_export(write(tmp_path, text))
    assert raw.delimiter == delimiter
    assert raw.header == ("Id", "Kön", "Beslutsdatum", "Insats")
    assert raw.data["Beslutsdatum"].tolist() == ["2021-03-01", "2021-04-15", "2022-01-31"]


def test_read_export_ambiguous_delimiter_is_refused(tmp_path):
    p = write(tmp_path, "Id;Namn, kort,Kön\nX0001;a,b\n")  # ";" gives 2 fields, "," gives 3
    err = expect_error("ambiguous_delimiter", p)
    assert err.row == 1
    assert "delimiter" in str(err)


def test_read_export_ambiguous_delimiter_resolved_by_expected_columns_or_declaration(tmp_path):
    p = write(tmp_path, "Id;Typ, kod\nX0001;A, 1\n")
    raw = read_export(p, expected_columns=["ID", "typ,kod"])
    assert raw.delimiter == ";" and raw.header == ("Id", "Typ, kod")
    raw = read_export(p, delimiter=",")
    assert raw.header == ("Id;Typ", "kod")


def test_read_export_without_delimiter_in_header_is_refused(tmp_path):
    expect_error("no_delimiter", write(tmp_path, "Id\nX0001\n"))
    raw = read_export(write(tmp_path, "Id\nX0001\n", name="one.csv"), delimiter=";")
    assert raw.data["Id"].tolist() == ["X0001"]


def test_read_export_quoted_delimiter_newline_and_quote_stay_in_one_field(tmp_path):
    text = csv_text(
        'X0001;Flicka;2021-01-01;"HVB; akut"',
        'X0002;Pojke;2021-01-01;"rad ett\nrad två med ""citat"""',
        "X0003;Flicka;2021-01-01;HVB",
    )
    raw = read_export(write(tmp_path, text))
    assert raw.data["Insats"].tolist() == ["HVB; akut", 'rad ett\nrad två med "citat"', "HVB"]
    assert raw.data["_rad"].tolist() == [2, 3, 4]  # records, not text lines


def test_read_export_values_are_kept_exactly_and_whitespace_only_is_missing(tmp_path):
    raw = read_export(write(tmp_path, csv_text(" X0001 ;   ;;NA", "X0002;Pojke")))
    row = raw.data.iloc[0]
    assert row["Id"] == " X0001 "
    assert pd.isna(row["Kön"]) and pd.isna(row["Beslutsdatum"])
    assert row["Insats"] == "NA"  # no default NA strings
    short = raw.data.iloc[1]
    assert short["Kön"] == "Pojke" and pd.isna(short["Insats"])  # fewer fields: missing


def test_read_export_ragged_row_is_refused_with_its_row(tmp_path):
    text = csv_text('X0001;Flicka;"2021-\n01-01";HVB', "X0002;Pojke;2021-01-01;HVB;extra")
    err = expect_error("ragged_row", write(tmp_path, text))
    assert err.row == 3


def test_read_export_ragged_row_far_below_header_is_refused_with_its_row(tmp_path):
    rows = [f"X{i:04d};Flicka;2021-01-01;HVB" for i in range(60)]
    rows[49] = "X0049;Flicka;2021-01-01;HVB;extra"
    err = expect_error("ragged_row", write(tmp_path, csv_text(*rows)))
    assert err.row == 51


def test_read_export_wide_empty_rows_are_structural_not_ragged(tmp_path):
    rows = [f"X{i:04d};Flicka;2021-01-01;HVB" for i in range(60)]
    rows[2] = ";;;;;;"
    rows[55] = ";;;;;;;;"
    raw = read_export(write(tmp_path, csv_text(*rows)))
    assert raw.structural["_rad"].tolist() == [4, 57]
    assert set(raw.structural["kind"]) == {"empty"}
    assert len(raw.data) == 58 and raw.rows_read == 60
    assert raw.data["_rad"].tolist() == [r for r in range(2, 62) if r not in (4, 57)]


def test_read_export_trailing_delimiter_column_without_name_is_dropped_when_empty(tmp_path):
    raw = read_export(write(tmp_path, "Id;Kön;\nX0001;Flicka;\nX0002;Pojke;\n"))
    assert raw.header == ("Id", "Kön")
    assert list(raw.data.columns) == ["_rad", "Id", "Kön"]


def test_read_export_unnamed_column_with_values_is_refused(tmp_path):
    err = expect_error(
        "unnamed_column", write(tmp_path, "Id;;Kön\nX0001;;Flicka\nX0002;7;Pojke\n")
    )
    assert (err.row, err.column) == (3, "kolumn 2")


def test_read_export_duplicate_header_names_are_refused(tmp_path):
    err = expect_error("duplicate_column", write(tmp_path, "Id;Kön;kön \nX0001;Flicka;Flicka\n"))
    assert err.row == 1 and err.column == "kön"


# -- structural rows ----------------------------------------------------------------------------


def test_read_export_footer_rows_are_structural_with_stated_totals(tmp_path):
    text = csv_text(*ROWS, "Totalt;;;3", "Summa: 3", "Antal rader: 1 234;;;", ";  SUM:;2;1")
    raw = read_export(write(tmp_path, text))
    assert raw.data["Id"].tolist() == ["X0001", "X0002", "X0003"]
    assert raw.structural["kind"].tolist() == ["footer"] * 4
    assert raw.structural["_rad"].tolist() == [5, 6, 7, 8]
    details = ["Totalt 3", "Summa 3", "Antal rader 1234", "SUM 2 1"]
    assert raw.structural["detail"].tolist() == details
    assert raw.stated_totals == (3, 3, 1234, 2, 1)
    assert raw.rows_read == 7


def test_read_export_row_starting_with_totalt_but_carrying_case_values_is_data(tmp_path):
    text = csv_text(
        "Totalt omhändertagen;Flicka;2021-01-01;HVB", "Summering;;;3", "Totalt;X0009;;"
    )
    raw = read_export(write(tmp_path, text))
    assert raw.data["_rad"].tolist() == [2, 3, 4]
    assert raw.structural.empty and raw.stated_totals == ()


def test_read_export_repeated_header_and_blank_lines_are_structural(tmp_path):
    text = csv_text(ROWS[0], "", "   ", ";;;", " id ; KÖN;Beslutsdatum;insats", ROWS[1], "")
    raw = read_export(write(tmp_path, text))
    assert raw.data["_rad"].tolist() == [2, 7]
    assert raw.data["Id"].tolist() == ["X0001", "X0002"]
    s = raw.structural
    assert s["_rad"].tolist() == [3, 4, 5, 6, 8]
    assert s["kind"].tolist() == ["empty", "empty", "empty", "repeated_header", "empty"]
    assert raw.rows_read == len(raw.data) + len(raw.structural) == 7


def test_read_export_many_structural_rows_keep_data_aligned_with_row_numbers(tmp_path):
    lines = [x for i in range(300) for x in (f"X{i:04d};Flicka;2021-01-01;HVB", "")]
    raw = read_export(write(tmp_path, csv_text(*lines)))
    assert raw.data["Id"].tolist() == [f"X{i:04d}" for i in range(300)]
    assert raw.data["_rad"].tolist() == list(range(2, 602, 2))
    assert raw.structural["_rad"].tolist() == list(range(3, 603, 2))


def test_read_export_header_only_gives_zero_rows(tmp_path):
    raw = read_export(write(tmp_path, HEADER + "\n"))
    assert raw.header == ("Id", "Kön", "Beslutsdatum", "Insats")
    assert len(raw.data) == 0 and raw.rows_read == 0
    assert list(raw.data.columns) == ["_rad", "Id", "Kön", "Beslutsdatum", "Insats"]


@pytest.mark.parametrize("content", [b"", b"  \r\n\n\t ", b";;;\n;;\n"])
def test_read_export_empty_file_is_refused(tmp_path, content):
    p = tmp_path / "empty.csv"
    p.write_bytes(content)
    err = expect_error("empty_file", p)
    assert "empty" in str(err) and "tom" in str(err)


def test_read_export_leading_blank_lines_are_skipped_before_the_header(tmp_path):
    raw = read_export(write(tmp_path, "\n\n" + csv_text(*ROWS)))
    assert raw.header_row == 3
    assert raw.data["_rad"].tolist() == [4, 5, 6]


def test_read_export_title_row_is_refused_and_header_row_declares_it(tmp_path):
    text = "Uttag BBIC 2024\n\n" + csv_text(*ROWS)
    p = write(tmp_path, text)
    err = expect_error("title_rows", p, expected_columns=["id", "kön"])
    assert err.row == 3
    assert "header_row: 3" in str(err)
    raw = read_export(p, header_row=3, expected_columns=["id", "kön"])
    assert raw.header == ("Id", "Kön", "Beslutsdatum", "Insats")
    assert raw.data["_rad"].tolist() == [4, 5, 6]
    assert raw.rows_read == 3


def test_read_export_scientific_notation_in_csv_id_column_is_refused(tmp_path):
    p = write(tmp_path, "Personnummer;Kön\nX000000000042;Flicka\n4,2E+11;Pojke\n")
    err = expect_error("scientific_id", p, id_columns=["personnummer"])
    assert (err.row, err.column) == (3, "Personnummer")
    assert "4,2E" not in str(err)  # never echoes the identifier


# -- Excel --------------------------------------------------------------------------------------


def write_xlsx(tmp_path: Path, rows: list[list], name: str = "export.xlsx", **sheets) -> Path:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Data"
    for r in rows:
        ws.append(r)
    for title, (state, extra) in sheets.items():
        s = wb.create_sheet(title)
        s.sheet_state = state
        for r in extra:
            s.append(r)
    p = tmp_path / name
    wb.save(p)
    return p


def test_read_export_xlsx_converts_cells_to_strings(tmp_path):
    rows = [
        ["Id", "Beslutsdatum", "Tid", "Antal", "Andel", "Stor", "Aktiv", "Text"],
        [
            "X0001",
            dt.date(2021, 3, 1),
            dt.datetime(2021, 3, 1, 14, 30, 5),
            3,
            0.25,
            12.0,
            True,
            " a ",
        ],
        ["X0002", dt.datetime(2022, 1, 31), None, 1e3, 1 / 3, None, False, "   "],
    ]
    raw = read_export(write_xlsx(tmp_path, rows))
    assert raw.format == "xlsx" and raw.sheet == "Data" and raw.encoding is None
    d = raw.data
    assert d["_rad"].tolist() == [2, 3]
    assert d["Beslutsdatum"].tolist() == ["2021-03-01", "2022-01-31"]
    assert d["Tid"].iloc[0] == "2021-03-01T14:30:05" and pd.isna(d["Tid"].iloc[1])
    assert d["Antal"].tolist() == ["3", "1000"]
    assert d["Andel"].tolist() == ["0.25", repr(1 / 3)]
    assert d["Stor"].iloc[0] == "12"
    assert d["Aktiv"].tolist() == ["true", "false"]
    assert d["Text"].iloc[0] == " a " and pd.isna(d["Text"].iloc[1])


def test_read_export_xlsx_date_serials_in_date_columns(tmp_path):
    # Reference values: Excel's 1900 date system numbers 1900-01-01 as 1 and wrongly treats
    # 1900 as a leap year, so serial 60 is the non-existent 1900-02-29 and 61 is 1900-03-01
    # (Microsoft, "Excel incorrectly assumes that the year 1900 is a leap year", KB 214326);
    # =DATE(2020,1,1) in Excel gives 43831.
    rows = [
        ["Id", "Beslutsdatum"],
        ["X0001", 43831],
        ["X0002", 59],
        ["X0003", 61],
        ["X0004", "2021-01-01"],
    ]
    p = write_xlsx(tmp_path, rows)
    raw = read_export(p, date_columns=["beslutsdatum"])
    assert raw.data["Beslutsdatum"].tolist() == [
        "2020-01-01",
        "1900-02-28",
        "1900-03-01",
        "2021-01-01",
    ]
    plain = read_export(p)  # not declared a date column: the number as written
    assert plain.data["Beslutsdatum"].tolist() == ["43831", "59", "61", "2021-01-01"]
    bug = write_xlsx(
        tmp_path, [["Id", "Beslutsdatum"], ["X0001", 43831], ["X0002", 60]], "bug.xlsx"
    )
    err = expect_error("excel_date_serial", bug, date_columns=["Beslutsdatum"])
    assert (err.row, err.column) == (3, "Beslutsdatum")
    assert "1900-02-29" in str(err)


def test_read_export_xlsx_numeric_id_is_refused(tmp_path):
    # "00042" stored as the number 42 has lost its leading zeros.
    rows = [["Personnummer", "Kön"], ["00041", "Flicka"], [42, "Pojke"]]
    p = write_xlsx(tmp_path, rows)
    err = expect_error("numeric_id", p, id_columns=["PERSONNUMMER"])
    assert (err.row, err.column) == (3, "Personnummer")
    assert "text" in str(err) and "42" not in str(err)
    assert read_export(p).data["Personnummer"].tolist() == ["00041", "42"]  # not an id column


def test_read_export_xlsx_structural_rows_and_row_numbers(tmp_path):
    rows = [
        [],
        ["Id", "Kön", "Antal"],
        ["X0001", "Flicka", 1],
        [None, None, None],
        ["id", "kön", "antal"],
        ["X0002", "Pojke", 2],
        ["Totalt", None, 3],
    ]
    raw = read_export(write_xlsx(tmp_path, rows), id_columns=["Id"])
    assert raw.header_row == 2
    assert raw.data["_rad"].tolist() == [3, 6]
    assert raw.structural["_rad"].tolist() == [4, 5, 7]
    assert raw.structural["kind"].tolist() == ["empty", "repeated_header", "footer"]
    assert raw.stated_totals == (3,)


def test_read_export_xlsx_hidden_sheet_is_ignored_unless_named(tmp_path):
    p = write_xlsx(
        tmp_path,
        [["Id", "Kön"], ["X0001", "Flicka"]],
        Dold=("hidden", [["Id", "Kön"], ["X0009", "Pojke"], ["X0010", "Pojke"]]),
    )
    assert read_export(p).sheet == "Data"
    assert read_export(p, sheet=0).sheet == "Data"
    expect_error("sheet_not_found", p, sheet=1)  # positions count visible sheets only
    hidden = read_export(p, sheet="Dold")
    assert hidden.sheet == "Dold" and hidden.data["Id"].tolist() == ["X0009", "X0010"]
    expect_error("sheet_not_found", p, sheet="Saknas")


def test_read_export_xlsx_duplicate_header_and_title_row_are_refused(tmp_path):
    dup = write_xlsx(tmp_path, [["Id", "Id "], ["X0001", "X0002"]], "dup.xlsx")
    expect_error("duplicate_column", dup)
    titled = write_xlsx(tmp_path, [["Rapport BBIC"], ["Id", "Kön"], ["X0001", "Flicka"]], "t.xlsx")
    err = expect_error("title_rows", titled, expected_columns=["Id", "Kön"])
    assert err.row == 2
    assert read_export(titled, header_row=2).data["_rad"].tolist() == [3]


def test_read_export_xlsx_mojibake_is_refused_with_row_and_column(tmp_path):
    p = write_xlsx(tmp_path, [["Id", "Ort"], ["X0001", "Malmö"], ["X0002", "Ã–rebro"]])
    err = expect_error("mojibake", p)
    assert (err.row, err.column) == (3, "Ort")


def test_read_export_declared_header_row_that_is_empty_is_refused(tmp_path):
    err = expect_error("header_row_missing", write(tmp_path, "\n" + csv_text(*ROWS)), header_row=1)
    assert err.row == 1


def test_read_export_column_named_like_row_number_is_refused(tmp_path):
    expect_error("reserved_column", write(tmp_path, "Id;_rad\nX0001;1\n"))


def test_read_export_old_xls_is_refused(tmp_path):
    p = tmp_path / "old.xls"
    p.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100)
    expect_error("xls_format", p)


# -- errors and results -------------------------------------------------------------------------


def test_export_error_is_bilingual_and_survives_pickling(tmp_path):
    err = expect_error("ragged_row", write(tmp_path, csv_text("X0001;a;b;c;d")))
    text = str(err)
    assert text.splitlines()[0].startswith("export.csv, rad 2:") and "Åtgärd:" in text
    assert text.splitlines()[1].startswith("export.csv, row 2:") and "Fix:" in text
    assert "X0001" not in text
    again = pickle.loads(pickle.dumps(err))
    assert (again.rule, again.row, again.path, str(again)) == (err.rule, 2, err.path, text)


def test_raw_export_summary_never_shows_cell_values(tmp_path):
    raw = read_export(write(tmp_path, csv_text(*ROWS, "Totalt;;;3")))
    assert isinstance(raw, RawExport)
    shown = repr(raw) + raw._repr_html_() + raw.to_frame().to_string()
    assert "X0001" not in shown and "Familjehem" not in shown
    f = raw.to_frame()
    assert f.loc[0, "rader_lasta"] == 4 and f.loc[0, "summarader"] == 1


def test_read_export_rejects_unknown_arguments(tmp_path):
    p = write(tmp_path, csv_text(*ROWS))
    with pytest.raises(ValueError, match="encoding"):
        read_export(p, encoding="ebcdic")
    with pytest.raises(ValueError, match="delimiter"):
        read_export(p, delimiter="|")
    with pytest.raises(ValueError, match="header_row"):
        read_export(p, header_row=0)


# -- property: nothing is lost ------------------------------------------------------------------

KINDS = st.sampled_from(["data", "empty", "repeated_header", "footer"])


def _line(kind: str, i: int, n: int) -> tuple[str, int | None]:
    if kind == "data":  # every third one with a quoted field spanning two lines
        sex = '"Flicka\nandra raden"' if i % 3 == 0 else "Pojke"
        return f"X{i:04d};{sex};2021-01-{1 + i % 28:02d};HVB", None
    if kind == "empty":
        return ["", "   ", ";;;", ";  ;;"][i % 4], None
    if kind == "repeated_header":
        return [HEADER, HEADER.upper(), " id;kön ;Beslutsdatum; INSATS"][i % 3], None
    return [f"Totalt;;;{n}", f"Summa: {n}", f"Antal rader;{n};;"][i % 3], n


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(kinds=st.lists(KINDS, max_size=40), n=st.integers(0, 10**6))
def test_read_export_rows_read_equals_data_plus_structural(tmp_path, kinds, n):
    lines, totals = [], []
    for i, k in enumerate(kinds):
        line, total = _line(k, i, n)
        lines.append(line)
        if total is not None:
            totals.append(total)
    p = write(tmp_path, csv_text(*lines), name="prop.csv")
    raw = read_export(p, delimiter=";")
    assert raw.rows_read == len(raw.data) + len(raw.structural) == len(kinds)
    want_data = [i + 2 for i, k in enumerate(kinds) if k == "data"]
    assert raw.data["_rad"].tolist() == want_data
    want = [(i + 2, k) for i, k in enumerate(kinds) if k != "data"]
    assert list(zip(raw.structural["_rad"], raw.structural["kind"], strict=True)) == want
    assert raw.stated_totals == tuple(totals)


def _cells(kind: str, i: int, n: int) -> tuple[list, int | None]:
    if kind == "data":
        return [f"X{i:04d}", "Flicka", dt.date(2021, 1, 1 + i % 28), i], None
    if kind == "empty":
        return [[], [None, "  "], [None, None, None, None]][i % 3], None
    if kind == "repeated_header":
        return [["Id", "Kön", "Beslutsdatum", "Antal"], ["ID ", "kön", "beslutsdatum", "ANTAL"]][
            i % 2
        ], None
    return [["Totalt", None, None, n], [f"Summa: {n}"], ["Antal rader", n]][i % 3], n


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(kinds=st.lists(KINDS, max_size=25), n=st.integers(0, 10**6))
def test_read_export_xlsx_rows_read_equals_data_plus_structural(tmp_path, kinds, n):
    rows, totals = [["Id", "Kön", "Beslutsdatum", "Antal"]], []
    for i, k in enumerate(kinds):
        cells, total = _cells(k, i, n)
        rows.append(cells)
        if total is not None:
            totals.append(total)
    raw = read_export(write_xlsx(tmp_path, rows, "prop.xlsx"))
    while kinds and kinds[-1] == "empty":  # empty rows after the last content are not read
        kinds = kinds[:-1]
    assert raw.rows_read == len(raw.data) + len(raw.structural) == len(kinds)
    assert raw.data["_rad"].tolist() == [i + 2 for i, k in enumerate(kinds) if k == "data"]
    want = [(i + 2, k) for i, k in enumerate(kinds) if k != "data"]
    assert list(zip(raw.structural["_rad"], raw.structural["kind"], strict=True)) == want
    assert raw.stated_totals == tuple(totals)


def test_read_fast_arrow_parser_equals_the_c_parser_on_regular_files():
    """The pyarrow fast path must give exactly what pandas' C parser gives (property test)."""
    import csv as _csv
    import io as _io

    from hypothesis import given, settings
    from hypothesis import strategies as st

    from workbench.ingest.read import _arrow_parse, _c_parse

    cell = st.text(alphabet='ab ;,"\nåäöÅÄÖé\t12-', max_size=6)

    @settings(max_examples=60, deadline=None)
    @given(
        st.integers(min_value=1, max_value=4).flatmap(
            lambda w: st.tuples(
                st.just(w), st.lists(st.lists(cell, min_size=w, max_size=w), max_size=12)
            )
        ),
        st.sampled_from([";", ",", "\t"]),
        st.sampled_from(["utf-8", "cp1252"]),
    )
    def check(shape, delimiter, encoding):
        width, rows = shape
        buf = _io.StringIO()
        w = _csv.writer(buf, delimiter=delimiter, lineterminator="\r\n")
        w.writerow([f"k{i}" for i in range(width)])
        w.writerows(rows)
        source = buf.getvalue().encode(encoding)
        fast = _arrow_parse(source, encoding, delimiter, width, 1)
        if fast is None:  # irregular for pyarrow (e.g. a row that is one empty field)
            return
        slow, bad = _c_parse(Path("x.csv"), source, encoding, delimiter, width, 1)
        assert not bad
        pd.testing.assert_frame_equal(fast, slow, check_dtype=True)

    check()


@pytest.mark.parametrize("at", [0, 51, 65533, 65534, 65535, 65536, 65537, 200_000, None])
@pytest.mark.parametrize("bad", [b"\xf6", b"\xc3", b"\xe2\x82", b"\xe2\x82\xac", b"\xff\xfe"])
def test_utf8_check_of_a_prefix_reports_the_same_first_error_as_a_full_decode(at, bad):
    """The 64 KiB prefix check finds the error a full decode finds; a character cut by the
    prefix's end is not one (a cp1252 file fails fast, a UTF-8 file is still checked in full)."""
    from workbench.ingest.read import _is_utf8, _validate_utf8

    body = bytearray(("Kön;Ålder\n" * 30_000).encode("utf-8"))
    if at is not None:
        body[at : at + len(bad)] = bad
    data = bytes(body)
    try:
        data.decode("utf-8")
        expected = None
    except UnicodeDecodeError as exc:
        expected = exc.start
    try:
        _validate_utf8(data)
        got = None
    except UnicodeDecodeError as exc:
        got = exc.start
    assert got == expected
    assert _is_utf8(data) == (expected is None)
