"""The lifecycle's promises: what the transition table allows and what its named groups mean,
that the vocabulary has one home, and that only `deliveries.lifecycle` writes event rows.

The source checks read the code with `ast`, so they hold for code that no test happens to run.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

from deliveries.lifecycle import states
from deliveries.lifecycle.states import (
    AWAITING_FETCH,
    AWAITING_OTHERS,
    AWAITING_RECEIPT,
    DELIVERY_TRANSITIONS,
    FINAL,
    INITIAL,
    MAY_STALL,
    PROBLEM,
    PUSH_UNDER_WAY,
    REACHED_RECIPIENT,
    RECEIPT_SETTLED,
    TURNED_DOWN,
    WORKING,
    DeliveryStatus,
    can_transition,
)
from deliveries.lifecycle.transitions import delivery_event_record
from deliveries.models import Delivery
from tests.helpers.processes import ROOT

S = DeliveryStatus
ALL = set(S)
# The portal's own code; tests and benchmarks make fixture rows as they need.
APP_PACKAGES = ("deliveries", "flisportal", "routes")
LIFECYCLE = ROOT / "deliveries" / "lifecycle"


def moves_into(status: str) -> set[str]:
    return {old for old, nexts in DELIVERY_TRANSITIONS.items() if status in nexts}


def reachable_from(start: str) -> set[str]:
    seen, todo = {start}, [start]
    while todo:
        for new in DELIVERY_TRANSITIONS[todo.pop()]:
            if new not in seen:
                seen.add(new)
                todo.append(new)
    return seen


# --- the transition table -------------------------------------------------------------------


def test_every_lifecycle_state_is_known_to_the_transition_table():
    assert set(DELIVERY_TRANSITIONS) == set(DeliveryStatus.values)
    assert all(set(nexts) <= ALL for nexts in DELIVERY_TRANSITIONS.values())
    assert Delivery(status="rejected").can_move_to("pushing") is False
    assert Delivery(status="valid").can_move_to("pushing") is True


def test_final_states_are_exactly_those_without_a_way_out():
    assert {s for s, nexts in DELIVERY_TRANSITIONS.items() if not nexts} == set(FINAL)
    for final in FINAL:
        assert not any(can_transition(final, new) for new in ALL)
    # A turned-down extract is final; the only other end is the recipient's fetch.
    assert set(FINAL) == set(TURNED_DOWN) | {S.FETCHED}


def test_every_state_is_reached_from_the_upload_and_every_state_can_still_end():
    assert reachable_from(INITIAL) == ALL
    for status in ALL:
        assert reachable_from(status) & set(FINAL), status


def test_no_status_moves_to_itself():
    # An event with old == new is a step that changes no status (delivery_event_record), never
    # a transition.
    assert not any(can_transition(s, s) for s in ALL)
    assert not can_transition("", INITIAL) and not can_transition("unknown", S.RECEIVED)


def test_the_platforms_answer_and_the_fetch_come_only_from_the_states_waiting_for_them():
    assert moves_into(S.DISTRIBUTED) == moves_into(S.REFUSED) == set(AWAITING_RECEIPT)
    assert moves_into(S.FETCHED) == set(AWAITING_FETCH)
    # Once the recipient has it, it stays reached (an expected period stays met).
    for status in REACHED_RECIPIENT:
        assert set(DELIVERY_TRANSITIONS[status]) <= set(REACHED_RECIPIENT)


def test_named_groups_say_what_they_mean():
    groups = {
        name: value
        for name, value in vars(states).items()
        if name.isupper() and isinstance(value, tuple) and name != "DELIVERY_TRANSITIONS"
    }
    for name, group in groups.items():
        assert group and set(group) <= ALL and len(set(group)) == len(group), name
    # Each status is worked on here, awaited from others, waiting for a person, or final:
    # the delivery page polls, follows, or stands still accordingly.
    parts = [set(WORKING), set(AWAITING_OTHERS), {S.FAILED}, set(FINAL)]
    assert set().union(*parts) == ALL and sum(map(len, parts)) == len(ALL)
    assert set(PROBLEM) == set(TURNED_DOWN) | {S.FAILED}
    assert not set(PROBLEM) & set(REACHED_RECIPIENT)
    assert set(REACHED_RECIPIENT) <= set(RECEIPT_SETTLED) <= set(FINAL) | {S.DISTRIBUTED}
    assert not set(PUSH_UNDER_WAY) & (set(AWAITING_RECEIPT) | set(RECEIPT_SETTLED))
    assert not set(MAY_STALL) & set(FINAL)


# --- one home for the vocabulary ----------------------------------------------------------


def _sources() -> Iterator[tuple[Path, ast.Module]]:
    for package in APP_PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            yield path, ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _status_member(node: ast.expr) -> bool:
    return (
        isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id in {"DeliveryStatus", "S"}
        and node.attr in S.names
    )


def _group_literal(node: ast.expr | None) -> bool:
    return (
        isinstance(node, ast.Tuple | ast.List | ast.Set)
        and len(node.elts) > 1
        and all(_status_member(e) for e in node.elts)
    )


def test_groups_of_states_are_named_in_the_lifecycle_only():
    # A literal group of statuses in a filter, a membership test or a module constant belongs
    # in deliveries.lifecycle.states under a name that says what it is.
    found = []
    for path, tree in _sources():
        if path == LIFECYCLE / "states.py":
            continue
        for node in ast.walk(tree):
            literals: list[ast.expr | None] = []
            if isinstance(node, ast.Compare):
                literals += [
                    c
                    for op, c in zip(node.ops, node.comparators, strict=True)
                    if isinstance(op, ast.In | ast.NotIn)
                ]
            elif isinstance(node, ast.keyword) and (node.arg or "").endswith("__in"):
                literals.append(node.value)
            elif isinstance(node, ast.Assign | ast.AnnAssign):
                literals.append(node.value)
            found += [
                f"{path.relative_to(ROOT)}:{lit.lineno}" for lit in literals if _group_literal(lit)
            ]
    assert found == []


def test_the_vocabulary_is_imported_from_its_home():
    moved = {"DeliveryStatus", "DELIVERY_TRANSITIONS", "can_transition", "quiet_since"}
    found = []
    for root in (*APP_PACKAGES, "tests", "benchmarks"):
        for path in sorted((ROOT / root).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                if isinstance(node, ast.ImportFrom) and node.module == "deliveries.models":
                    found += [
                        f"{path.relative_to(ROOT)}:{node.lineno} {a.name}"
                        for a in node.names
                        if a.name in moved
                    ]
    assert found == [], "import these from deliveries.lifecycle.states"


# --- the one writer of events -----------------------------------------------------------------


@pytest.mark.django_db
def test_the_event_writer_refuses_what_the_table_does_not_allow(
    make_delivery, upload_route, vendor_a_user
):
    delivery = make_delivery(upload_route, vendor_a_user, "x")
    now = delivery.uploaded_at
    with pytest.raises(ValueError):
        delivery_event_record(delivery=delivery, old="", new=S.SENT, at=now)
    with pytest.raises(ValueError):
        delivery_event_record(delivery=delivery, old=S.RECEIVED, new=S.SENT, at=now)
    assert delivery.events.count() == 1


def _names_of_the_event_model(tree: ast.Module) -> set[str]:
    names = {"DeliveryEvent"}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            names |= {a.asname for a in node.names if a.name == "DeliveryEvent" and a.asname}
    return names


def _is_event_model(node: ast.expr, names: set[str]) -> bool:
    # DeliveryEvent, an alias of it, or models.DeliveryEvent.
    if isinstance(node, ast.Name):
        return node.id in names
    return isinstance(node, ast.Attribute) and node.attr == "DeliveryEvent"


def event_writes(tree: ast.Module) -> list[int]:
    """Lines that create DeliveryEvent rows: `DeliveryEvent(...)`, `DeliveryEvent.objects.
    create/bulk_create/get_or_create/update_or_create(...)` and the same through a delivery's
    `events` manager."""
    names = _names_of_the_event_model(tree)
    writers = {"create", "bulk_create", "get_or_create", "update_or_create"}
    lines = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if _is_event_model(func, names):
            lines.append(node.lineno)
        elif isinstance(func, ast.Attribute) and func.attr in writers:
            manager = func.value
            if isinstance(manager, ast.Attribute) and (
                (manager.attr == "objects" and _is_event_model(manager.value, names))
                or manager.attr == "events"
            ):
                lines.append(node.lineno)
    return lines


def test_only_the_lifecycle_writes_delivery_events():
    found = [
        f"{path.relative_to(ROOT)}:{line}"
        for path, tree in _sources()
        if LIFECYCLE not in path.parents
        for line in event_writes(tree)
    ]
    assert found == [], "write events through deliveries.lifecycle.transitions"


@pytest.mark.parametrize(
    "source",
    [
        "DeliveryEvent.objects.create(delivery=d, new_status='sent')",
        "from deliveries.models import DeliveryEvent as E\nE.objects.bulk_create(rows)",
        "rows = [models.DeliveryEvent(delivery=d) for d in ds]",
        "delivery.events.create(new_status='sent')",
    ],
)
def test_the_event_write_check_sees_each_way_of_writing_one(source):
    assert event_writes(ast.parse(source))
    assert not event_writes(ast.parse("DeliveryEvent.objects.filter(delivery=d).count()"))
