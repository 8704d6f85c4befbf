"""Character rules for names, tags and query filters, written as regex patterns.

The rules are patterns (not code) so that one declaration both validates the input and states
the rule in /openapi.json: a schema-driven client or fuzzer sees exactly what the server enforces.
"""

from __future__ import annotations

# Unicode categories Cc (controls) and Cf (format characters: soft hyphen, zero-width spaces,
# bidi overrides, tags...) as of Unicode 14 (Python 3.11); tests/unit/test_textrules.py checks
# this table against the running Python's unicodedata. Astral characters are written literally
# because JSON Schema (ECMA-262) has no \U escape; BMP ones as \uXXXX, which Python, Rust
# (pydantic-core) and ECMA-262 regexes all read.
CONTROL_RANGES: tuple[tuple[int, int], ...] = (
    (0x0000, 0x001F),
    (0x007F, 0x009F),
    (0x00AD, 0x00AD),
    (0x0600, 0x0605),
    (0x061C, 0x061C),
    (0x06DD, 0x06DD),
    (0x070F, 0x070F),
    (0x0890, 0x0891),
    (0x08E2, 0x08E2),
    (0x180E, 0x180E),
    (0x200B, 0x200F),
    (0x202A, 0x202E),
    (0x2060, 0x2064),
    (0x2066, 0x206F),
    (0xFEFF, 0xFEFF),
    (0xFFF9, 0xFFFB),
    (0x110BD, 0x110BD),
    (0x110CD, 0x110CD),
    (0x13430, 0x13438),
    (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A),
    (0xE0001, 0xE0001),
    (0xE0020, 0xE007F),
)

# What str.split() and str.isspace() treat as white space, minus the controls above.
SPACE_RANGES: tuple[tuple[int, int], ...] = (
    (0x0020, 0x0020),
    (0x00A0, 0x00A0),
    (0x1680, 0x1680),
    (0x2000, 0x200A),
    (0x2028, 0x2029),
    (0x202F, 0x202F),
    (0x205F, 0x205F),
    (0x3000, 0x3000),
)


def _char(code: int) -> str:
    return f"\\u{code:04x}" if code <= 0xFFFF else chr(code)


def _class(ranges: tuple[tuple[int, int], ...]) -> str:
    return "".join(_char(a) if a == b else f"{_char(a)}-{_char(b)}" for a, b in ranges)


_CONTROLS = _class(CONTROL_RANGES)
_SPACES = _class(SPACE_RANGES)

# No control or format character anywhere.
PLAIN_TEXT = f"^[^{_CONTROLS}]*$"
# Plain text with at least one character that is not white space (names and tags).
VISIBLE_TEXT = f"^[^{_CONTROLS}]*[^{_CONTROLS}{_SPACES}][^{_CONTROLS}]*$"
# Contains at least one character that is not white space (passwords: anything else goes).
NOT_BLANK = f"[^{_class(((0x09, 0x0D), (0x1C, 0x1F), (0x85, 0x85)))}{_SPACES}]"
# An email address: local part, '@', a dotted domain; no space, control or format character.
_EMAIL_CHAR = f"[^@{_CONTROLS}{_SPACES}]"
EMAIL = f"^{_EMAIL_CHAR}{{1,64}}@{_EMAIL_CHAR}+\\.{_EMAIL_CHAR}+$"

RULE = "no control or format characters (Unicode Cc, Cf)"
