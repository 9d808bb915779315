"""flisportal/lib/widgets.py: PlainSelect writes the markup Django's Select writes (name,
attributes, the chosen option, escaped values and labels) without a template per option."""

from __future__ import annotations

import re

import pytest
from django import forms
from django.utils.safestring import mark_safe

from flisportal.lib.widgets import PlainSelect

CHOICES = [
    ("", "Alle"),
    ("a&b", "Ærø <Kommune> & \"co\" 'x'"),
    ("2", "To"),
]


def _tags(html: str) -> str:
    """The markup without the whitespace between tags that Django's templates add."""
    return re.sub(r">\s+<", "><", html.strip())


@pytest.mark.parametrize("value", ["", "a&b", "2", None])
def test_same_markup_as_djangos_select(value):
    attrs = {"class": "form-select form-select-sm", "data-submit-on-change": ""}
    plain = PlainSelect(attrs=attrs, choices=CHOICES).render("kommune", value)
    django = forms.Select(attrs=attrs, choices=CHOICES).render("kommune", value)
    assert _tags(plain) == _tags(str(django))


def test_labels_and_values_are_escaped():
    html = PlainSelect(choices=CHOICES).render("kommune", "a&b")
    assert '<option value="a&amp;b" selected>' in html
    assert "Ærø &lt;Kommune&gt; &amp; &quot;co&quot; &#x27;x&#x27;" in html
    assert "<Kommune>" not in html


def test_a_label_that_is_already_html_is_not_escaped_twice():
    html = PlainSelect(choices=[("1", mark_safe("<b>fed</b>"))]).render("x", None)
    assert '<option value="1"><b>fed</b></option>' in html


def test_option_groups_are_refused():
    with pytest.raises(ValueError, match="option groups"):
        PlainSelect(choices=[("Gruppe", [("1", "En")])]).render("x", None)
