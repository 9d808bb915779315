import pytest
from django.core.exceptions import ValidationError

from routes.models import DataArea, Kommune
from routes.validators import normalize_kommune_code, validate_cvr

pytestmark = pytest.mark.django_db


def test_all_98_kommuner_are_loaded_with_unique_codes_and_cvrs():
    kommuner = list(Kommune.objects.all())
    assert len(kommuner) == 98
    assert len({k.code for k in kommuner}) == 98
    assert len({k.cvr for k in kommuner}) == 98
    for kommune in kommuner:
        validate_cvr(kommune.cvr)  # every CVR passes CVR's own check digit
        assert len(kommune.code) == 3
    assert Kommune.objects.get(code="101").name == "Københavns Kommune"
    assert Kommune.objects.get(code="101").authority == "urn:oio:cvr-nr:64942212"


def test_every_kommune_has_one_of_the_five_regions():
    regions = set(Kommune.objects.values_list("region", flat=True))
    assert regions == {
        "Region Hovedstaden",
        "Region Sjælland",
        "Region Syddanmark",
        "Region Midtjylland",
        "Region Nordjylland",
    }


def test_five_data_areas_with_services_and_infref_defaulting_to_send_service():
    areas = {a.code: a for a in DataArea.objects.all()}
    assert list(areas) == ["oekonomi", "personale", "skole", "dagtilbud", "voksne_handicappede"]
    vh = areas["voksne_handicappede"]
    assert vh.send_service == "FLISVoksneOgHandicappedeAflever_1"
    assert vh.fetch_service == "FLISVoksneOgHandicappedeHent_1"
    assert all(a.infref == a.send_service for a in areas.values())


@pytest.mark.parametrize("given", ["101", "0101", 101, " 101 "])
def test_kommune_code_with_or_without_leading_zero(given):
    assert normalize_kommune_code(given) == "101"


@pytest.mark.parametrize("given", ["1010", "10", "abc", "00101"])
def test_bad_kommune_codes_are_refused(given):
    with pytest.raises(ValidationError):
        normalize_kommune_code(given)


@pytest.mark.parametrize("given", ["1234567", "123456789", "6494221a", "64942213"])
def test_bad_cvr_numbers_are_refused(given):
    with pytest.raises(ValidationError):
        validate_cvr(given)
