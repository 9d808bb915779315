"""Form widgets."""

from __future__ import annotations

from typing import Any

from django import forms
from django.forms.utils import flatatt
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString


class PlainSelect(forms.Select):
    """A single-choice select written out in Python, not a template per option.

    The filters of the delivery list and the inbox offer all 98 kommuner; Django's select
    renders each option through its own template, a fifth of those pages' time
    (benchmarks/load.py). Same markup: name, attributes, `selected`, escaped values and labels.
    Choices must be flat (no option groups)."""

    def render(
        self,
        name: str,
        value: Any,
        attrs: dict[str, Any] | None = None,
        renderer: Any = None,
    ) -> SafeString:
        chosen = {str(v) for v in self.format_value(value)}
        options = []
        for choice, label in self.choices:
            if isinstance(label, (list, tuple)):
                raise ValueError("PlainSelect takes no option groups")
            text = "" if choice is None else str(choice)
            options.append((text, " selected" if text in chosen else "", label))
        return format_html(
            '<select name="{}"{}>{}</select>',
            name,
            flatatt(self.build_attrs(self.attrs, attrs)),
            format_html_join("", '<option value="{}"{}>{}</option>', options),
        )
