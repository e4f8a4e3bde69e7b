"""Likely patient identifiers in free text (seed rule: no patient-identifiable information in
mentoring records). Pure functions: the API reports *kinds and offsets*, never the matched text.

Heuristics, tuned to flag rather than miss; the author can confirm and save anyway:
- `nhs_number`: 10 digits (optionally 3-3-4 with spaces or hyphens) with a valid modulus-11 check digit.
- `ca_health_number`: Ontario health card (10 digits, Luhn check digit, optional 2-letter version
  code), Quebec RAMQ (4 letters + 8 digits), British Columbia PHN (10 digits starting with 9,
  modulus-11 with weights 2,4,8,5,10,9,7,3).
- `uk_postcode`: a full UK postcode (outward + inward code).
- `date_of_birth`: a date preceded by "DOB", "born", "date of birth", or within a few words of a
  personal name (title + capitalised word, or two capitalised words).
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Finding:
    start: int
    end: int
    kind: str


_TEN_DIGITS = re.compile(r"(?<![\dA-Za-z])(\d{3})[ -]?(\d{3})[ -]?(\d{4})(?:[ -]?([A-Z]{2}))?(?![\dA-Za-z])")
_ON_SPACED = re.compile(r"(?<![\dA-Za-z])(\d{4})[ -]?(\d{3})[ -]?(\d{3})(?:[ -]?([A-Z]{2}))?(?![\dA-Za-z])")
_RAMQ = re.compile(r"(?<![A-Za-z\d])[A-Z]{4}[ -]?\d{4}[ -]?\d{4}(?![A-Za-z\d])")
_POSTCODE = re.compile(
    r"(?<![A-Za-z\d])(?:GIR ?0AA|[A-PR-UWYZ](?:\d[A-HJKPSTUW\d]?|[A-HK-Y]\d[ABEHMNPRV-Y\d]?) ?\d[ABD-HJLNP-UW-Z]{2})"
    r"(?![A-Za-z\d])",
    re.IGNORECASE,
)
_MONTHS = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?"
_DATE = re.compile(
    r"(?<!\d)(?:"
    r"\d{1,2}[/.-]\d{1,2}[/.-](?:\d{4}|\d{2})"
    r"|\d{4}-\d{2}-\d{2}"
    r"|\d{1,2}(?:st|nd|rd|th)?\s+" + _MONTHS + r",?\s+\d{4}"
    r"|" + _MONTHS + r"\s+\d{1,2}(?:st|nd|rd|th)?,?\s+\d{4}"
    r")(?!\d)",
    re.IGNORECASE,
)
_DOB_CUE = re.compile(r"(?:\bd\.?\s?o\.?\s?b\.?|\bborn\b|date of birth|\bn[ée]e?\s+le\b|\bage[d]?\b)\W{0,3}(?:on\s+)?$",
                      re.IGNORECASE)
_NAME = re.compile(r"\b(?:Mr|Mrs|Ms|Miss|Mx|Dr|Baby|Master)\.?\s+[A-Z][a-z'-]+|\b[A-Z][a-z'-]{1,}\s+[A-Z][a-z'-]{1,}\b")
_NEAR = 40  # characters between a name and a date that still count as "next to"


def _nhs_valid(digits: str) -> bool:
    total = sum(int(d) * w for d, w in zip(digits[:9], range(10, 1, -1), strict=True))
    check = 11 - total % 11
    if check == 11:
        check = 0
    return check != 10 and check == int(digits[9])


def _luhn_valid(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _bc_phn_valid(digits: str) -> bool:
    if digits[0] != "9":
        return False
    total = sum((int(d) * w) % 11 for d, w in zip(digits[1:9], (2, 4, 8, 5, 10, 9, 7, 3), strict=True))
    check = 11 - total % 11
    return check < 10 and check == int(digits[9])


def find_identifiers(text: str) -> list[Finding]:
    """Every likely patient identifier in `text`, as (start, end, kind), sorted and de-duplicated."""
    found: set[Finding] = set()
    for m in _TEN_DIGITS.finditer(text):
        digits = "".join(g for g in m.groups()[:3])
        end = m.end() if m.group(4) else m.end(3)
        if _nhs_valid(digits):
            found.add(Finding(m.start(), m.end(3), "nhs_number"))
        if _bc_phn_valid(digits):
            found.add(Finding(m.start(), m.end(3), "ca_health_number"))
        if _luhn_valid(digits) and (m.group(4) or not _nhs_valid(digits)):
            found.add(Finding(m.start(), end, "ca_health_number"))
    for m in _ON_SPACED.finditer(text):
        digits = "".join(m.groups()[:3])
        if _luhn_valid(digits) or _bc_phn_valid(digits):
            found.add(Finding(m.start(), m.end(), "ca_health_number"))
    for m in _RAMQ.finditer(text):
        found.add(Finding(m.start(), m.end(), "ca_health_number"))
    for m in _POSTCODE.finditer(text):
        found.add(Finding(m.start(), m.end(), "uk_postcode"))
    names = [(m.start(), m.end()) for m in _NAME.finditer(text)]
    for m in _DATE.finditer(text):
        before = text[max(0, m.start() - 25):m.start()]
        near_name = any(s - _NEAR <= m.end() and e + _NEAR >= m.start() for s, e in names)
        if _DOB_CUE.search(before) or near_name:
            found.add(Finding(m.start(), m.end(), "date_of_birth"))
    return sorted(_dedupe(found))


def _dedupe(found: set[Finding]) -> list[Finding]:
    # A 10-digit match can be both a 3-3-4 and a 4-3-3 reading of the same span: keep one per kind/span start.
    seen: dict[tuple[int, str], Finding] = {}
    for f in sorted(found):
        key = (f.start, f.kind)
        if key not in seen or f.end > seen[key].end:
            seen[key] = f
    return list(seen.values())
