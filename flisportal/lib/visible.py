"""Text a stranger typed, made safe to store and show: every character that is not visible as
itself is written out as its code.

A user name tried at the login page is chosen by whoever tries it. Control characters can break
a log line or a CSV cell; bidirectional controls (U+202E RIGHT-TO-LEFT OVERRIDE and friends) and
zero-width characters make a name read as something else on screen, or turn the text after it
round. Written as `\\u202e` they are harmless and still show what was sent.
"""

from __future__ import annotations

import unicodedata

# Unicode categories shown as codes: controls (Cc), format characters (Cf: the bidirectional
# controls, zero-width space and joiners, soft hyphen), line and paragraph separators, private
# use, lone surrogates and unassigned code points.
_HIDDEN_CATEGORIES = {"Cc", "Cf", "Zl", "Zp", "Co", "Cs", "Cn"}
ELLIPSIS = "…"


def _visible_char(char: str) -> str:
    if unicodedata.category(char) not in _HIDDEN_CATEGORIES:
        return char
    code = ord(char)
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def visible_text(value: object, *, limit: int) -> str:
    """`value` with hidden characters written as codes, at most `limit` characters long (a
    longer one is cut and ends in "…")."""
    text = "".join(_visible_char(char) for char in str(value))
    if len(text) > limit:
        return text[: limit - 1] + ELLIPSIS
    return text
