"""KOMBIT's onboarding checklist for one vendor and one kommune, each task ticked from the
registry and, for the test delivery, from the deliveries that reached their recipient.

Four queries (the agreement, the SFTP users, the sender systems, the routes with whether a
delivery on them reached its recipient) however many there are; a test pins the page's count.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from django.db.models import Exists, OuterRef
from django.utils.translation import gettext as _

from deliveries.lifecycle.states import REACHED_RECIPIENT
from deliveries.models import Delivery
from flisportal.lib.periods import date_text
from routes.models import (
    AgreementStatus,
    DataArea,
    ITSystem,
    KeyState,
    Kommune,
    ProcessingAgreement,
    Route,
    RouteStatus,
    SftpKey,
    SftpUser,
    Vendor,
)

# KOMBIT's two environments, by the slugs the reference data gives them.
EXTTEST = "exttest"
PRODUKTION = "produktion"


class TaskState(StrEnum):
    DONE = "done"
    PARTIAL = "partial"
    TODO = "todo"

    @property
    def label(self) -> str:
        return {
            TaskState.DONE: _("Udført"),
            TaskState.PARTIAL: _("Delvist"),
            TaskState.TODO: _("Mangler"),
        }[self]


@dataclass
class ChecklistTask:
    key: str
    title: str
    state: TaskState
    details: list[str] = field(default_factory=list)


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


def _reached_recipient() -> Exists:
    """Annotation for a Route: has a delivery on it reached its recipient (the platform
    distributed it, or the recipient has fetched it)?"""
    return Exists(
        Delivery.objects.filter(
            route=OuterRef("pk"),
            status__in=REACHED_RECIPIENT,
        )
    )


def _test_delivery_done(*, routes: list[Route]) -> list[Route]:
    """The routes to exttest (of this vendor and kommune: the checklist's routes) on which a
    delivery has reached its recipient; the onboarding step is done when there is one."""
    return [
        route
        for route in routes
        if route.endpoint.slug == EXTTEST and route.reached_recipient  # type: ignore[attr-defined]
    ]


def _per_area_task(
    *,
    key: str,
    title: str,
    areas: list[DataArea],
    routes_by_area: dict[int, list[Route]],
    passes: Any,
    describe: Any,
    none_yet: str,
) -> ChecklistTask:
    if not areas:
        return ChecklistTask(key, title, TaskState.TODO, [none_yet])
    details = []
    passed = 0
    missing = _("mangler")  # outside the f-string below, where makemessages finds it
    for data_area in areas:
        matching = [route for route in routes_by_area[data_area.pk] if passes(route)]
        if matching:
            passed += 1
            details.append(f"{data_area.name}: {describe(matching[0])}")
        else:
            details.append(f"{data_area.name}: {missing}")
    if passed == len(areas):
        state = TaskState.DONE
    elif passed:
        state = TaskState.PARTIAL
    else:
        state = TaskState.TODO
    return ChecklistTask(key, title, state, details)


def onboarding_checklist(*, vendor: Vendor, kommune: Kommune) -> OnboardingChecklist:
    """KOMBIT's onboarding tasks for one vendor and one kommune, each ticked from the data.

    The route tasks are judged per data area the vendor has an open route for in this kommune
    on KOMBIT's endpoints: done when every area has passed, partial when some have."""
    agreement = (
        ProcessingAgreement.objects.filter(vendor=vendor, kommune=kommune).order_by("pk").first()
    )
    sftp_users = _sender_sftp_users(vendor)
    systems = list(ITSystem.objects.filter(vendor=vendor, is_sender=True).order_by("name"))
    routes = list(
        Route.objects.filter(kommune=kommune, sender_system__vendor=vendor)
        .select_related("endpoint", "data_area", "sender_system")
        # In the same query, so the page's query count does not grow with the checklist.
        .annotate(reached_recipient=_reached_recipient())
        .order_by("data_area__sort_order", "endpoint__slug", "pk")
    )
    return OnboardingChecklist(
        vendor=vendor,
        kommune=kommune,
        tasks=[
            _agreement_task(agreement),
            _sftp_user_task(sftp_users, systems),
            *_route_tasks(routes),
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


def _agreement_task(agreement: ProcessingAgreement | None) -> ChecklistTask:
    """1. Databehandleraftale."""
    if agreement is None:
        return ChecklistTask(
            "agreement",
            _("Databehandleraftale underskrevet"),
            TaskState.TODO,
            [_("Der er ikke registreret nogen databehandleraftale.")],
        )
    detail = _("Status: %(status)s") % {"status": agreement.get_status_display()}
    if agreement.signed_on:
        detail += _(", underskrevet %(date)s") % {"date": date_text(agreement.signed_on)}
    if agreement.document_reference:
        detail += _(", dokument %(ref)s") % {"ref": agreement.document_reference}
    return ChecklistTask(
        "agreement",
        _("Databehandleraftale underskrevet"),
        TaskState.DONE if agreement.status == AgreementStatus.SIGNED else TaskState.TODO,
        [detail],
    )


def _sftp_user_task(sftp_users: list[SftpUser], systems: list[ITSystem]) -> ChecklistTask:
    """2. IT-system and SFTP user with an active key on one of KOMBIT's endpoints."""
    kombit_users = [u for u in sftp_users if not u.endpoint.is_standin]
    ready = [u for u in kombit_users if u.has_active_key]  # type: ignore[attr-defined]
    details = [
        _("%(system)s: SFTP-bruger %(user)s på %(endpoint)s, %(key)s")
        % {
            "system": u.it_system.name,
            "user": u.username,
            "endpoint": u.endpoint.slug,
            "key": _("aktiv nøgle") if u.has_active_key else _("ingen aktiv nøgle"),  # type: ignore[attr-defined]
        }
        for u in kombit_users
    ]
    if not systems:
        details = [_("Leverandøren har intet afsendersystem registreret.")]
    elif not kombit_users:
        details = [
            _("%(systems)s har ingen SFTP-bruger på exttest eller produktion.")
            % {"systems": ", ".join(s.name for s in systems)}
        ]
    return ChecklistTask(
        "sftp_user",
        _("It-system og SFTP-bruger oprettet (med aktiv nøgle)"),
        TaskState.DONE if ready else TaskState.TODO,
        details,
    )


def _route_tasks(routes: list[Route]) -> list[ChecklistTask]:
    """3-6. Routes, per data area, on KOMBIT's endpoints only."""
    areas, routes_by_area = _open_areas(routes)
    none_yet = _("Ingen rute er bestilt for denne kommune endnu.")

    def established_on(slug: str) -> Any:
        return lambda r: r.status == RouteStatus.ESTABLISHED and r.endpoint.slug == slug

    def when_established(route: Route) -> str:
        return _("etableret %(date)s") % {
            "date": date_text(route.established_on) if route.established_on else "?"
        }

    return [
        _per_area_task(
            key="route_ordered",
            title=_("Rute bestilt i Digitaliseringskataloget"),
            areas=areas,
            routes_by_area=routes_by_area,
            passes=lambda r: r.status in (RouteStatus.ORDERED, RouteStatus.ESTABLISHED),
            describe=lambda r: (
                _("%(status)s på %(endpoint)s, reference %(ref)s")
                % {
                    "status": r.get_status_display(),
                    "endpoint": r.endpoint.slug,
                    "ref": r.order_reference or "–",
                }
            ),
            none_yet=none_yet,
        ),
        _per_area_task(
            key="established_exttest",
            title=_("Rute etableret i ekstern test (exttest)"),
            areas=areas,
            routes_by_area=routes_by_area,
            passes=established_on(EXTTEST),
            describe=when_established,
            none_yet=none_yet,
        ),
        _test_delivery_task(routes),
        _per_area_task(
            key="established_produktion",
            title=_("Rute etableret i produktion"),
            areas=areas,
            routes_by_area=routes_by_area,
            passes=established_on(PRODUKTION),
            describe=when_established,
            none_yet=none_yet,
        ),
    ]


def _open_areas(routes: list[Route]) -> tuple[list[DataArea], dict[int, list[Route]]]:
    """The data areas with an open route on KOMBIT's endpoints, in the routes' order, and
    every KOMBIT route by data area (open or not: a task may be passed on a closed one)."""
    kombit_routes = [r for r in routes if not r.endpoint.is_standin]
    open_statuses = {RouteStatus.REQUESTED, RouteStatus.ORDERED, RouteStatus.ESTABLISHED}
    routes_by_area: dict[int, list[Route]] = defaultdict(list)
    areas: list[DataArea] = []
    for route in kombit_routes:
        routes_by_area[route.data_area_id].append(route)
        if route.status in open_statuses and route.data_area not in areas:
            areas.append(route.data_area)
    return areas, routes_by_area


def _test_delivery_task(routes: list[Route]) -> ChecklistTask:
    delivered = _test_delivery_done(routes=routes)
    return ChecklistTask(
        "test_delivery",
        _("Testleverance gennemført i exttest"),
        TaskState.DONE if delivered else TaskState.TODO,
        [
            _("%(area)s: en leverance er nået frem til modtageren") % {"area": route.data_area.name}
            for route in delivered
        ]
        or [
            _(
                "Ingen leverance på exttest er nået frem til modtageren endnu "
                "(distribueret eller hentet)."
            )
        ],
    )
