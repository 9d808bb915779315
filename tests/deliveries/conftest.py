from tests.deliveries.standin import standin, world  # noqa: F401  (fixtures)
