"""The front pages read the registry and deliveries, so their tests use the fixtures of both."""

from tests.deliveries.conftest import make_delivery  # noqa: F401  (fixture)
from tests.routes.conftest import (  # noqa: F401  (fixtures)
    exttest,
    lokal,
    make_route,
    personale,
    produktion,
    sftp_user_a,
    skole,
)
