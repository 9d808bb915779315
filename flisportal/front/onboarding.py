"""KOMBIT's onboarding checklist for one vendor and one kommune, each task in its real state
from the registry (mangler, anmodet, bestilt, afvist …) and, for the test delivery, from the
deliveries that reached their recipient; each task not done links to where it is done.

Four queries (the agreement, the SFTP users, the sender systems, the routes with whether a
delivery on them reached its recipient) however many there are; a test pins the page's count.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any
from urllib.parse import urlencode

from django.db.models import Exists, OuterRef, Subquery
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from deliveries.access import upload_url_for
from deliveries.lifecycle.states import REACHED_RECIPIENT
from deliveries.models import Delivery
from flisportal.lib.periods import date_text
from flisportal.lib.roles import Role, user_role
from routes.models import (
    AgreementStatus,
    DataArea,
    ITSystem,
    KeyState,
    Kommune,
    ProcessingAgreement,
    Route,
    RouteEvent,
    RouteStatus,
    SftpKey,
    SftpUser,
    Vendor,
)

# KOMBIT's two environments, by the slugs the reference data gives them.
EXTTEST = "exttest"
PRODUKTION = "produktion"


class TaskState(StrEnum):
    """Where a task stands, as the registry has it: the one mapping from the registry's states
    (agreement, SFTP user and key, route order) to what the checklist says, each with a Danish
    label and a sign, so it reads without colour."""

    DONE = "done"
    PARTIAL = "partial"
    ORDERED = "ordered"
    REQUESTED = "requested"
    DRAFT = "draft"
    NO_KEY = "no_key"
    REJECTED = "rejected"
    TERMINATED = "terminated"
    TODO = "todo"

    @property
    def label(self) -> str:
        return {
            TaskState.DONE: _("OK"),
            TaskState.PARTIAL: _("Delvist"),
            TaskState.ORDERED: _("Bestilt"),
            TaskState.REQUESTED: _("Anmodet"),
            TaskState.DRAFT: _("Udkast"),
            TaskState.NO_KEY: _("Uden aktiv nøgle"),
            TaskState.REJECTED: _("Afvist"),
            TaskState.TERMINATED: _("Opsagt"),
            TaskState.TODO: _("Mangler"),
        }[self]

    @property
    def sign(self) -> str:
        """The sign before the label: ✔ done, ◐ on its way, ✘ not started or refused."""
        if self == TaskState.DONE:
            return "✔"
        if self in (TaskState.REJECTED, TaskState.TERMINATED, TaskState.TODO):
            return "✘"
        return "◐"

    @property
    def css(self) -> str:
        """The colour class (portal.css); the label and sign say the same in words."""
        if self == TaskState.DONE:
            return "task-done"
        if self in (TaskState.REJECTED, TaskState.TERMINATED, TaskState.TODO):
            return "task-todo"
        return "task-partial"


# A route's order state, as the state of a task that is done once the route is established.
ROUTE_TASK_STATE = {
    RouteStatus.ESTABLISHED: TaskState.DONE,
    RouteStatus.ORDERED: TaskState.ORDERED,
    RouteStatus.REQUESTED: TaskState.REQUESTED,
    RouteStatus.REJECTED: TaskState.REJECTED,
    RouteStatus.RETIRED: TaskState.TODO,
}
# When one area has several routes for a task, the one furthest on speaks for it; a rejected
# order only when nothing was ordered again after it.
_ROUTE_RANK = {
    RouteStatus.ESTABLISHED: 4,
    RouteStatus.ORDERED: 3,
    RouteStatus.REQUESTED: 2,
    RouteStatus.REJECTED: 1,
    RouteStatus.RETIRED: 0,
}


@dataclass
class Link:
    url: str
    text: str


@dataclass
class Line:
    """One line under a task: a data area's state, or a plain remark."""

    text: str
    state: TaskState | None = None
    link: Link | None = None
    # What to do about it, when the state alone does not say (a rejected order).
    advice: str = ""


@dataclass
class ChecklistTask:
    key: str
    title: str
    state: TaskState
    details: list[Line] = field(default_factory=list)
    # Where the task is done, for a task not done yet (per area on the route tasks' lines).
    link: Link | None = None
    # Who does it when the reader cannot (an administrator's step, read by a vendor).
    hint: str = ""


@dataclass
class OnboardingChecklist:
    vendor: Vendor
    kommune: Kommune
    tasks: list[ChecklistTask]
    # Routes of this vendor for this kommune on the local stand-in: shown, but they are not
    # part of KOMBIT's onboarding and tick nothing.
    standin_routes: list[Route]

    @property
    def done(self) -> int:
        return sum(1 for task in self.tasks if task.state == TaskState.DONE)


@dataclass(frozen=True)
class Reader:
    """What the reader may do, so each task links to a page they can open: the admin and the
    route order form for administrators, SFTP user pages for them and the vendor's staff, the
    upload page for those who upload."""

    is_admin: bool
    sees_sftp_users: bool
    upload_url: str

    @classmethod
    def of(cls, user: Any) -> Reader:
        role = user_role(user)
        return cls(
            is_admin=role == Role.ADMINISTRATOR,
            sees_sftp_users=role in (Role.ADMINISTRATOR, Role.VENDOR),
            upload_url=upload_url_for(user),
        )


ADMIN_STEP = gettext_lazy("Udføres af portalens administratorer.")


def _reached_recipient() -> Exists:
    """Annotation for a Route: has a delivery on it reached its recipient (the platform
    distributed it, or the recipient has fetched it)?"""
    return Exists(
        Delivery.objects.filter(
            route=OuterRef("pk"),
            status__in=REACHED_RECIPIENT,
        )
    )


def _rejection_note() -> Subquery:
    """Annotation for a Route: the note of the newest history row that rejected it (KOMBIT's
    reason, as the administrator wrote it down)."""
    return Subquery(
        RouteEvent.objects.filter(route=OuterRef("pk"), new_status=RouteStatus.REJECTED)
        .order_by("-at", "-pk")
        .values("note")[:1]
    )


def onboarding_checklist(
    *, vendor: Vendor, kommune: Kommune, user: Any = None
) -> OnboardingChecklist:
    """KOMBIT's onboarding tasks for one vendor and one kommune, each in its real state and,
    when not done, linked to the page where `user` does it (no links without a user).

    The route tasks are judged per data area the vendor has a route for in this kommune on
    KOMBIT's endpoints (open, or rejected and not ordered again): done when every area has
    passed, partial when some have, rejected when an area's order was rejected."""
    reader = Reader.of(user) if user is not None else Reader(False, False, "")
    agreement = (
        ProcessingAgreement.objects.filter(vendor=vendor, kommune=kommune).order_by("pk").first()
    )
    sftp_users = _sender_sftp_users(vendor)
    systems = list(ITSystem.objects.filter(vendor=vendor, is_sender=True).order_by("name"))
    routes = list(
        Route.objects.filter(kommune=kommune, sender_system__vendor=vendor)
        .select_related("endpoint", "data_area", "sender_system")
        # In the same query, so the page's query count does not grow with the checklist.
        .annotate(reached_recipient=_reached_recipient(), rejection_note=_rejection_note())
        .with_ordered_since()
        .order_by("data_area__sort_order", "endpoint__slug", "pk")
    )
    routes_task = _RouteTasks(kommune=kommune, routes=routes, systems=systems, reader=reader)
    return OnboardingChecklist(
        vendor=vendor,
        kommune=kommune,
        tasks=[
            _agreement_task(agreement, vendor=vendor, kommune=kommune, reader=reader),
            _sftp_user_task(sftp_users, systems, reader=reader),
            routes_task.ordered(),
            routes_task.established_on(EXTTEST),
            _test_delivery_task(routes, reader=reader),
            routes_task.established_on(PRODUKTION),
        ],
        standin_routes=[r for r in routes if r.endpoint.is_standin],
    )


def _sender_sftp_users(vendor: Vendor) -> list[SftpUser]:
    """The vendor's sender SFTP users, each annotated with `has_active_key`."""
    return list(
        SftpUser.objects.filter(it_system__vendor=vendor, it_system__is_sender=True)
        .select_related("it_system", "endpoint")
        .annotate(
            has_active_key=Exists(
                SftpKey.objects.filter(sftp_user=OuterRef("pk"), state=KeyState.ACTIVE)
            )
        )
        .order_by("it_system__name", "endpoint__slug")
    )


_AGREEMENT_STATE = {
    AgreementStatus.SIGNED: TaskState.DONE,
    AgreementStatus.DRAFT: TaskState.DRAFT,
    AgreementStatus.TERMINATED: TaskState.TERMINATED,
}


def _agreement_task(
    agreement: ProcessingAgreement | None, *, vendor: Vendor, kommune: Kommune, reader: Reader
) -> ChecklistTask:
    """1. Databehandleraftale, registered in the admin by an administrator."""
    title = _("Databehandleraftale underskrevet")
    if agreement is None:
        link = None
        if reader.is_admin:
            add = reverse("admin:routes_processingagreement_add")
            link = Link(f"{add}?vendor={vendor.pk}&kommune={kommune.pk}", _("Registrér aftalen"))
        return ChecklistTask(
            "agreement",
            title,
            TaskState.TODO,
            [Line(_("Der er ikke registreret nogen databehandleraftale."))],
            link=link,
            hint="" if reader.is_admin else str(ADMIN_STEP),
        )
    detail = _("Status: %(status)s") % {"status": agreement.get_status_display()}
    if agreement.signed_on:
        detail += _(", underskrevet %(date)s") % {"date": date_text(agreement.signed_on)}
    if agreement.document_reference:
        detail += _(", dokument %(ref)s") % {"ref": agreement.document_reference}
    state = _AGREEMENT_STATE[AgreementStatus(agreement.status)]
    link = None
    if reader.is_admin and state != TaskState.DONE:
        change = reverse("admin:routes_processingagreement_change", args=[agreement.pk])
        link = Link(change, _("Åbn aftalen"))
    hint = "" if reader.is_admin or state == TaskState.DONE else str(ADMIN_STEP)
    return ChecklistTask("agreement", title, state, [Line(detail)], link=link, hint=hint)


def _sftp_user_task(
    sftp_users: list[SftpUser], systems: list[ITSystem], *, reader: Reader
) -> ChecklistTask:
    """2. IT-system and SFTP user with an active key on one of KOMBIT's endpoints."""
    title = _("It-system og SFTP-bruger oprettet (med aktiv nøgle)")
    kombit_users = [u for u in sftp_users if not u.endpoint.is_standin]
    ready = [u for u in kombit_users if u.has_active_key]  # type: ignore[attr-defined]
    if not systems:
        return _admin_task(
            "sftp_user",
            title,
            [Line(_("Leverandøren har intet afsendersystem registreret."))],
            reader=reader,
            url=reverse("admin:routes_itsystem_add"),
            text=_("Registrér it-systemet"),
        )
    if not kombit_users:
        return _admin_task(
            "sftp_user",
            title,
            [
                Line(
                    _("%(systems)s har ingen SFTP-bruger på exttest eller produktion.")
                    % {"systems": ", ".join(s.name for s in systems)}
                )
            ],
            reader=reader,
            url=reverse("admin:routes_sftpuser_add"),
            text=_("Opret SFTP-brugeren"),
        )
    details = [
        Line(
            _("%(system)s: SFTP-bruger %(user)s på %(endpoint)s")
            % {"system": u.it_system.name, "user": u.username, "endpoint": u.endpoint.slug},
            state=TaskState.DONE if u.has_active_key else TaskState.NO_KEY,  # type: ignore[attr-defined]
            link=(
                Link(reverse("routes:sftp_user_detail", args=[u.pk]), _("Dan eller upload nøgle"))
                if reader.sees_sftp_users and not u.has_active_key  # type: ignore[attr-defined]
                else None
            ),
        )
        for u in kombit_users
    ]
    return ChecklistTask("sftp_user", title, TaskState.DONE if ready else TaskState.NO_KEY, details)


def _admin_task(
    key: str, title: str, details: list[Line], *, reader: Reader, url: str, text: str
) -> ChecklistTask:
    """A task not started that an administrator does in the admin."""
    if reader.is_admin:
        return ChecklistTask(key, title, TaskState.TODO, details, link=Link(url, text))
    return ChecklistTask(key, title, TaskState.TODO, details, hint=str(ADMIN_STEP))


class _RouteTasks:
    """3, 4 and 6: a route ordered, established in exttest, established in produktion; per data
    area, on KOMBIT's endpoints only."""

    def __init__(
        self, *, kommune: Kommune, routes: list[Route], systems: list[ITSystem], reader: Reader
    ) -> None:
        self.kommune = kommune
        self.reader = reader
        self.systems = systems
        self.areas, self.by_area = _route_areas(routes)

    def ordered(self) -> ChecklistTask:
        title = _("Rute bestilt i Digitaliseringskataloget")
        lines = []
        for data_area in self.areas:
            route = _furthest(self.by_area[data_area.pk])
            assert route is not None  # an area is listed because it has a route
            if route.status in (RouteStatus.ORDERED, RouteStatus.ESTABLISHED):
                text = _("%(area)s: %(status)s på %(endpoint)s, reference %(ref)s") % {
                    "area": data_area.name,
                    "status": route.get_status_display(),
                    "endpoint": route.endpoint.slug,
                    "ref": route.order_reference or "–",
                }
                lines.append(Line(text, TaskState.DONE))
            else:
                lines.append(self._line(data_area, route, route.endpoint.slug))
        return self._task("route_ordered", title, lines)

    def established_on(self, slug: str) -> ChecklistTask:
        titles = {
            EXTTEST: _("Rute etableret i ekstern test (exttest)"),
            PRODUKTION: _("Rute etableret i produktion"),
        }
        lines = [
            self._line(
                data_area,
                _furthest([r for r in self.by_area[data_area.pk] if r.endpoint.slug == slug]),
                slug,
            )
            for data_area in self.areas
        ]
        return self._task(f"established_{slug}", titles[slug], lines)

    def _task(self, key: str, title: str, lines: list[Line]) -> ChecklistTask:
        if not lines:
            link = None
            if self.reader.is_admin:
                link = Link(self._order_url(), _("Bestil en rute"))
            return ChecklistTask(
                key,
                title,
                TaskState.TODO,
                [Line(_("Ingen rute er bestilt for denne kommune endnu."))],
                link=link,
                hint="" if self.reader.is_admin else str(ADMIN_STEP),
            )
        return ChecklistTask(key, title, _overall([line.state for line in lines]), lines)

    def _line(self, data_area: DataArea, route: Route | None, slug: str) -> Line:
        """One area's line: the state of its furthest route on the endpoint, what it means
        and where it is moved on."""
        if route is None or route.status == RouteStatus.RETIRED:
            return self._missing(data_area, slug)
        state = ROUTE_TASK_STATE[RouteStatus(route.status)]
        area = data_area.name
        see = Link(route.get_absolute_url(), _("Se ruten"))
        if state == TaskState.DONE:
            when = date_text(route.established_on) if route.established_on else "?"
            return Line(_("%(area)s: etableret %(date)s") % {"area": area, "date": when}, state)
        if state == TaskState.ORDERED:
            text = _("%(area)s: bestilt på %(endpoint)s, reference %(ref)s") % {
                "area": area,
                "endpoint": route.endpoint.slug,
                "ref": route.order_reference or "–",
            }
            wait = route.ordered_wait()
            if wait is not None:
                text += ngettext(
                    ", venter siden %(date)s (%(days)d dag)",
                    ", venter siden %(date)s (%(days)d dage)",
                    wait.days,
                ) % {"date": date_text(wait.since_date), "days": wait.days}
            return Line(text, state, see)
        if state == TaskState.REQUESTED:
            text = _("%(area)s: anmodet på %(endpoint)s, endnu ikke bestilt hos KOMBIT") % {
                "area": area,
                "endpoint": route.endpoint.slug,
            }
            return Line(text, state, see)
        reason = route.rejection_note or _("ingen årsag noteret")  # type: ignore[attr-defined]
        return Line(
            _("%(area)s: afvist på %(endpoint)s. Årsag: %(reason)s")
            % {"area": area, "endpoint": route.endpoint.slug, "reason": reason},
            state,
            self._reorder_link(data_area, slug, route.sender_system_id) or see,
            advice=_(
                "Ret det, afvisningen peger på, og bestil ruten igen; den afviste bestilling "
                "bliver stående i historikken."
            ),
        )

    def _missing(self, data_area: DataArea, slug: str) -> Line:
        system = self.by_area[data_area.pk][0].sender_system_id
        return Line(
            _("%(area)s: mangler på %(endpoint)s") % {"area": data_area.name, "endpoint": slug},
            TaskState.TODO,
            self._reorder_link(data_area, slug, system, text=_("Bestil ruten")),
        )

    def _reorder_link(
        self, data_area: DataArea, slug: str, system_id: int, *, text: str = ""
    ) -> Link | None:
        if not self.reader.is_admin:
            return None
        return Link(
            self._order_url(data_area=data_area.pk, sender_system=system_id, endpoint=slug),
            text or _("Bestil igen"),
        )

    def _order_url(self, **prefill: Any) -> str:
        """The kommune's route order form, filled in with what is known (routes/forms.py)."""
        url = reverse("routes:kommune_routes", args=[self.kommune.code])
        if prefill:
            url += "?" + urlencode(prefill)
        return url + "#bestil"


def _furthest(routes: list[Route]) -> Route | None:
    return max(routes, key=lambda r: _ROUTE_RANK[RouteStatus(r.status)], default=None)


def _overall(states: list[TaskState | None]) -> TaskState:
    """A task's state from its areas': done when all are; rejected when one is (it needs
    someone); partial when some are done; else the least advanced."""
    if all(state == TaskState.DONE for state in states):
        return TaskState.DONE
    if TaskState.REJECTED in states:
        return TaskState.REJECTED
    if TaskState.DONE in states:
        return TaskState.PARTIAL
    for state in (TaskState.TODO, TaskState.REQUESTED, TaskState.ORDERED):
        if state in states:
            return state
    return TaskState.TODO


def _route_areas(routes: list[Route]) -> tuple[list[DataArea], dict[int, list[Route]]]:
    """The data areas with a route on KOMBIT's endpoints that is open or rejected (a rejected
    order is onboarding that stalled, not onboarding given up), in the routes' order, and every
    KOMBIT route by data area."""
    kombit_routes = [r for r in routes if not r.endpoint.is_standin]
    listed = {
        RouteStatus.REQUESTED,
        RouteStatus.ORDERED,
        RouteStatus.ESTABLISHED,
        RouteStatus.REJECTED,
    }
    routes_by_area: dict[int, list[Route]] = defaultdict(list)
    areas: list[DataArea] = []
    for route in kombit_routes:
        routes_by_area[route.data_area_id].append(route)
        if route.status in listed and route.data_area not in areas:
            areas.append(route.data_area)
    return areas, routes_by_area


def _test_delivery_task(routes: list[Route], *, reader: Reader) -> ChecklistTask:
    """5. A delivery on an exttest route has reached its recipient (distributed or fetched)."""
    title = _("Testleverance gennemført i exttest")
    exttest = [r for r in routes if r.endpoint.slug == EXTTEST]
    delivered = [r for r in exttest if r.reached_recipient]  # type: ignore[attr-defined]
    if delivered:
        return ChecklistTask(
            "test_delivery",
            title,
            TaskState.DONE,
            [
                Line(
                    _("%(area)s: en leverance er nået frem til modtageren")
                    % {"area": route.data_area.name}
                )
                for route in delivered
            ],
        )
    lines = [
        Line(
            _(
                "Ingen leverance på exttest er nået frem til modtageren endnu "
                "(distribueret eller hentet)."
            )
        )
    ]
    established = [r for r in exttest if r.status == RouteStatus.ESTABLISHED]
    if not established:
        lines.append(Line(_("Det kræver først en rute, der er etableret i exttest.")))
        return ChecklistTask("test_delivery", title, TaskState.TODO, lines)
    link = None
    if reader.upload_url:
        link = Link(
            f"{reader.upload_url}?{urlencode({'rute': established[0].pk})}",
            _("Upload en testfil"),
        )
    return ChecklistTask("test_delivery", title, TaskState.TODO, lines, link=link)
