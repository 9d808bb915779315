"""The portal's date and number formats, the same in Danish and English.

A person sees one format everywhere: 05.04.2026 and 05.04.2026 14:03 (Copenhagen time), and
1.234.567 with a Danish thousands separator. Templates name the pattern (`|date:"d.m.Y H:i"`),
Python texts use flisportal.lib.periods (`date_text`, `local_time_text`) and
flisportal.lib.numbers (`grouped`); these formats cover what is shown without a pattern (a bare
`{{ value }}`, the admin's lists) and `|intcomma`.
Input formats are Django's own: the forms' date fields take ISO dates from the browser.
"""

DATE_FORMAT = "d.m.Y"
SHORT_DATE_FORMAT = "d.m.Y"
DATETIME_FORMAT = "d.m.Y H:i"
SHORT_DATETIME_FORMAT = "d.m.Y H:i"
TIME_FORMAT = "H:i"
DECIMAL_SEPARATOR = ","
THOUSAND_SEPARATOR = "."
NUMBER_GROUPING = 3
