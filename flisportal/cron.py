"""Periodic jobs for RQ's cron scheduler (`manage.py rqcron flisportal.cron`).

Each feature registers its own job here, with an interval from the settings.
"""

from rq import cron

from flisportal import jobs, queues

# Nightly, when nobody is uploading.
cron.register(jobs.clear_expired_sessions, queues.DEFAULT, cron="15 3 * * *")
