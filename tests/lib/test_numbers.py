"""flisportal/lib/numbers.py: one thousands separator for list cells and stored texts, the same
as `|intcomma` in the active language, or in the language asked for."""

from __future__ import annotations

import pytest
from django.contrib.humanize.templatetags.humanize import intcomma
from django.utils import translation
from django.utils.formats import reset_format_cache

from flisportal.lib.numbers import grouped


@pytest.mark.parametrize("number", [0, 7, 999, 1000, 344149, 2500000, -1234])
@pytest.mark.parametrize("language", ["da", "en"])
def test_grouped_is_what_intcomma_shows(language, number):
    with translation.override(language):
        assert grouped(number) == intcomma(number)


def test_grouped_writes_danish_when_asked_whatever_language_is_active(settings):
    """A worker's stored Danish text names its language; with Django's own English format
    (a comma) active, Danish still gets the dot."""
    settings.FORMAT_MODULE_PATH = None
    reset_format_cache()
    try:
        with translation.override("en"):
            assert grouped(344149) == "344,149"
            assert grouped(344149, language="da") == "344.149"
    finally:
        reset_format_cache()
