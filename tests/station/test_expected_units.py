"""The expected-serials CSV: serial numbers and the optional label ID column."""

from __future__ import annotations

import pytest

from certline.app.station.expected_units import read_expected_csv


def test_a_plain_list_without_header_is_serial_numbers(tmp_path):
    path = tmp_path / "wo.csv"
    path.write_text("CL-1\nCL-2\n\n", encoding="utf-8")
    units = read_expected_csv(path)
    assert units.serials == {"CL-1", "CL-2"} and units.label_ids == {}


def test_an_mes_export_with_a_label_column_maps_label_ids_to_serials(tmp_path):
    path = tmp_path / "wo.csv"
    path.write_bytes("\ufeffModel,Serial_Number,Label ID\nX,CL-1,L-1\nX,CL-2,\nX,CL-3,L-3\n".encode())
    units = read_expected_csv(path)
    assert units.serials == {"CL-1", "CL-2", "CL-3"}
    assert units.label_ids == {"L-1": "CL-1", "L-3": "CL-3"}


def test_a_label_id_given_to_two_units_is_refused(tmp_path):
    path = tmp_path / "wo.csv"
    path.write_text("serial,label\nCL-1,L-1\nCL-2,L-1\n", encoding="utf-8")
    with pytest.raises(ValueError, match="label ID L-1 is given to CL-1 and to CL-2"):
        read_expected_csv(path)
