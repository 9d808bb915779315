"""The deliveries fixtures, for audit rows about deliveries."""

from tests.deliveries.conftest import make_delivery  # noqa: F401  (fixture)
