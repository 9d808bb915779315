"""The hostile-input corpus borrows the deliveries fixtures: the real upload route, the real
stand-in and real worker processes, so each attack goes through the code a user would reach."""

from tests.deliveries.conftest import make_delivery  # noqa: F401  (fixtures)
from tests.deliveries.pushing import (  # noqa: F401  (fixtures)
    push_route,
    pushable,
    sender_key,
    uploader,
)
from tests.deliveries.standin import standin, world  # noqa: F401  (fixtures)
