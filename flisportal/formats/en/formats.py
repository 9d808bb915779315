"""English pages show dates and numbers as the Danish ones (flisportal/formats/da/formats.py):
the portal keeps one format, whatever the language of its words."""

from flisportal.formats.da.formats import (  # noqa: F401 - Django reads these names
    DATE_FORMAT,
    DATETIME_FORMAT,
    DECIMAL_SEPARATOR,
    NUMBER_GROUPING,
    SHORT_DATE_FORMAT,
    SHORT_DATETIME_FORMAT,
    THOUSAND_SEPARATOR,
    TIME_FORMAT,
)
