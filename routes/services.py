"""Workflows of the registry: ordering routes and moving them through their lifecycle, and
creating, uploading and rotating SFTP keys, and re-encrypting them under a new Fernet key.

Every function is keyword-only and writes its history rows itself: a route's status never
changes without a RouteEvent, and a key's private half never leaves this module unencrypted.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.debug import sensitive_variables

from flisportal.audit.services import audit_record, snapshot
from routes.keys import (
    KeyPair,
    encrypt_private_key,
    generate_key_pair,
    load_private_key,
    private_key_token_readable,
    reencrypt_private_key,
)
from routes.models import (
    DataArea,
    Endpoint,
    ITSystem,
    KeyOrigin,
    KeyState,
    Kommune,
    Route,
    RouteEvent,
    RouteStatus,
    SftpKey,
    SftpUser,
    User,
)
from routes.notify import notify_route_change

# Orders that still count: a new order for the same key would duplicate one of these.
OPEN_STATUSES = (RouteStatus.REQUESTED, RouteStatus.ORDERED, RouteStatus.ESTABLISHED)

# The date each state records on the route.
_STATUS_DATE_FIELD = {
    RouteStatus.ORDERED: "ordered_on",
    RouteStatus.ESTABLISHED: "established_on",
    RouteStatus.RETIRED: "retired_on",
}


def _check_route_parties(
    *,
    kommune: Kommune,
    sender_system: ITSystem,
    recipient_systems: Sequence[ITSystem],
) -> None:
    if not sender_system.is_sender:
        raise ValidationError(
            {
                "sender_system": _("%(system)s er ikke registreret som afsender.")
                % {"system": sender_system.name}
            }
        )
    if not recipient_systems:
        raise ValidationError(
            {"recipient_systems": _("Vælg mindst ét modtagersystem (FLIS og/eller LIS).")}
        )
    for system in recipient_systems:
        if not system.is_recipient:
            raise ValidationError(
                {
                    "recipient_systems": _("%(system)s er ikke registreret som modtager.")
                    % {"system": system.name}
                }
            )
        if system.kommune_id is not None and system.kommune_id != kommune.pk:
            raise ValidationError(
                {
                    "recipient_systems": _(
                        "%(system)s er en anden kommunes LIS og kan ikke modtage for %(kommune)s."
                    )
                    % {"system": system.name, "kommune": kommune.name}
                }
            )


def _open_route_for_key(
    *,
    endpoint: Endpoint,
    data_area: DataArea,
    sender_system: ITSystem,
    sender_authority: str,
    recipient_authority: str,
) -> Route | None:
    return (
        Route.objects.filter(
            endpoint=endpoint,
            data_area=data_area,
            sender_system=sender_system,
            sender_authority=sender_authority,
            recipient_authority=recipient_authority,
            status__in=OPEN_STATUSES,
        )
        .order_by("pk")
        .first()
    )


def route_order(
    *,
    kommune: Kommune,
    data_area: DataArea,
    sender_system: ITSystem,
    recipient_systems: Sequence[ITSystem],
    endpoint: Endpoint,
    actor: User | None,
    note: str = "",
    sender_authority: str | None = None,
    recipient_authority: str | None = None,
    order_reference: str = "",
    ordered_on: date | None = None,
) -> Route:
    """Record a new route for one myndighed. It starts as `requested`; with an order reference
    from Digitaliseringskataloget it moves on to `ordered` at once (two history rows).

    Refuses a second open order (requested, ordered or established) for the same key."""
    sender_authority = sender_authority or kommune.cvr
    recipient_authority = recipient_authority or kommune.cvr
    _check_route_parties(
        kommune=kommune, sender_system=sender_system, recipient_systems=recipient_systems
    )
    with transaction.atomic():
        _refuse_second_open_order(
            kommune=kommune,
            data_area=data_area,
            sender_system=sender_system,
            endpoint=endpoint,
            sender_authority=sender_authority,
            recipient_authority=recipient_authority,
        )
        route = _route_request(
            kommune=kommune,
            data_area=data_area,
            sender_system=sender_system,
            recipient_systems=recipient_systems,
            endpoint=endpoint,
            actor=actor,
            note=note,
            sender_authority=sender_authority,
            recipient_authority=recipient_authority,
        )
        if order_reference:
            route_transition(
                route=route,
                new_status=RouteStatus.ORDERED,
                actor=actor,
                note="",
                order_reference=order_reference,
                on_date=ordered_on,
            )
    return route


def _refuse_second_open_order(
    *,
    kommune: Kommune,
    data_area: DataArea,
    sender_system: ITSystem,
    endpoint: Endpoint,
    sender_authority: str,
    recipient_authority: str,
) -> None:
    existing = _open_route_for_key(
        endpoint=endpoint,
        data_area=data_area,
        sender_system=sender_system,
        sender_authority=sender_authority,
        recipient_authority=recipient_authority,
    )
    if existing is not None:
        raise ValidationError(
            _(
                "%(kommune)s har allerede en rute for %(area)s fra %(system)s på "
                "%(endpoint)s (status: %(status)s)."
            ),
            code="duplicate_route",
            params={
                "kommune": kommune.name,
                "area": data_area.name,
                "system": sender_system.name,
                "endpoint": endpoint.name,
                "status": existing.get_status_display(),
            },
        )


def _route_request(
    *,
    kommune: Kommune,
    data_area: DataArea,
    sender_system: ITSystem,
    recipient_systems: Sequence[ITSystem],
    endpoint: Endpoint,
    actor: User | None,
    note: str,
    sender_authority: str,
    recipient_authority: str,
) -> Route:
    """Save a `requested` route with its recipients, its first history row and its audit row."""
    route = Route(
        endpoint=endpoint,
        data_area=data_area,
        kommune=kommune,
        sender_system=sender_system,
        sender_authority=sender_authority,
        recipient_authority=recipient_authority,
        status=RouteStatus.REQUESTED,
    )
    route.full_clean(exclude=["recipient_systems"])
    route.save()
    route.recipient_systems.set(recipient_systems)
    RouteEvent.objects.create(
        route=route,
        old_status="",
        new_status=RouteStatus.REQUESTED,
        actor=actor,
        note=note,
    )
    audit_record(
        action="route.order",
        obj=route,
        after={
            **snapshot(route),
            "recipient_systems": sorted(s.pk for s in recipient_systems),
            "note": note,
        },
        actor=actor,
        kommune_id=kommune.pk,
    )
    return route


def route_transition(
    *,
    route: Route,
    new_status: str,
    actor: User | None,
    note: str = "",
    order_reference: str | None = None,
    on_date: date | None = None,
) -> Route:
    """Move a route one step in its order lifecycle and write the history row.

    Refuses a step that ROUTE_TRANSITIONS does not allow, an order without its reference, and a
    second established route for the same key (the database's partial unique constraint)."""
    new_status = RouteStatus(new_status)
    old_status = RouteStatus(route.status)
    if not route.can_move_to(new_status):
        raise ValidationError(
            _("En rute med status «%(old)s» kan ikke flyttes til «%(new)s»."),
            code="transition",
            params={"old": old_status.label, "new": new_status.label},
        )
    order_reference = (order_reference or "").strip()
    if new_status == RouteStatus.ORDERED and not (order_reference or route.order_reference):
        raise ValidationError(
            {
                "order_reference": _(
                    "Angiv bestillingsreferencen fra Digitaliseringskataloget, når ruten "
                    "er bestilt."
                )
            }
        )
    changes: dict[str, object] = {"status": new_status, "updated_at": timezone.now()}
    if order_reference:
        changes["order_reference"] = order_reference
    if new_status in _STATUS_DATE_FIELD:
        changes[_STATUS_DATE_FIELD[new_status]] = on_date or timezone.localdate()
    try:
        with transaction.atomic():
            # Claim the change with a conditional update: if someone moved the route meanwhile,
            # nothing is updated and we say so instead of overwriting their step.
            updated = Route.objects.filter(pk=route.pk, status=old_status).update(**changes)
            if updated != 1:
                raise ValidationError(
                    _("Ruten er blevet ændret af en anden i mellemtiden. Indlæs siden igen."),
                    code="stale",
                )
            RouteEvent.objects.create(
                route=route,
                old_status=old_status,
                new_status=new_status,
                actor=actor,
                note=note,
            )
            audit_record(
                action="route.status",
                obj=route,
                before={
                    "status": old_status,
                    **{name: getattr(route, name) for name in changes if name != "status"},
                },
                after={**changes, "note": note},
                actor=actor,
                kommune_id=route.kommune_id,
            )
            notify_route_change(route=route, old=old_status, new=new_status, note=note)
    except IntegrityError:
        raise _duplicate_established(route) from None
    for name, value in changes.items():
        setattr(route, name, value)
    return route


def _duplicate_established(route: Route) -> ValidationError:
    return ValidationError(
        _(
            "Der er allerede en etableret rute for %(endpoint)s, InfRef %(infref)s, "
            "afsendersystem %(system)s og disse myndigheder. Nedlæg den først."
        ),
        code="duplicate_established",
        params={
            "endpoint": route.endpoint.name,
            "infref": route.data_area.infref,
            "system": route.sender_system.name,
        },
    )


@dataclass
class BulkOrderResult:
    created: list[Route] = field(default_factory=list)
    # (kommune, why it was skipped)
    skipped: list[tuple[Kommune, str]] = field(default_factory=list)


def route_bulk_order(
    *,
    kommuner: Iterable[Kommune],
    data_area: DataArea,
    sender_system: ITSystem,
    recipient_systems: Sequence[ITSystem],
    endpoint: Endpoint,
    actor: User | None,
    note: str = "",
    order_reference: str = "",
    ordered_on: date | None = None,
) -> BulkOrderResult:
    """Order the same data area from the same sender for many kommuner at once (one route per
    myndighed, each kommune both sender and recipient authority). Kommuner that already have
    an open route for the key are skipped and reported; the rest are created together."""
    result = BulkOrderResult()
    with transaction.atomic():
        for kommune in kommuner:
            try:
                route = route_order(
                    kommune=kommune,
                    data_area=data_area,
                    sender_system=sender_system,
                    recipient_systems=recipient_systems,
                    endpoint=endpoint,
                    actor=actor,
                    note=note,
                    order_reference=order_reference,
                    ordered_on=ordered_on,
                )
            except ValidationError as error:
                if getattr(error, "code", None) != "duplicate_route":
                    raise
                result.skipped.append((kommune, " ".join(error.messages)))
            else:
                result.created.append(route)
    return result


# --- SFTP keys -------------------------------------------------------------------------------


def _key_comment(sftp_user: SftpUser) -> str:
    # The comment travels with the public key into the Administrationsmodul: say whose it is.
    return f"{sftp_user.username}@{sftp_user.endpoint.slug}"


def _store_key(
    *,
    sftp_user: SftpUser,
    pair: KeyPair,
    origin: str,
    state: str = KeyState.ACTIVE,
    expires_at: datetime | None,
    actor: User | None,
) -> SftpKey:
    key = SftpKey(
        sftp_user=sftp_user,
        algorithm=pair.algorithm,
        public_key=pair.public_openssh,
        fingerprint=pair.fingerprint,
        encrypted_private_key=encrypt_private_key(pair.private_openssh),
        state=state,
        origin=origin,
        created_by=actor,
        expires_at=expires_at,
    )
    key.save()
    # The private half never reaches the audit log (snapshot leaves binary fields out).
    audit_record(action="sftp_key.create", obj=key, after=snapshot(key), actor=actor)
    return key


def _check_expiry(expires_at: datetime | None) -> None:
    if expires_at is not None and expires_at <= timezone.now():
        raise ValidationError({"expires_at": _("Udløbsdatoen skal ligge i fremtiden.")})


def _check_rotation_allowed(sftp_user: SftpUser) -> SftpKey:
    """The active key to rotate; refuses while an earlier rotation awaits confirmation, or when
    there is no active key."""
    if sftp_user.keys.filter(state=KeyState.PENDING).exists():
        raise ValidationError(
            _(
                "En ny nøgle afventer allerede registrering. Bekræft den, når den er "
                "registreret på Serviceplatformen, eller kassér den, før du roterer igen."
            ),
            code="rotation_pending",
        )
    active = sftp_user.keys.filter(state=KeyState.ACTIVE).first()
    if active is None:
        raise ValidationError(
            _("SFTP-brugeren har ingen aktiv nøgle at rotere. Dan en ny nøgle i stedet."),
            code="no_active_key",
        )
    return active


# The key functions hide their key material from the frame variables on Django's error page
# and in error mails.
@sensitive_variables("pair", "private_key", "passphrase")
def sftp_key_generate(
    *,
    sftp_user: SftpUser,
    algorithm: str = "rsa",
    expires_at: datetime | None = None,
    actor: User | None,
) -> SftpKey:
    """A first key pair for an SFTP user (RSA 4096 by default, or Ed25519).

    Returns the stored key: its public half and fingerprint are for the Administrationsmodul;
    the private half is kept only encrypted. A user that already has an active key is rotated
    with `sftp_key_rotate` instead."""
    _check_expiry(expires_at)
    if algorithm not in ("rsa", "ed25519"):
        raise ValidationError({"algorithm": _("Vælg RSA eller Ed25519.")})
    # Generate before the transaction: RSA 4096 takes a second, and SQLite holds its write lock
    # for as long as a transaction is open.
    pair = generate_key_pair(algorithm, comment=_key_comment(sftp_user))
    with transaction.atomic():
        if sftp_user.keys.filter(state=KeyState.ACTIVE).exists():
            raise ValidationError(
                _("SFTP-brugeren har allerede en aktiv nøgle. Brug «Rotér nøgle»."),
                code="has_active_key",
            )
        return _store_key(
            sftp_user=sftp_user,
            pair=pair,
            origin=KeyOrigin.GENERATED,
            expires_at=expires_at,
            actor=actor,
        )


@sensitive_variables("pair", "private_key", "passphrase")
def sftp_key_rotate(
    *,
    sftp_user: SftpUser,
    algorithm: str = "rsa",
    expires_at: datetime | None = None,
    actor: User | None,
) -> SftpKey:
    """A new key, pending until `sftp_key_confirm_rotation`; the active key stays the one push
    and fetch log in with, since the Serviceplatform refuses a key that is not yet registered
    in KOMBIT's Administrationsmodul."""
    _check_expiry(expires_at)
    if algorithm not in ("rsa", "ed25519"):
        raise ValidationError({"algorithm": _("Vælg RSA eller Ed25519.")})
    # Refuse before generating: an RSA-4096 pair costs a second of CPU, and a refused rotation
    # (clicked twice, or before the last one was confirmed) should not pay for it. Checked again
    # inside the transaction, since another request may rotate in between.
    _check_rotation_allowed(sftp_user)
    pair = generate_key_pair(algorithm, comment=_key_comment(sftp_user))
    with transaction.atomic():
        _check_rotation_allowed(sftp_user)
        return _store_key(
            sftp_user=sftp_user,
            pair=pair,
            origin=KeyOrigin.GENERATED,
            state=KeyState.PENDING,
            expires_at=expires_at,
            actor=actor,
        )


@sensitive_variables("pair", "private_key", "passphrase")
def sftp_key_upload(
    *,
    sftp_user: SftpUser,
    private_key: bytes,
    passphrase: str = "",
    public_key: str = "",
    expires_at: datetime | None = None,
    actor: User | None,
) -> SftpKey:
    """Store an existing private key (administrators only: the view checks it).

    Refuses a file that is not a private key, a wrong or missing passphrase, and a key that does
    not match the stated public key. The key is stored without its passphrase, encrypted with
    the portal's key. If the user has an active key, this is a rotation: the uploaded key is
    pending until confirmed, like a generated one."""
    _check_expiry(expires_at)
    try:
        pair = load_private_key(
            private_key,
            passphrase=passphrase or None,
            expected_public=public_key.strip() or None,
        )
    except ValidationError as error:
        raise ValidationError({"private_key": error.messages}) from None
    # Keep the public key's comment if one was given: it names the key in the Administrationsmodul.
    comment = " ".join(public_key.split()[2:]) if public_key.strip() else _key_comment(sftp_user)
    if comment:
        pair = KeyPair(
            pair.algorithm,
            pair.private_openssh,
            f"{pair.public_openssh} {comment}",
            pair.fingerprint,
        )
    with transaction.atomic():
        if (
            sftp_user.keys.filter(fingerprint=pair.fingerprint)
            .exclude(state=KeyState.RETIRED)
            .exists()
        ):
            raise ValidationError(
                {"private_key": _("Nøglen er allerede registreret på denne SFTP-bruger.")}
            )
        state = KeyState.ACTIVE
        if sftp_user.keys.filter(state=KeyState.ACTIVE).exists():
            _check_rotation_allowed(sftp_user)
            state = KeyState.PENDING
        return _store_key(
            sftp_user=sftp_user,
            pair=pair,
            origin=KeyOrigin.UPLOADED,
            state=state,
            expires_at=expires_at,
            actor=actor,
        )


def _key_state_change(key: SftpKey, *, before: str, actor: User | None) -> None:
    after: dict[str, object] = {"state": key.state}
    if key.state == KeyState.RETIRED:
        after["retired_at"] = key.retired_at
        after["private_key_erased"] = True
    audit_record(
        action="sftp_key.state", obj=key, before={"state": before}, after=after, actor=actor
    )


def sftp_key_confirm_rotation(*, sftp_user: SftpUser, actor: User | None) -> SftpKey:
    """The pending key is registered at the Serviceplatform: it becomes the active key that push
    and fetch log in with, and the old active key is retired with its private half erased.

    Returns the new active key."""
    with transaction.atomic():
        pending = sftp_user.keys.select_for_update().filter(state=KeyState.PENDING).first()
        if pending is None:
            raise ValidationError(_("Der er ingen nøglerotation at bekræfte."), code="no_rotation")
        old = sftp_user.keys.select_for_update().filter(state=KeyState.ACTIVE).first()
        if old is not None:
            # Retired first: one active key per user is a constraint, checked row by row.
            old.retire()
            old.save(update_fields=["state", "retired_at", "encrypted_private_key"])
            _key_state_change(old, before=KeyState.ACTIVE, actor=actor)
        pending.state = KeyState.ACTIVE
        pending.save(update_fields=["state"])
        _key_state_change(pending, before=KeyState.PENDING, actor=actor)
    return pending


def sftp_key_discard_rotation(*, sftp_user: SftpUser, actor: User | None) -> SftpKey:
    """A pending key that will not be registered (made by mistake, or its registration failed)
    is retired, its private half erased; the active key goes on as before."""
    with transaction.atomic():
        pending = sftp_user.keys.select_for_update().filter(state=KeyState.PENDING).first()
        if pending is None:
            raise ValidationError(_("Der er ingen ny nøgle at kassere."), code="no_rotation")
        pending.retire()
        pending.save(update_fields=["state", "retired_at", "encrypted_private_key"])
        _key_state_change(pending, before=KeyState.PENDING, actor=actor)
    return pending


@dataclass
class ReencryptResult:
    reencrypted: int = 0
    # Retired keys whose private half is already erased: nothing to re-encrypt.
    erased: int = 0
    # Changed while this ran (a key retired, or rewritten by another run): skipped, run again.
    changed_meanwhile: int = 0
    # Keys no Fernet key in the list decrypts; when there are any, nothing is written.
    unreadable: list[int] = field(default_factory=list)


def sftp_keys_reencrypt(*, dry_run: bool = False) -> ReencryptResult:
    """Re-encrypt every stored private key with the newest of FLISPORTAL_KEY_ENCRYPTION_KEYS,
    so the older Fernet keys can be taken out of the list.

    Safe to run again: a token already made with the newest key is simply made again. Writes
    nothing when some token cannot be decrypted with any key in the list (`unreadable`): the
    operator must put back the Fernet key those were made with before any key is removed."""
    result = ReencryptResult()
    rows = [
        (pk, bytes(token))
        for pk, token in SftpKey.objects.values_list("pk", "encrypted_private_key")
    ]
    # Every token is checked before any is written, so a refused run says up front which keys
    # would be lost and leaves the table as it was.
    result.unreadable = [
        pk for pk, token in rows if token and not private_key_token_readable(token)
    ]
    if result.unreadable:
        return result
    for pk, token in rows:
        if not token:
            result.erased += 1
        elif dry_run:
            result.reencrypted += 1
        # Conditional on the token read above: a key retired (erased) or replaced meanwhile is
        # left as it now is rather than overwritten with a stale token.
        elif SftpKey.objects.filter(pk=pk, encrypted_private_key=token).update(
            encrypted_private_key=reencrypt_private_key(token)
        ):
            result.reencrypted += 1
        else:
            result.changed_meanwhile += 1
    return result
