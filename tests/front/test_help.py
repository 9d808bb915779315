"""Hjælp (/hjaelp/): one page for every logged-in user that explains every delivery status,
receipt verdict, route status, expected state, validation rule and platform error group, with
the monthly cycle's numbers read from the data areas and settings; and the «?» links beside
badges and codes that lead to its entries."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.conf import settings
from django.template import Context, Template
from django.template.loader import render_to_string
from django.urls import reverse

from deliveries import validation
from deliveries.datacontracts import CROSS_RULES
from deliveries.lifecycle.states import DeliveryStatus
from deliveries.models import ExpectedState, ReceiptVerdict
from deliveries.rules import rule_codes
from routes.models import DataArea, RouteStatus, User

pytestmark = pytest.mark.django_db

HELP = "/hjaelp/"


def help_html(client, user: User) -> str:
    client.force_login(user)
    page = client.get(reverse("front:help"))
    assert page.status_code == 200
    return page.content.decode()


def ids(html: str) -> list[str]:
    return re.findall(r'\bid="([^"]+)"', html)


@pytest.fixture
def no_role_user(db) -> User:
    return User.objects.create_user("ingen", password="pw-ingen-1234")


@pytest.mark.parametrize("who", ["admin_user", "vendor_a_user", "consultant_user", "no_role_user"])
def test_every_logged_in_user_gets_the_page_and_its_menu_entry(client, request, who):
    html = help_html(client, request.getfixturevalue(who))
    assert "<h1" in html and "Hjælp</h1>" in html
    # The menu leads here from every page, for every role.
    assert f'href="{HELP}">Hjælp</a>' in html


def test_anonymous_users_are_sent_to_log_in(client):
    page = client.get(reverse("front:help"))
    assert page.status_code == 302
    assert page["Location"].startswith(reverse("login"))


def test_delivery_statuses_are_all_explained_in_the_lifecycles_order(client, admin_user):
    html = help_html(client, admin_user)
    found = [i for i in ids(html) if i.startswith("status-")]
    assert found == [
        "status-modtaget",
        "status-valideres",
        "status-godkendt",
        "status-afvist",
        "status-sendes",
        "status-sendt",
        "status-distribueret",
        "status-afvist-af-serviceplatformen",
        "status-hentet",
        "status-fejlet",
    ]
    assert len(found) == len(DeliveryStatus.choices)
    # Who acts next is said for each: the vendor for a rejected file.
    row = html[html.index('id="status-afvist"') :].split("</tr>")[0]
    assert "Upload rettet fil" in row and "Leverandøren" in row


def test_verdicts_route_statuses_and_expected_states_are_all_explained(client, admin_user):
    found = ids(help_html(client, admin_user))
    for prefix, choices in (
        ("kvittering-", ReceiptVerdict),
        ("rute-", RouteStatus),
        ("forventet-", ExpectedState),
    ):
        assert len([i for i in found if i.startswith(prefix)]) == len(choices.choices), prefix
    # The route's "afvist" does not clash with the delivery's.
    assert "rute-afvist" in found and "status-afvist" in found
    assert "forventet-frist-naermer-sig" in found
    assert len(found) == len(set(found))


def validator_rule_codes() -> set[str]:
    """Every rule code the validator can report: its file rules, the rules between columns,
    the literal codes it gives `Check(…)` and `_issue(…)`, and the column codes of every
    shipped contract and of one column with every constraint."""
    codes = set(validation.FILE_RULES) | set(CROSS_RULES)
    tree = ast.parse(Path(validation.__file__).read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            at = {"Check": 1, "_issue": 3}.get(node.func.id)
            if at is not None and len(node.args) > at:
                arg = node.args[at]
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                    codes.add(arg.value)
    for path in (Path(settings.BASE_DIR) / "deliveries" / "contracts").glob("*.json"):
        contract = json.loads(path.read_text())
        for spec in contract["schema"]["fields"]:
            codes.update(rule_codes(contract, spec["name"]))
    every = {
        "required": True,
        "pattern": "x",
        "enum": ["a"],
        "minLength": 1,
        "maxLength": 2,
        "minimum": 1,
        "maximum": 2,
    }
    contract = {
        "schema": {"fields": [{"name": "d", "type": "date", "constraints": every}]},
        "portal": {"cpr_fields": ["d"], "kommune_field": "d", "period_field": "d"},
    }
    codes.update(rule_codes(contract, "d"))
    return codes


def test_every_rule_code_the_validator_knows_is_on_the_page(client, vendor_a_user):
    html = help_html(client, vendor_a_user)
    codes = validator_rule_codes()
    assert {"primaryKey", "date", "periode", "header", "sum_lte"} <= codes
    missing = sorted(code for code in codes if f'id="regel-{code}"' not in html)
    assert missing == []


def test_platform_error_groups_are_explained(client, consultant_user):
    found = ids(help_html(client, consultant_user))
    for group in ("1xx", "2xx", "3xx", "4xx", "5xx", "9xx"):
        assert f"platform-{group}" in found


def test_the_monthly_cycle_reads_its_numbers_from_data_areas_and_settings(
    client, admin_user, settings
):
    settings.EXPECTED_DUE_SOON_DAYS = 5
    settings.NOTIFY_NOT_FETCHED_HOURS = 36
    DataArea.objects.filter(code="skole").update(due_day=17, grace_days=4)
    html = help_html(client, admin_user)
    skole = DataArea.objects.get(code="skole").name
    assert re.search(rf"<td>{skole}</td><td[^>]*>17\.</td><td[^>]*>4</td>", html)
    assert "5 dage før fristen" in html
    assert "efter 36 timer" in html
    assert "inden for de næste 5 dage" in html


def test_query_count_is_fixed_however_many_data_areas(
    client, admin_user, django_assert_num_queries
):
    client.force_login(admin_user)

    def count(expected: int) -> None:
        with django_assert_num_queries(expected):
            assert client.get(HELP).status_code == 200

    count(QUERIES)
    for n in range(5):
        DataArea.objects.create(
            code=f"ekstra{n}",
            name=f"Ekstra {n}",
            send_service="s",
            fetch_service="f",
            infref=f"urn:ekstra:{n}",
        )
    count(QUERIES)


# Session, user, the data areas.
QUERIES = 3


def link_targets(html: str) -> list[str]:
    return re.findall(rf'href="{HELP}#([^"]+)"', html)


def test_badges_and_codes_link_to_entries_that_exist(client, admin_user):
    page_ids = set(ids(help_html(client, admin_user)))
    rendered = []
    for value, label in DeliveryStatus.choices:
        delivery = SimpleNamespace(status=value, status_label=label, status_badge="danger")
        rendered.append(render_to_string("deliveries/_status.html", {"delivery": delivery}))
    for value, label in ReceiptVerdict.choices:
        receipt = SimpleNamespace(verdict=value, verdict_label=label, verdict_badge="success")
        rendered.append(render_to_string("deliveries/_verdict.html", {"receipt": receipt}))
    for value, label in RouteStatus.choices:
        rendered.append(render_to_string("routes/_status.html", {"status": value, "label": label}))
    tag = Template("{% load helplinks %}{% help_link kind value %}")
    for value, _label in ExpectedState.choices:
        rendered.append(tag.render(Context({"kind": "forventet", "value": value})))
    for code in sorted(validator_rule_codes()):
        rendered.append(tag.render(Context({"kind": "regel", "value": code})))
    for code in (101, 203, 301, 402, 501, 901):
        rendered.append(tag.render(Context({"kind": "platform", "value": code})))
    targets = [t for html in rendered for t in link_targets(html)]
    assert len(targets) == len(rendered)
    assert sorted(set(targets) - page_ids) == []


def test_a_help_link_names_the_word_it_explains():
    html = render_to_string(
        "deliveries/_status.html",
        {"delivery": SimpleNamespace(status="refused", status_label="x", status_badge="danger")},
    )
    assert f'href="{HELP}#status-afvist-af-serviceplatformen"' in html
    assert 'aria-label="Hjælp: hvad betyder «afvist af Serviceplatformen»?"' in html
    # The value it explains, for Samlet upload's progress script (batch_status.js), which
    # drops the link once the badge it sits beside shows another status.
    assert 'data-for="refused"' in html


def test_an_unknown_value_gets_no_link():
    tag = Template("{% load helplinks %}{% help_link 'status' 'forsvundet' %}")
    assert tag.render(Context()) == ""


def test_a_route_badge_inside_a_link_leaves_the_help_link_to_its_page():
    html = render_to_string(
        "routes/_status.html", {"status": "ordered", "label": "bestilt", "no_help": True}
    )
    assert "help-link" not in html
