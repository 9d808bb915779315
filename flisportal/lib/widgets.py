"""Form widgets."""

from __future__ import annotations

import html
from typing import Any

from django import forms
from django.forms.utils import flatatt
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe


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
        # One f-string per option with the standard library's escape (what Django's escape()
        # does): format_html() per option cost more than the query for the choices.
        options = []
        for choice, label in self.choices:
            if isinstance(label, (list, tuple)):
                raise ValueError("PlainSelect takes no option groups")
            text = "" if choice is None else str(choice)
            selected = " selected" if text in chosen else ""
            options.append(f'<option value="{_escaped(text)}"{selected}>{_escaped(label)}</option>')
        return format_html(
            '<select name="{}"{}>{}</select>',
            name,
            flatatt(self.build_attrs(self.attrs, attrs)),
            mark_safe("".join(options)),  # noqa: S308 – escaped option by option above
        )


def _escaped(value: object) -> str:
    """`value` as HTML text: escaped, unless it is already safe HTML (as in a template)."""
    if hasattr(value, "__html__"):
        return str(value.__html__())
    return html.escape(str(value))
