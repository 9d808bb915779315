"""The deliveries fixtures, for notices about deliveries."""

from tests.deliveries.conftest import make_delivery  # noqa: F401  (fixture)
