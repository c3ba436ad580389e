"""SMS encoding and segment counting (GSM 03.38 / UCS-2), and safe GSM-7 transliteration."""

from __future__ import annotations

import pytest

from questionnaires.gsm import GSM7_BASIC, GSM7_EXTENSION, is_gsm7, measure, to_gsm


def test_the_gsm7_tables_have_their_standard_sizes() -> None:
    assert len(GSM7_BASIC) == 127  # 128 codes, one of which is the escape to the extension table
    assert len(GSM7_EXTENSION) == 10
    assert not GSM7_BASIC & GSM7_EXTENSION


@pytest.mark.parametrize(
    ("text", "encoding", "segments", "units"),
    [
        ("", "GSM-7", 1, 0),
        ("a" * 160, "GSM-7", 1, 160),
        ("a" * 161, "GSM-7", 2, 161),
        ("a" * 306, "GSM-7", 2, 306),
        ("a" * 307, "GSM-7", 3, 307),
        ("€" * 80, "GSM-7", 1, 160),  # extension characters count two septets
        ("€" * 81, "GSM-7", 2, 162),
        ("a" * 159 + "[", "GSM-7", 2, 161),
        # An escape pair never straddles two parts: 152 + (2 doesn't fit) | 2 + 151 | 1.
        ("a" * 152 + "€" + "a" * 152, "GSM-7", 3, 306),
        ("Grüße aus Zürich, ça va? ¿Qué tal?", "UCS-2", 1, 34),  # ç has no GSM-7 form
        ("ł" * 70, "UCS-2", 1, 70),
        ("ł" * 71, "UCS-2", 2, 71),
        ("ł" * 134, "UCS-2", 2, 134),
        ("ł" * 135, "UCS-2", 3, 135),
        ("😀" * 35, "UCS-2", 1, 70),  # outside the BMP: two UTF-16 code units each
        ("😀" * 36, "UCS-2", 2, 72),
        # A surrogate pair never straddles two parts.
        ("ł" * 66 + "😀" + "ł" * 66, "UCS-2", 3, 134),
    ],
)
def test_measure(text: str, encoding: str, segments: int, units: int) -> None:
    size = measure(text)
    assert (size.encoding, size.segments, size.units) == (encoding, segments, units)


@pytest.mark.parametrize(
    ("typographic", "plain"),
    [
        ("It’s “great” – really…", 'It\'s "great" - really...'),
        ("«Bonjour»\u00a0!", '"Bonjour" !'),
        ("10\u202f%", "10 %"),
        ("„Super“ — danke", '"Super" - danke'),
        ("a\tb\r\nc", "a b\nc"),
        ("soft\u00adhyphen\u200b", "softhyphen"),
    ],
)
def test_typographic_punctuation_becomes_gsm7(typographic: str, plain: str) -> None:
    assert to_gsm(typographic) == plain
    assert is_gsm7(to_gsm(typographic))


@pytest.mark.parametrize("word", ["Grüße", "Ärger", "Ñandú", "Ørsted", "À bientôt", "Łódź", "ça", "Ελλάδα", "😀"])
def test_letters_are_never_changed(word: str) -> None:
    assert to_gsm(word) == word


def test_a_real_letter_outside_gsm7_forces_ucs2_but_umlauts_do_not() -> None:
    assert measure(to_gsm("Wie war’s bei Müller?")).encoding == "GSM-7"
    assert measure(to_gsm("Jak było w Łodzi?")).encoding == "UCS-2"
