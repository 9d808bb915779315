"""Pages of the registry: route orders per myndighed, bulk orders, the vendor overview and the
SFTP key pages. (The coverage dashboard and the onboarding checklist read deliveries too; they
are in `flisportal.front`.)

Each view starts with one access helper that returns what the user may see or raises 404 (not
403: a user outside a row's scope must not learn that it exists).
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db.models import Count, Q
from django.forms import Form
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from flisportal.lib.roles import Role, user_role
from routes import bulk, selectors, services
from routes.access import kommune_or_404, require_role
from routes.forms import (
    BulkOrderForm,
    BulkTransitionFilterForm,
    BulkTransitionForm,
    KeyGenerateForm,
    KeyUploadForm,
    KommunePickForm,
    RouteOrderForm,
    RouteTransitionForm,
)
from routes.models import (
    AgreementStatus,
    KeyState,
    Kommune,
    ProcessingAgreement,
    Route,
    RouteStatus,
    SftpKey,
    SftpUser,
    User,
    Vendor,
)

# The session key that carries a just-created key to the page that shows it once.
NEW_KEY_SESSION = "routes_new_key"


def _apply_errors(form: Form, error: ValidationError) -> None:
    """Put a service's ValidationError on the form: field errors on their fields."""
    if hasattr(error, "error_dict"):
        for name, errors in error.error_dict.items():
            form.add_error(name if name in form.fields else None, errors)
    else:
        form.add_error(None, error)


# --- route orders (administrators) ------------------------------------------------------------


@login_required
@require_GET
def route_orders(request: HttpRequest) -> HttpResponse:
    """Pick a kommune; below it, every open order across kommuner."""
    require_role(request, Role.ADMINISTRATOR)
    if "kommune" in request.GET:
        pick = KommunePickForm(request.GET)
        if pick.is_valid():
            return redirect("routes:kommune_routes", code=pick.cleaned_data["kommune"].code)
    else:
        pick = KommunePickForm()
    open_orders = (
        Route.objects.filter(status__in=(RouteStatus.REQUESTED, RouteStatus.ORDERED))
        .select_related("kommune", "data_area", "sender_system__vendor", "endpoint")
        .with_ordered_since()
        .order_by("kommune__code", "data_area__sort_order", "pk")
    )
    return render(
        request,
        "routes/route_orders.html",
        {"pick": pick, "open_orders": open_orders},
    )


def _kommune_routes_page(
    request: HttpRequest, kommune: Kommune, form: RouteOrderForm, status: int = 200
) -> HttpResponse:
    vendors = (
        Vendor.objects.filter(
            Q(agreements__kommune=kommune) | Q(it_systems__sent_routes__kommune=kommune)
        )
        .distinct()
        .order_by("name")
    )
    return render(
        request,
        "routes/kommune_routes.html",
        {
            "kommune": kommune,
            "pick": KommunePickForm(initial={"kommune": kommune.code}),
            "areas": selectors.kommune_routes(kommune=kommune),
            "form": form,
            "vendors": vendors,
        },
        status=status,
    )


@login_required
@require_GET
def kommune_routes(request: HttpRequest, code: str) -> HttpResponse:
    """A kommune's routes by data area and recipient, and the form for a new order."""
    require_role(request, Role.ADMINISTRATOR)
    kommune = kommune_or_404(code)
    action = reverse("routes:route_order_create", args=[kommune.code])
    # The onboarding checklist links here with the data area, system and endpoint filled in.
    form = RouteOrderForm(kommune=kommune, action=action, prefill=request.GET)
    return _kommune_routes_page(request, kommune, form)


@login_required
@require_POST
def route_order_create(request: HttpRequest, code: str) -> HttpResponse:
    user = require_role(request, Role.ADMINISTRATOR)
    kommune = kommune_or_404(code)
    action = reverse("routes:route_order_create", args=[kommune.code])
    form = RouteOrderForm(request.POST, kommune=kommune, action=action)
    if form.is_valid():
        data = form.cleaned_data
        try:
            route = services.route_order(
                kommune=kommune,
                data_area=data["data_area"],
                sender_system=data["sender_system"],
                recipient_systems=list(data["recipient_systems"]),
                endpoint=data["endpoint"],
                actor=user,
                note=data["note"],
                sender_authority=data["sender_authority"],
                recipient_authority=data["recipient_authority"],
                order_reference=data["order_reference"],
                ordered_on=data["ordered_on"],
            )
        except ValidationError as error:
            _apply_errors(form, error)
        else:
            messages.success(
                request,
                _("Ruten for %(area)s er registreret som %(status)s.")
                % {"area": route.data_area.name, "status": route.get_status_display()},
            )
            if not services.route_agreement_signed(route):
                messages.warning(
                    request,
                    services.agreement_text(
                        verdict=services.AgreementVerdict.WARN,
                        kommune=kommune,
                        vendor_name=services.vendor_name(route.sender_system),
                    ),
                )
            return redirect("routes:kommune_routes", code=kommune.code)
    return _kommune_routes_page(request, kommune, form)


def _get_route_for_user(request: HttpRequest, pk: int) -> Route:
    return get_object_or_404(
        Route.objects.for_user(request.user)
        .select_related("kommune", "data_area", "sender_system__vendor", "endpoint")
        .with_ordered_since(),
        pk=pk,
    )


def _agreement_missing(route: Route) -> tuple[bool, str]:
    """Whether the page should say that the route's agreement is missing (only while the route
    is open: a retired or rejected route carries nothing), and where to record it. One query."""
    if route.status not in services.OPEN_STATUSES:
        return False, ""
    found = (
        ProcessingAgreement.objects.filter(
            vendor=route.sender_system.vendor, kommune_id=route.kommune_id
        )
        .values_list("pk", "status")
        .first()
    )
    if found is not None and found[1] == AgreementStatus.SIGNED:
        return False, ""
    link = _agreement_link(
        found[0] if found else None, route.sender_system.vendor_id, route.kommune_id
    )
    return True, link


def _needs_override(route: Route, agreement_missing: bool) -> bool:
    return (
        agreement_missing and route.status == RouteStatus.ORDERED and route.endpoint.is_production
    )


def _route_detail_page(
    request: HttpRequest,
    route: Route,
    form: RouteTransitionForm | None,
    agreement: tuple[bool, str],
) -> HttpResponse:
    events = route.events.select_related("actor").order_by("at", "pk")
    agreement_warning = ""
    if agreement[0]:
        agreement_warning = services.agreement_text(
            verdict=services.AgreementVerdict.WARN,
            kommune=route.kommune,
            vendor_name=services.vendor_name(route.sender_system),
        )
    return render(
        request,
        "routes/route_detail.html",
        {
            "route": route,
            "recipients": list(route.recipient_systems.order_by("name")),
            "events": events,
            "form": form,
            "agreement_warning": agreement_warning,
            "agreement_link": agreement[1],
        },
    )


@login_required
@require_GET
def route_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """A route, its lifecycle history and (for administrators) the form to move it on."""
    route = _get_route_for_user(request, pk)
    form = None
    missing = _agreement_missing(route)
    if user_role(request.user) == Role.ADMINISTRATOR and route.next_statuses():
        form = RouteTransitionForm(
            route=route,
            action=reverse("routes:route_transition", args=[route.pk]),
            needs_override=_needs_override(route, missing[0]),
        )
    return _route_detail_page(request, route, form, missing)


@login_required
@require_POST
def route_transition(request: HttpRequest, pk: int) -> HttpResponse:
    user = require_role(request, Role.ADMINISTRATOR)
    route = _get_route_for_user(request, pk)
    missing = _agreement_missing(route)
    form = RouteTransitionForm(
        request.POST,
        route=route,
        action=reverse("routes:route_transition", args=[route.pk]),
        needs_override=_needs_override(route, missing[0]),
    )
    if form.is_valid():
        data = form.cleaned_data
        try:
            services.route_transition(
                route=route,
                new_status=data["new_status"],
                actor=user,
                note=data["note"],
                order_reference=data["order_reference"],
                on_date=data["on_date"],
                agreement_override=data.get("agreement_override", ""),
            )
        except ValidationError as error:
            _apply_errors(form, error)
        else:
            messages.success(
                request,
                _("Ruten er flyttet til «%(status)s».") % {"status": route.get_status_display()},
            )
            return redirect("routes:route_detail", pk=route.pk)
    return _route_detail_page(request, route, form, missing)


def _agreement_link(agreement_pk: int | None, vendor_id: int | None, kommune_id: int) -> str:
    """Where an administrator records the missing databehandleraftale: the existing (draft or
    terminated) agreement in the admin, or a new one with its vendor and kommune filled in."""
    if agreement_pk is not None:
        return reverse("admin:routes_processingagreement_change", args=[agreement_pk])
    query = urlencode({"vendor": vendor_id or "", "kommune": kommune_id})
    return f"{reverse('admin:routes_processingagreement_add')}?{query}"


def _bulk_order_preview(
    request: HttpRequest, form: BulkOrderForm, plan: bulk.BulkOrderPlan, *, changed: bool = False
) -> HttpResponse:
    vendor_id = plan.choices.sender_system.vendor_id
    rows = [
        (row, _agreement_link(row.agreement_pk, vendor_id, row.kommune.pk)) for row in plan.rows
    ]
    return render(
        request,
        "routes/bulk_order_preview.html",
        {"form": form, "plan": plan, "rows": rows, "changed": changed},
    )


@login_required
@require_http_methods(["GET", "POST"])
def route_bulk_order(request: HttpRequest) -> HttpResponse:
    """Order one data area from one sender for many kommuner at once, in two steps: the form
    shows a preview of every route it would create and every kommune it would skip;
    «Bekræft» creates exactly that, or shows the plan again if it changed meanwhile."""
    user = require_role(request, Role.ADMINISTRATOR)
    if request.method != "POST":
        return render(request, "routes/bulk_order.html", {"form": BulkOrderForm()})
    form = BulkOrderForm(request.POST)
    if form.is_valid() and "edit" not in request.POST:
        try:
            if "confirm" in request.POST:
                created = bulk.route_bulk_order_confirm(
                    choices=form.choices(), digest=request.POST.get("digest", ""), actor=user
                )
                messages.success(
                    request,
                    _("%(created)d ruter registreret, %(skipped)d sprunget over.")
                    % {
                        "created": len(created),
                        "skipped": len(form.choices().kommuner) - len(created),
                    },
                )
                return redirect("routes:route_orders")
            plan = bulk.route_bulk_order_plan(choices=form.choices(), actor=user)
            return _bulk_order_preview(request, form, plan)
        except bulk.PlanChanged as changed:
            assert isinstance(changed.plan, bulk.BulkOrderPlan)
            return _bulk_order_preview(request, form, changed.plan, changed=True)
        except ValidationError as error:
            _apply_errors(form, error)
    return render(request, "routes/bulk_order.html", {"form": form})


def _bulk_transition_page(
    request: HttpRequest, filters: BulkTransitionFilterForm, form: BulkTransitionForm
) -> HttpResponse:
    routes = filters.filter(bulk.transition_candidates())
    # Ticked again when the administrator comes back from the preview to change something.
    selected = set(request.POST.getlist("routes")) if request.method == "POST" else set()
    return render(
        request,
        "routes/bulk_transition.html",
        {"filters": filters, "form": form, "routes": routes, "selected": selected},
    )


def _bulk_transition_preview(
    request: HttpRequest,
    form: BulkTransitionForm,
    plan: bulk.BulkTransitionPlan,
    *,
    changed: bool = False,
) -> HttpResponse:
    rows = [
        (
            row,
            _agreement_link(
                row.route.agreement_pk,  # type: ignore[attr-defined]
                row.route.sender_system.vendor_id,
                row.route.kommune_id,
            ),
        )
        for row in plan.rows
    ]
    return render(
        request,
        "routes/bulk_transition_preview.html",
        {"form": form, "plan": plan, "rows": rows, "changed": changed},
    )


@login_required
@require_http_methods(["GET", "POST"])
def route_bulk_transition(request: HttpRequest) -> HttpResponse:
    """Move many routes one step together (say ordered → established once KOMBIT has set them
    up), with one note: pick the routes, see which move and which stay (and why), confirm."""
    user = require_role(request, Role.ADMINISTRATOR)
    filters = BulkTransitionFilterForm(request.GET or None)
    if request.method != "POST":
        listed = filters.cleaned_data.get("status") if filters.is_valid() else None
        form = BulkTransitionForm(from_status=listed or RouteStatus.ORDERED)
        return _bulk_transition_page(request, filters, form)
    form = BulkTransitionForm(request.POST)
    if form.is_valid() and "edit" not in request.POST:
        try:
            if "confirm" in request.POST:
                moved = bulk.route_bulk_transition_confirm(
                    choices=form.choices(), digest=request.POST.get("digest", ""), actor=user
                )
                messages.success(
                    request,
                    _("%(moved)d ruter flyttet til «%(status)s», %(left)d uændret.")
                    % {
                        "moved": len(moved),
                        "status": RouteStatus(form.cleaned_data["new_status"]).label,
                        "left": len(form.cleaned_data["routes"]) - len(moved),
                    },
                )
                return redirect("routes:route_bulk_transition")
            plan = bulk.route_bulk_transition_plan(choices=form.choices(), actor=user)
            return _bulk_transition_preview(request, form, plan)
        except bulk.PlanChanged as changed:
            assert isinstance(changed.plan, bulk.BulkTransitionPlan)
            return _bulk_transition_preview(request, form, changed.plan, changed=True)
        except ValidationError as error:
            _apply_errors(form, error)
    return _bulk_transition_page(request, filters, form)


# --- vendor overview --------------------------------------------------------------------------


@login_required
@require_GET
def vendor_overview(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    """A vendor's systems, SFTP users and keys, and where it may deliver. Vendor staff see their
    own vendor; administrators pick one."""
    role = user_role(request.user)
    user = request.user
    if role == Role.VENDOR and isinstance(user, User):
        if pk is not None and pk != user.vendor_id:
            raise Http404
        vendor = get_object_or_404(Vendor, pk=user.vendor_id)
    elif role == Role.ADMINISTRATOR:
        if pk is None:
            vendors = Vendor.objects.annotate(
                system_count=Count("it_systems", distinct=True)
            ).order_by("name")
            return render(request, "routes/vendor_list.html", {"vendors": vendors})
        vendor = get_object_or_404(Vendor, pk=pk)
    else:
        raise Http404
    overview = selectors.vendor_overview(vendor=vendor)
    return render(request, "routes/vendor_overview.html", {"o": overview, "now": timezone.now()})


# --- SFTP users and keys ----------------------------------------------------------------------


def _get_sftp_user_for_user(request: HttpRequest, pk: int) -> SftpUser:
    return get_object_or_404(
        SftpUser.objects.for_user(request.user).select_related("it_system__vendor", "endpoint"),
        pk=pk,
    )


def _sftp_user_page(
    request: HttpRequest,
    sftp_user: SftpUser,
    *,
    generate_form: KeyGenerateForm | None = None,
    upload_form: KeyUploadForm | None = None,
    status: int = 200,
) -> HttpResponse:
    keys = list(sftp_user.keys.defer("encrypted_private_key").select_related("created_by"))
    active = next((k for k in keys if k.state == KeyState.ACTIVE), None)
    pending = next((k for k in keys if k.state == KeyState.PENDING), None)
    new_key_pk = request.session.pop(NEW_KEY_SESSION, None) if request.method == "GET" else None
    new_key = next((k for k in keys if k.pk == new_key_pk), None)
    if generate_form is None:
        if active is None:
            generate_form = KeyGenerateForm(
                submit_label=_("Dan nøglepar"),
                action=reverse("routes:sftp_key_generate", args=[sftp_user.pk]),
            )
        elif pending is None:
            generate_form = KeyGenerateForm(
                submit_label=_("Rotér nøgle"),
                action=reverse("routes:sftp_key_rotate", args=[sftp_user.pk]),
            )
    if upload_form is None and user_role(request.user) == Role.ADMINISTRATOR and pending is None:
        upload_form = KeyUploadForm(action=reverse("routes:sftp_key_upload", args=[sftp_user.pk]))
    return render(
        request,
        "routes/sftp_user.html",
        {
            "sftp_user": sftp_user,
            "keys": keys,
            "active": active,
            "pending": pending,
            "new_key": new_key,
            "generate_form": generate_form,
            "upload_form": upload_form,
            "now": timezone.now(),
        },
        status=status,
    )


@login_required
@require_GET
def sftp_user_detail(request: HttpRequest, pk: int) -> HttpResponse:
    sftp_user = _get_sftp_user_for_user(request, pk)
    return _sftp_user_page(request, sftp_user)


def _key_created(
    request: HttpRequest, sftp_user: SftpUser, key: SftpKey, text: str
) -> HttpResponse:
    request.session[NEW_KEY_SESSION] = key.pk
    messages.success(request, text)
    return redirect("routes:sftp_user_detail", pk=sftp_user.pk)


def _new_key(
    request: HttpRequest,
    pk: int,
    *,
    url_name: str,
    submit_label: str,
    make_key: Callable[..., SftpKey],
    done_text: str,
) -> HttpResponse:
    """A first key pair or a rotation: the same form, a different service and message."""
    sftp_user = _get_sftp_user_for_user(request, pk)
    form = KeyGenerateForm(
        request.POST, submit_label=submit_label, action=reverse(url_name, args=[sftp_user.pk])
    )
    if form.is_valid():
        try:
            key = make_key(
                sftp_user=sftp_user,
                algorithm=form.cleaned_data["algorithm"],
                expires_at=form.cleaned_data["expires_on"],
                actor=request.user if isinstance(request.user, User) else None,
            )
        except ValidationError as error:
            _apply_errors(form, error)
        else:
            return _key_created(request, sftp_user, key, done_text)
    return _sftp_user_page(request, sftp_user, generate_form=form)


@login_required
@require_POST
def sftp_key_generate(request: HttpRequest, pk: int) -> HttpResponse:
    return _new_key(
        request,
        pk,
        url_name="routes:sftp_key_generate",
        submit_label=_("Dan nøglepar"),
        make_key=services.sftp_key_generate,
        done_text=_("Nøgleparret er dannet. Den private nøgle er gemt krypteret."),
    )


@login_required
@require_POST
def sftp_key_rotate(request: HttpRequest, pk: int) -> HttpResponse:
    return _new_key(
        request,
        pk,
        url_name="routes:sftp_key_rotate",
        submit_label=_("Rotér nøgle"),
        make_key=services.sftp_key_rotate,
        done_text=_(
            "Den nye nøgle er dannet og afventer registrering. Portalen logger fortsat ind med "
            "den aktive nøgle. Registrér den nye offentlige nøgle i KOMBITs "
            "Administrationsmodul, og bekræft derefter registreringen her."
        ),
    )


@login_required
@require_POST
# Django's error page and error mails list the POST data: the passphrase and the uploaded key
# stay out of them.
@sensitive_post_parameters("passphrase", "private_key")
def sftp_key_upload(request: HttpRequest, pk: int) -> HttpResponse:
    user = require_role(request, Role.ADMINISTRATOR)
    sftp_user = _get_sftp_user_for_user(request, pk)
    form = KeyUploadForm(
        request.POST,
        request.FILES,
        action=reverse("routes:sftp_key_upload", args=[sftp_user.pk]),
    )
    if form.is_valid():
        try:
            key = services.sftp_key_upload(
                sftp_user=sftp_user,
                private_key=form.cleaned_data["private_key"],
                passphrase=form.cleaned_data["passphrase"],
                public_key=form.cleaned_data["public_key"],
                expires_at=form.cleaned_data["expires_on"],
                actor=user,
            )
        except ValidationError as error:
            _apply_errors(form, error)
        else:
            return _key_created(request, sftp_user, key, _("Nøglen er uploadet og gemt krypteret."))
    return _sftp_user_page(request, sftp_user, upload_form=form)


def _pending_key_action(
    request: HttpRequest, pk: int, action: Callable[..., SftpKey], done_text: str
) -> HttpResponse:
    """Confirm or discard a pending key: the same access, a different service and message."""
    sftp_user = _get_sftp_user_for_user(request, pk)
    try:
        action(
            sftp_user=sftp_user,
            actor=request.user if isinstance(request.user, User) else None,
        )
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, done_text)
    return redirect("routes:sftp_user_detail", pk=sftp_user.pk)


@login_required
@require_POST
def sftp_key_confirm_rotation(request: HttpRequest, pk: int) -> HttpResponse:
    # Only an administrator confirms that KOMBIT has registered the key: from that moment every
    # push and fetch of the IT-system logs in with it, and a wrong confirmation stops them all.
    require_role(request, Role.ADMINISTRATOR)
    return _pending_key_action(
        request,
        pk,
        services.sftp_key_confirm_rotation,
        _(
            "Registreringen er bekræftet: den nye nøgle er nu aktiv og bruges ved næste login. "
            "Den gamle nøgle er udfaset, og dens private del er slettet."
        ),
    )


@login_required
@require_POST
def sftp_key_discard_rotation(request: HttpRequest, pk: int) -> HttpResponse:
    return _pending_key_action(
        request,
        pk,
        services.sftp_key_discard_rotation,
        _("Den nye nøgle er kasseret. Portalen logger fortsat ind med den aktive nøgle."),
    )
