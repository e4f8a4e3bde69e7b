"""Patient-identifier detection and Range parsing: pure unit tests."""

from __future__ import annotations

import pytest

from services.records.notes.identifiers import find_identifiers
from services.records.playback.ranges import ByteRange, Unsatisfiable, parse_range


def kinds(text: str) -> list[str]:
    return [f.kind for f in find_identifiers(text)]


@pytest.mark.parametrize("text", ["NHS 943 476 5919 today", "nhs no. 9434765919.", "id 943-476-5919"])
def test_valid_nhs_numbers_are_found(text: str) -> None:
    assert "nhs_number" in kinds(text)


@pytest.mark.parametrize("text", ["943 476 5918", "1234567890 widgets", "we spoke for 45 minutes"])
def test_invalid_check_digits_and_ordinary_numbers_pass(text: str) -> None:
    assert "nhs_number" not in kinds(text)


def test_offsets_point_at_the_identifier() -> None:
    text = "seen with 943 476 5919 on the ward"
    (f,) = find_identifiers(text)
    assert (f.start, f.end, f.kind) == (10, 22, "nhs_number")


@pytest.mark.parametrize("text", ["lives at SW1A 1AA", "postcode m1 1ae", "EC1A 1BB.", "near B33 8TH"])
def test_uk_postcodes(text: str) -> None:
    assert kinds(text) == ["uk_postcode"]


@pytest.mark.parametrize("text", ["Mrs Smith 12/03/1985 attended", "John Brown, born 3 March 1990",
                                  "DOB: 1990-03-04", "d.o.b 04.03.90", "Baby Jones born on March 4, 2024"])
def test_dates_of_birth_next_to_names(text: str) -> None:
    assert "date_of_birth" in kinds(text)


@pytest.mark.parametrize("text", ["our meeting on 12/03/2024 went well", "rota starts 2024-05-01"])
def test_plain_dates_pass(text: str) -> None:
    assert kinds(text) == []


@pytest.mark.parametrize("text", ["ON card 1234-567-897 AB", "health card 1234 567 897", "RAMQ ABCD 1234 5678",
                                  "PHN 9876 543 218"])
def test_canadian_health_numbers(text: str) -> None:
    assert "ca_health_number" in kinds(text), text


def test_reflective_text_is_clean() -> None:
    text = ("Today we talked about handover on a busy labour ward and how to ask for help early. "
            "Next time: escalation, and the reflective account for revalidation.")
    assert find_identifiers(text) == []


@pytest.mark.parametrize(("header", "expected"), [
    (None, None), ("bytes=0-9", ByteRange(0, 9)), ("bytes=5-", ByteRange(5, 99)), ("bytes=-10", ByteRange(90, 99)),
    ("bytes=90-500", ByteRange(90, 99)), ("bytes=0-0", ByteRange(0, 0)), ("bytes=0-1,5-6", None),
    ("items=0-5", None), ("bytes=9-3", None), ("bytes=-500", ByteRange(0, 99)),
])
def test_parse_range(header: str | None, expected: ByteRange | None) -> None:
    assert parse_range(header, 100) == expected


@pytest.mark.parametrize("header", ["bytes=100-", "bytes=150-200", "bytes=-0"])
def test_unsatisfiable_ranges(header: str) -> None:
    with pytest.raises(Unsatisfiable):
        parse_range(header, 100)
