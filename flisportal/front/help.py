"""The help page (*Hjælp*, /hjaelp/): what the words a person meets in the portal mean — a
delivery's statuses, a receipt's verdicts, a route's statuses, an expected period's states, the
validator's rule codes, the platform's error codes — and the monthly cycle.

The lists are read from the code that owns each word (the choices of the models, the
validator's rule catalogue in `deliveries.rules`), and the numbers of the monthly cycle from the
data areas and the settings, so the page cannot fall behind them. What a word means in practice
(what happens next, who acts) is written here, once per value; a test fails when a value has no
entry.

Every entry has a stable anchor, the kind and the value in Danish words (`status-afvist`,
`rute-afvist`, `regel-date`); `help_link` (the template tag `{% help_link %}` in
`flisportal.templatetags.helplinks`) is the one way a page links a badge or code to its entry.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from django.conf import settings
from django.db.models import TextChoices
from django.urls import reverse
from django.utils import translation
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from deliveries.lifecycle.states import DeliveryStatus
from deliveries.models import ExpectedState, ReceiptVerdict
from deliveries.rules import rule_summaries
from deliveries.selectors import PROBLEM_DAYS
from routes.models import DataArea, RouteStatus

# The kinds of entry, each the start of its anchors.
STATUS = "status"
VERDICT = "kvittering"
ROUTE = "rute"
EXPECTED = "forventet"
RULE = "regel"
PLATFORM = "platform"

_CHOICES: dict[str, type[TextChoices]] = {
    STATUS: DeliveryStatus,
    VERDICT: ReceiptVerdict,
    ROUTE: RouteStatus,
    EXPECTED: ExpectedState,
}

# Who acts next, the same few words for many entries.
WHO_PORTAL = gettext_lazy("Portalen (automatisk)")
WHO_VENDOR = gettext_lazy("Leverandøren")
WHO_PLATFORM = gettext_lazy("Serviceplatformen")
WHO_RECIPIENT = gettext_lazy("Modtageren (FLIS eller kommunens LIS)")
WHO_NOBODY = gettext_lazy("Ingen: leverancen er færdig")

# What each delivery status means, and who moves it on; in the lifecycle's order.
_STATUS_TEXTS: dict[str, tuple[Promise, Promise]] = {
    DeliveryStatus.RECEIVED: (
        gettext_lazy("Filen er uploadet og gemt og venter på at blive valideret."),
        WHO_PORTAL,
    ),
    DeliveryStatus.VALIDATING: (
        gettext_lazy(
            "Filen kontrolleres mod dataområdets datakontrakt. Derefter bliver den godkendt "
            "eller afvist."
        ),
        WHO_PORTAL,
    ),
    DeliveryStatus.VALID: (
        gettext_lazy(
            "Filen følger kontrakten og venter på at blive sendt til Serviceplatformen (også "
            "mens et mislykket forsøg venter på sit næste)."
        ),
        WHO_PORTAL,
    ),
    DeliveryStatus.REJECTED: (
        gettext_lazy(
            "Filen følger ikke kontrakten og sendes ikke. Leverancens side viser rapporten med "
            "hver fejl og dens regel. Ret filen og upload den igen (knappen «Upload rettet "
            "fil»)."
        ),
        WHO_VENDOR,
    ),
    DeliveryStatus.PUSHING: (
        gettext_lazy("Portalen lægger datafilen og triggerfilen på Serviceplatformen via SFTP."),
        WHO_PORTAL,
    ),
    DeliveryStatus.SENT: (
        gettext_lazy(
            "Serviceplatformen har fået filen; portalen venter på dens tekniske kvittering."
        ),
        WHO_PLATFORM,
    ),
    DeliveryStatus.DISTRIBUTED: (
        gettext_lazy(
            "Serviceplatformen har godkendt filen og lagt den til modtageren. Perioden er "
            "leveret; modtageren henter filen."
        ),
        WHO_RECIPIENT,
    ),
    DeliveryStatus.REFUSED: (
        gettext_lazy(
            "Serviceplatformen afviste filen; kvitteringens fejlkoder står på leverancens side "
            "(se Serviceplatformens fejlkoder nedenfor). Det er endeligt: ret årsagen og "
            "upload filen igen."
        ),
        WHO_VENDOR,
    ),
    DeliveryStatus.FETCHED: (
        gettext_lazy("Modtageren har hentet filen. Leverancen er færdig."),
        WHO_NOBODY,
    ),
    DeliveryStatus.FAILED: (
        gettext_lazy(
            "Portalen opgav at validere eller sende filen efter flere forsøg (fx fordi "
            "Serviceplatformen ikke svarede). Leverancens side siger hvorfor; prøv igen derfra "
            "med «Prøv igen»."
        ),
        WHO_VENDOR,
    ),
}

_VERDICT_TEXTS: dict[str, Promise] = {
    ReceiptVerdict.OK: gettext_lazy(
        "Den hentede fil har samme størrelse og kontrolsum som den, afsenderen sendte."
    ),
    ReceiptVerdict.SIZE_MISMATCH: gettext_lazy(
        "Den hentede fil har en anden størrelse end metadatafilen angiver: den kan være "
        "afkortet undervejs. Bed afsenderen sende igen."
    ),
    ReceiptVerdict.CHECKSUM_MISMATCH: gettext_lazy(
        "Den hentede fils kontrolsum passer ikke med den, afsenderen sendte: indholdet er "
        "ændret undervejs. Bed afsenderen sende igen."
    ),
    ReceiptVerdict.UNKNOWN_ROUTE: gettext_lazy(
        "Filen kom fra en afsender eller ad en rute, portalen ikke kender. Administratoren "
        "undersøger ruten."
    ),
    ReceiptVerdict.MALFORMED_METADATA: gettext_lazy(
        "Metadatafilen, der fulgte med, kunne ikke læses. Filen er lagt i karantæne; "
        "administratoren undersøger den."
    ),
}

_ROUTE_TEXTS: dict[str, Promise] = {
    RouteStatus.REQUESTED: gettext_lazy(
        "Kommunen eller leverandøren har bedt om ruten; administratoren bestiller den hos KOMBIT."
    ),
    RouteStatus.ORDERED: gettext_lazy(
        "Ruten er bestilt hos KOMBIT og venter på at blive oprettet på Serviceplatformen."
    ),
    RouteStatus.ESTABLISHED: gettext_lazy(
        "Ruten findes på Serviceplatformen: der kan sendes ad den, og den skal levere hver måned."
    ),
    RouteStatus.RETIRED: gettext_lazy(
        "Ruten er nedlagt: der sendes ikke længere ad den, og den skylder ingen perioder."
    ),
    RouteStatus.REJECTED: gettext_lazy(
        "Bestillingen blev afvist. Historikken på rutens side siger hvorfor."
    ),
}

_EXPECTED_TEXTS: dict[str, Promise] = {
    ExpectedState.PENDING: gettext_lazy(
        "Perioden er ikke leveret endnu, og fristen er et stykke væk."
    ),
    ExpectedState.DUE_SOON: gettext_lazy(
        "Perioden er ikke leveret, og fristen er inden for de næste %(days)s dage."
    ),
    ExpectedState.OVERDUE: gettext_lazy(
        "Fristen og eventuelle henstandsdage er gået, og perioden er ikke leveret. Leverandøren "
        "og kommunens konsulenter har fået en mail."
    ),
    ExpectedState.MET: gettext_lazy(
        "En leverance for ruten og perioden er nået frem til modtageren (distribueret eller "
        "hentet)."
    ),
}

# The platform's error codes by their hundreds: what is wrong and what to do. The codes are
# the local stand-in's (docs/design/protocol.md#error-codes); the portal does not import it, and
# the real platform's texts are shown as it writes them.
_PLATFORM_GROUPS: tuple[tuple[str, Promise], ...] = (
    (
        "1xx",
        gettext_lazy(
            "Triggerfilen, portalens besked til platformen, kunne ikke læses. Det er en fejl i "
            "portalen: kontakt administratoren."
        ),
    ),
    (
        "2xx",
        gettext_lazy(
            "Datafilen mangler, har en anden størrelse end angivet eller et navn, platformen "
            "ikke tager imod; oftest en afbrudt overførsel. Upload filen igen."
        ),
    ),
    (
        "3xx",
        gettext_lazy(
            "Afsenderen passer ikke: SFTP-brugeren eller it-systemet er ikke det, triggerfilen "
            "nævner. Administratoren retter it-systemets SFTP-bruger."
        ),
    ),
    (
        "4xx",
        gettext_lazy(
            "Platformen kender ingen etableret rute for dataområdet, afsenderen og modtageren. "
            "Administratoren tjekker ruten hos KOMBIT; upload igen, når den er etableret."
        ),
    ),
    (
        "5xx",
        gettext_lazy(
            "En fil med samme navn venter allerede hos en modtager. Upload filen igen (en ny "
            "leverance får et nyt navn)."
        ),
    ),
    (
        "9xx",
        gettext_lazy(
            "Platformen kunne ikke behandle filen (intern fejl). Upload filen igen; sker det "
            "igen, kontakt administratoren."
        ),
    ),
)


@dataclass(frozen=True)
class HelpEntry:
    anchor: str
    label: str  # the word as the portal shows it (a badge's text, a code)
    text: str
    who: str = ""  # who acts next (delivery statuses)


@dataclass(frozen=True)
class AreaCycle:
    name: str
    due_day: int
    grace_days: int


@dataclass(frozen=True)
class HelpPage:
    statuses: list[HelpEntry]
    verdicts: list[HelpEntry]
    routes: list[HelpEntry]
    expected: list[HelpEntry]
    rules: list[HelpEntry]
    platform: list[HelpEntry]
    areas: list[AreaCycle]
    due_soon_days: int
    not_fetched_hours: int
    receipt_overdue_minutes: int
    problem_days: int


_DANISH_LETTERS = str.maketrans({"æ": "ae", "ø": "oe", "å": "aa"})


def _slug(words: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", words.lower().translate(_DANISH_LETTERS)).strip("-")


@functools.cache
def anchor(kind: str, value: str | int) -> str:
    """The help page's anchor of one word: `status-afvist`, `kvittering-i-orden`,
    `rute-bestilt`, `forventet-overskredet` (the Danish label, so the anchor is the same in
    every language), `regel-maxLength` (the rule's code), `platform-4xx` (the code's
    hundreds)."""
    if kind == RULE:
        return f"{RULE}-{value}"
    if kind == PLATFORM:
        return f"{PLATFORM}-{str(value)[:1]}xx"
    with translation.override("da"):
        return f"{kind}-{_slug(str(_CHOICES[kind](str(value)).label))}"


def help_url(kind: str, value: str | int) -> str:
    return f"{reverse('front:help')}#{anchor(kind, value)}"


def _entries(kind: str, texts: dict[str, Promise]) -> list[HelpEntry]:
    return [
        HelpEntry(anchor(kind, value), str(label), str(texts[value]))
        for value, label in _CHOICES[kind].choices
    ]


def help_page() -> HelpPage:
    """Everything the help page shows, in the reader's language. One query (the data areas)."""
    statuses = [
        HelpEntry(
            anchor(STATUS, value),
            str(label),
            str(_STATUS_TEXTS[value][0]),
            str(_STATUS_TEXTS[value][1]),
        )
        for value, label in DeliveryStatus.choices
    ]
    expected = _entries(EXPECTED, _EXPECTED_TEXTS)
    days = settings.EXPECTED_DUE_SOON_DAYS
    expected = [
        HelpEntry(e.anchor, e.label, e.text % {"days": days}) if "%(days)s" in e.text else e
        for e in expected
    ]
    return HelpPage(
        statuses=statuses,
        verdicts=_entries(VERDICT, _VERDICT_TEXTS),
        routes=_entries(ROUTE, _ROUTE_TEXTS),
        expected=expected,
        rules=[HelpEntry(anchor(RULE, code), code, words) for code, words in rule_summaries()],
        platform=[
            HelpEntry(f"{PLATFORM}-{group}", group, str(words)) for group, words in _PLATFORM_GROUPS
        ],
        areas=[
            AreaCycle(area.name, area.due_day, area.grace_days)
            for area in DataArea.objects.only("name", "due_day", "grace_days")
        ],
        due_soon_days=days,
        not_fetched_hours=settings.NOTIFY_NOT_FETCHED_HOURS,
        receipt_overdue_minutes=settings.RECEIPT_OVERDUE_MINUTES,
        problem_days=PROBLEM_DAYS,
    )


def help_link_label(kind: str, value: str | int) -> str:
    """The link's accessible name: which word it explains."""
    if kind in _CHOICES:
        word = str(_CHOICES[kind](str(value)).label)
    else:
        word = str(value)
    return _("Hjælp: hvad betyder «%(word)s»?") % {"word": word}
