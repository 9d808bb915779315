"""The Hent side: what recipients (FLIS, a kommune's own LIS) fetch from the Serviceplatform,
and the inbox of receipts that shows it."""
