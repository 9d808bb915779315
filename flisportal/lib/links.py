"""URLs for pages that link to hundreds of objects at once.

`reverse()` walks the URL resolver on every call (≈20 µs); the coverage dashboard links ~1,000
times per page. `link_former` reverses once with placeholders and fills them in by string
replacement, which is only safe for arguments that a URL pattern would accept as they are:
numbers, kommune codes, uuids.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import quote

from django.urls import reverse
from django.utils.http import RFC3986_SUBDELIMS

# Placeholders no real argument can equal: a number, a three-letter code and a uuid that are
# each matched by their converters (int, str, uuid) but never produced by the portal.
_PLACEHOLDERS = {
    "int": "987654321",
    "str": "PLACEHOLDER",
    "uuid": "00000000-0000-0000-0000-000000000000",
}


def link_former(viewname: str, *kinds: str) -> Callable[..., str]:
    """A function that builds the URL of `viewname` from positional arguments of the given
    converter kinds ("int", "str", "uuid"), as `reverse(viewname, args=[...])` would."""
    placeholders = [_PLACEHOLDERS[kind] for kind in kinds]
    pattern = reverse(viewname, args=placeholders)
    # Numbers and uuids need no quoting; text is quoted as reverse() quotes an argument.
    quoted = [kind == "str" for kind in kinds]

    def form(*args: object) -> str:
        url = pattern
        for placeholder, needs_quoting, value in zip(placeholders, quoted, args, strict=True):
            text = str(value)
            if needs_quoting:
                text = quote(text, safe=RFC3986_SUBDELIMS + "/~:@")
            url = url.replace(placeholder, text, 1)
        return url

    return form
