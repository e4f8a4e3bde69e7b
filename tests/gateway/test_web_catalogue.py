"""The web app's catalogues (issue 17, item 7): every key the code asks for is in English and French, the
two catalogues have the same keys, a translation keeps the English's {placeholders}, and no key is left
that nothing asks for. Plural keys (`tn('x', n)`) are `x.one` / `x.other` (French also uses `x.many`)."""

from __future__ import annotations

import json
import re
from pathlib import Path

STATIC = Path(__file__).resolve().parents[2] / "services" / "gateway" / "web" / "static" / "js"
LANGUAGES = ("en", "fr")
CALL = re.compile(r"""\b(t|tn)\(\s*'([a-z0-9_.]+)'""")
PLACEHOLDER = re.compile(r"\{(\w+)\}")


def _part(path: Path) -> dict[str, str]:
    text = path.read_text(encoding="utf-8")
    body = text[text.index("\nexport default ") + len("\nexport default "):].strip().removesuffix(";")
    data = json.loads(body)
    assert isinstance(data, dict) and all(isinstance(v, str) and v.strip() for v in data.values()), path
    return data


def catalogue(lang: str) -> dict[str, str]:
    """Every part of a language's catalogue (locales/<lang>/<area>.js), each imported by locales/<lang>.js;
    a key lives in one part only."""
    index = (STATIC / "locales" / f"{lang}.js").read_text(encoding="utf-8")
    merged: dict[str, str] = {}
    for path in sorted((STATIC / "locales" / lang).glob("*.js")):
        assert f"'./{lang}/{path.name}'" in index, f"{path.name} is not imported by locales/{lang}.js"
        part = _part(path)
        assert not set(part) & set(merged), f"keys in two parts: {sorted(set(part) & set(merged))}"
        merged |= part
    return merged


def asked_for() -> dict[str, set[str]]:
    """key -> the files asking for it; a plural call asks for its `.one` and `.other` forms."""
    out: dict[str, set[str]] = {}
    for path in STATIC.rglob("*.js"):
        if "locales" in path.parts or path.name == "i18n.js":  # the catalogues and the function itself
            continue
        for kind, key in CALL.findall(path.read_text(encoding="utf-8")):
            for k in ([f"{key}.one", f"{key}.other"] if kind == "tn" else [key]):
                out.setdefault(k, set()).add(path.name)
    return out


def test_both_catalogues_have_the_same_keys_and_placeholders() -> None:
    en, fr = catalogue("en"), catalogue("fr")
    assert set(en) ^ set(fr) <= {k for k in fr if k.endswith(".many")}, "keys in one catalogue only"
    for key, english in en.items():
        assert set(PLACEHOLDER.findall(fr[key])) == set(PLACEHOLDER.findall(english)), key


def test_every_key_asked_for_is_in_both_catalogues() -> None:
    asked = asked_for()
    assert asked, "the walk found no t('...') call: has the call changed shape?"
    for lang in LANGUAGES:
        missing = {k: sorted(files) for k, files in asked.items() if k not in catalogue(lang)}
        assert not missing, f"missing from locales/{lang}.js: {missing}"


def test_no_key_is_left_that_nothing_asks_for() -> None:
    asked = set(asked_for())
    stale = {k for k in catalogue("en") if k not in asked}
    assert not stale, f"keys nothing asks for (remove them or use them): {sorted(stale)}"
