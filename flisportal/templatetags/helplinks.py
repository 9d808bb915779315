"""`{% help_link kind value %}`: a small «?» after a badge or code that opens its entry on the
help page (flisportal/front/help.py), with an accessible name that says which word it explains.
A value the help page does not know (an old row) gets no link rather than a broken one."""

from __future__ import annotations

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString

from flisportal.front.help import help_link_label, help_url

register = template.Library()


@register.simple_tag
def help_link(kind: str, value: str | int) -> SafeString | str:
    try:
        url = help_url(kind, value)
        label = help_link_label(kind, value)
    except (KeyError, ValueError):
        return ""
    # data-for: the value explained, so a page that updates a badge in place (Samlet upload's
    # progress) can drop a link that no longer fits it.
    return format_html(
        '<a class="help-link" href="{}" aria-label="{}" title="{}" data-for="{}">?</a>',
        url,
        label,
        label,
        value,
    )
