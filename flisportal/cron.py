"""Periodic jobs for RQ's cron scheduler (`manage.py rqcron flisportal.cron`).

Each feature registers its own job here, with an interval from the settings.
"""

from django.conf import settings
from rq import cron

from deliveries import jobs as delivery_jobs
from flisportal import jobs, queues

# Nightly, when nobody is uploading.
cron.register(jobs.clear_expired_sessions, queues.DEFAULT, cron="15 3 * * *")
# Hent side: fetch what the Serviceplatform has put in the recipients' IN/ folders.
cron.register(delivery_jobs.fetch_all_recipients, queues.SFTP, interval=settings.FETCH_POLL_SECONDS)
