"""Character rules: the table is Unicode's Cc and Cf; Python's and pydantic's regexes agree."""

from __future__ import annotations

import re
import sys
import unicodedata
from typing import Annotated

import pytest
from pydantic import Field, TypeAdapter, ValidationError

from bitimage.textrules import CONTROL_RANGES, EMAIL, NOT_BLANK, PLAIN_TEXT, VISIBLE_TEXT


def _codes(ranges: tuple[tuple[int, int], ...]) -> set[int]:
    return {code for low, high in ranges for code in range(low, high + 1)}


def test_the_table_is_unicode_categories_cc_and_cf() -> None:
    expected = {
        code
        for code in range(sys.maxunicode + 1)
        if unicodedata.category(chr(code)) in ("Cc", "Cf")
    }
    assert _codes(CONTROL_RANGES) == expected, (
        f"Unicode {unicodedata.unidata_version}: update CONTROL_RANGES in textrules.py"
    )


@pytest.mark.parametrize("pattern", [PLAIN_TEXT, VISIBLE_TEXT])
def test_every_control_is_refused_by_python_and_by_pydantic(pattern: str) -> None:
    rust = TypeAdapter(Annotated[str, Field(pattern=pattern)])
    python = re.compile(pattern)
    for code in sorted(_codes(CONTROL_RANGES)):
        text = f"ab{chr(code)}cd"
        assert python.search(text) is None, hex(code)
        with pytest.raises(ValidationError):
            rust.validate_python(text)
    for fine in ("ab", "café 東京 ✓", "a\U0001f600b", "x y"):
        assert python.search(fine)
        assert rust.validate_python(fine) == fine


def test_visible_text_needs_a_character_that_is_not_space() -> None:
    python = re.compile(VISIBLE_TEXT)
    blanks = [chr(code) for code in range(sys.maxunicode + 1) if chr(code).isspace()]
    assert python.search(" \u3000\xa0") is None
    for blank in blanks:
        assert python.search(blank * 3) is None, hex(ord(blank))
        assert python.search(f"{blank}a{blank}") or unicodedata.category(blank) == "Cc"


def test_not_blank_is_str_isspace() -> None:
    python = re.compile(NOT_BLANK)
    for code in range(0x3001):
        assert (python.search(chr(code) * 8) is None) == chr(code).isspace(), hex(code)


def test_email() -> None:
    rust = TypeAdapter(Annotated[str, Field(pattern=EMAIL)])
    assert rust.validate_python("shopify@email.com")
    for bad in (
        "a@b",
        "a b@c.de",
        "@c.de",
        "a@@c.de",
        "a\x00@c.de",
        "a@c.de\u200b",
        "x" * 65 + "@c.de",
    ):
        with pytest.raises(ValidationError):
            rust.validate_python(bad)
