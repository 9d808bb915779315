import pytest
from django.core.management import call_command

from routes.models import ITSystem, Role, User, Vendor

pytestmark = pytest.mark.django_db


def test_demodata_creates_every_role_once():
    call_command("demodata")
    call_command("demodata")
    assert Vendor.objects.count() == 2
    assert ITSystem.objects.filter(is_recipient=True, name="FLIS").count() == 1
    roles = {u.username: u.role for u in User.objects.all()}
    assert roles == {
        "admin": Role.ADMINISTRATOR,
        "nordlys": Role.VENDOR,
        "fjordsoft": Role.VENDOR,
        "kbh": Role.CONSULTANT,
        "aarhus": Role.CONSULTANT,
    }
    assert User.objects.get(username="nordlys").check_password("Demo-Nordlys-2026")
