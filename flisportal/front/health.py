"""What the Driftsstatus page (`/drift/`) and the load balancer's `/healthz` read: is the
database there, does Redis answer, are the queues served, did the periodic jobs run, is work
stuck, can the portal reach its endpoints safely.

Each reader returns plain values with a state (OK / advarsel / fejl) and a Danish sentence that
says what is wrong and what to do. Database reads are a fixed handful of aggregate queries,
whatever the amount of data; Redis is read through django-rq's connection, and a Redis that does
not answer is a state on the page, not an error page.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import django_rq
import redis
from django.conf import settings
from django.db import DatabaseError, connection
from django.db.models import Count, Exists, OuterRef, Q, Subquery
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from rq import Queue, Worker, cron_job_registry
from rq.cron import CronJob, CronScheduler, get_cron_job_history_key
from rq.job import Job, JobStatus

from deliveries.lifecycle.states import MAY_STALL, DeliveryStatus, quiet_since
from deliveries.models import Delivery, Receipt, ReceiptVerdict
from flisportal import cron
from flisportal.audit.models import AuditCheckpoint, AuditHeadExport
from flisportal.lib import queues
from flisportal.notifications.models import MailStatus, OutgoingMail
from routes.models import Endpoint

logger = logging.getLogger(__name__)

OK = "ok"
WARNING = "warning"
ERROR = "error"
_SEVERITY = {OK: 0, WARNING: 1, ERROR: 2}

QUEUE_NAMES = (queues.DEFAULT, queues.VALIDATION, queues.SFTP)
# An interval job counts as overdue when it has not been put on its queue for this many of its
# intervals (one late tick is a busy scheduler, three is a stopped one).
OVERDUE_INTERVALS = 3
# A job on a cron schedule counts as overdue this long after the time it should have run.
CRON_GRACE = timedelta(minutes=10)


def _value(enum_or_text: Any) -> str:
    """RQ's JobStatus / WorkerStatus as their plain value ("failed", "busy")."""
    return str(getattr(enum_or_text, "value", enum_or_text))


def worst(*states: str) -> str:
    return max(states, key=_SEVERITY.__getitem__, default=OK)


# --- database and Redis ---------------------------------------------------------------------


def database_engine() -> str:
    return {"sqlite": "SQLite", "postgresql": "PostgreSQL"}.get(
        connection.vendor, connection.vendor
    )


def database_answers() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError:
        logger.warning("health check: the database did not answer", exc_info=True)
        return False
    return True


def redis_connection() -> redis.Redis:
    """django-rq's connection of the default queue (every queue shares REDIS_URL)."""
    return django_rq.get_connection(queues.DEFAULT)


# How long a health check waits for Redis: a Redis that accepts and never answers must make
# the check fail fast, not hang the web worker (and the load balancer's probe) with it.
REDIS_PROBE_TIMEOUT_SECONDS = 2


def redis_answers() -> bool:
    # A connection of its own, with short timeouts, closed at once: a load balancer asks every
    # few seconds.
    pool = redis_connection().connection_pool
    conn = redis.Redis(
        connection_pool=redis.ConnectionPool(
            connection_class=pool.connection_class,
            **{
                **pool.connection_kwargs,
                "socket_timeout": REDIS_PROBE_TIMEOUT_SECONDS,
                "socket_connect_timeout": REDIS_PROBE_TIMEOUT_SECONDS,
            },
        )
    )
    try:
        return bool(conn.ping())
    except redis.RedisError:
        logger.warning("health check: Redis did not answer", exc_info=True)
        return False
    finally:
        conn.close()


# --- queues and workers ---------------------------------------------------------------------


# RQ's worker states in the page's language: Driftsstatus showed RQ's own English words
# ("busy", "idle") in a Danish table. An unknown state (a newer RQ) is shown as RQ names it.
WORKER_STATE_LABELS = {
    "started": gettext_lazy("starter"),
    "idle": gettext_lazy("ledig"),
    "busy": gettext_lazy("arbejder"),
    "suspended": gettext_lazy("sat på pause"),
}


@dataclass
class WorkerState:
    name: str
    state: str
    last_heartbeat: datetime | None

    @property
    def label(self) -> str:
        return str(WORKER_STATE_LABELS.get(self.state, self.state))


@dataclass
class QueueState:
    name: str
    queued: int
    started: int
    failed: int
    workers: list[WorkerState]
    failed_url: str
    jobs_url: str
    state: str = OK
    message: str = ""


def queue_states(conn: redis.Redis) -> list[QueueState]:
    """Per queue: jobs waiting, running and failed (RQ's registries, read without their
    clean-up, which writes) and the workers listening, with their last heartbeat."""
    index = django_rq.settings.get_queues_map()
    found = []
    for name in QUEUE_NAMES:
        queue = Queue(name, connection=conn)
        workers = [
            WorkerState(
                name=worker.name,
                state=_value(worker.get_state()),
                last_heartbeat=worker.last_heartbeat,
            )
            for worker in Worker.all(connection=conn, queue=queue)
        ]
        item = QueueState(
            name=name,
            queued=queue.count,
            started=queue.started_job_registry.get_job_count(cleanup=False),
            failed=queue.failed_job_registry.get_job_count(cleanup=False),
            workers=workers,
            failed_url=reverse("django_rq:failed_jobs", args=[index[name]]),
            jobs_url=reverse("django_rq:jobs", args=[index[name]]),
        )
        if item.failed:
            item.state = ERROR
            item.message = _(
                "Job på køen er fejlet. Se fejlen under de fejlede job, ret årsagen, og sæt "
                "dem i kø igen eller slet dem."
            )
        elif not workers and item.queued:
            item.state = WARNING
            item.message = _(
                "Der venter job, men ingen worker lytter på køen. Start en worker "
                "(manage.py rqworker default validation sftp --with-scheduler)."
            )
        elif not workers:
            item.state = WARNING
            item.message = _(
                "Ingen worker lytter på køen: nye job venter, til en startes "
                "(manage.py rqworker default validation sftp --with-scheduler)."
            )
        else:
            item.message = _("Køen bliver betjent.")
        found.append(item)
    return found


# --- periodic jobs --------------------------------------------------------------------------


@dataclass
class PeriodicJobState:
    name: str
    # RQ's name for the job (the function's dotted path): what "Kør nu" posts.
    key: str
    label: str
    queue: str
    schedule: str
    last_enqueued: datetime | None
    due: datetime | None
    last_status: str
    last_ended: datetime | None
    state: str = OK
    message: str = ""


@dataclass
class PeriodicJobs:
    schedulers: list[tuple[str, datetime | None]]
    jobs: list[PeriodicJobState]
    state: str = OK
    message: str = ""


def _schedule_text(job: CronJob) -> str:
    if job.cron:
        return _("cron: %(cron)s") % {"cron": job.cron}
    return _("hvert %(seconds)s. sekund") % {"seconds": job.interval}


def periodic_jobs(conn: redis.Redis, *, now: datetime) -> PeriodicJobs:
    """The jobs of flisportal/cron.py as RQ's cron scheduler has recorded them: RQ keeps, for a
    year, when it last put each job on its queue (`rq:cron_jobs`) and the ids of the jobs it
    made (`rq:cron_job:<name>:jobs`); the newest of these tells how the last run ended while
    RQ still keeps it (a finished job for `result_ttl`, a failed one for a year)."""
    cron_jobs = _cron_jobs()
    schedulers = [
        (scheduler.name, scheduler.last_heartbeat)
        for scheduler in CronScheduler.all(conn, cleanup=False)
    ]
    # When the scheduler last put each job on its queue (a sorted set: name → timestamp).
    scores = cast(
        list[tuple[bytes, float]],
        conn.zrange(cron_job_registry.get_registry_key(), 0, -1, withscores=True),
    )
    enqueued = {name.decode(): score for name, score in scores}
    runs = _newest_runs(conn, cron_jobs)
    found = [
        _periodic_job_state(job, enqueued.get(job.name), run, now=now)
        for job, run in zip(cron_jobs, runs, strict=True)
    ]
    return _periodic_summary(schedulers, found)


def _cron_jobs() -> list[CronJob]:
    return [
        CronJob(
            queue_name=data["queue_name"],
            func=data["func"],
            interval=data["interval"],
            cron=data["cron"],
            name=data["name"],
        )
        # Read through the module, not imported by name: a cron scheduler in this process
        # reloads flisportal.cron, which makes a new JOBS list.
        for data in cron.JOBS
    ]


def _newest_runs(conn: redis.Redis, cron_jobs: list[CronJob]) -> list[Job | None]:
    """Per cron job, the newest job RQ made of it, if RQ still keeps it (two round trips)."""
    with conn.pipeline() as pipeline:
        for job in cron_jobs:
            pipeline.zrange(get_cron_job_history_key(job.name), 0, 0, desc=True)
        newest = [ids[0].decode() if ids else None for ids in pipeline.execute()]
    fetched = Job.fetch_many([i for i in newest if i], connection=conn)
    runs = {job.id: job for job in fetched if job is not None}
    return [runs.get(newest_id or "") for newest_id in newest]


def _periodic_job_state(
    job: CronJob, score: float | None, run: Job | None, *, now: datetime
) -> PeriodicJobState:
    """One job's row: when it was last put on its queue, when it is due, how its last run
    ended, and whether that needs attention."""
    last = datetime.fromtimestamp(score, tz=UTC) if score else None
    item = PeriodicJobState(
        name=job.name.rsplit(".", 1)[-1],
        key=job.name,
        label=cron.label_of(job.name),
        queue=job.queue_name,
        schedule=_schedule_text(job),
        last_enqueued=last,
        # For a cron schedule RQ computes the next time from now until the job has run.
        due=job.next_enqueue_time if job.cron else None,
        last_status=_value(run.get_status(refresh=False)) if run else "",
        last_ended=run.ended_at if run else None,
    )
    overdue = False
    if last is not None:
        job.latest_enqueue_time = last
        item.due = job.get_next_enqueue_time()  # RQ's own rule, in the server's time zone
        if job.interval:
            overdue = now > last + timedelta(seconds=OVERDUE_INTERVALS * job.interval)
        else:
            overdue = now > item.due + CRON_GRACE
    item.state, item.message = _periodic_job_verdict(item, job, overdue=overdue)
    return item


def _periodic_job_verdict(
    item: PeriodicJobState, job: CronJob, *, overdue: bool
) -> tuple[str, str]:
    """The state and the sentence for one job's row, the most urgent reason first."""
    if item.last_status == JobStatus.FAILED:
        return ERROR, _(
            "Seneste kørsel fejlede. Se fejlen under køens fejlede job, og ret årsagen."
        )
    if item.last_enqueued is None and job.interval:
        return WARNING, _(
            "Aldrig sat i kø. Et job med fast interval køres, så snart cron-scheduleren "
            "starter: kører manage.py rqcron flisportal.cron?"
        )
    if item.last_enqueued is None:
        return OK, _("Ikke kørt endnu; første gang efter planen.")
    if overdue:
        return WARNING, _(
            "Forsinket: jobbet skulle være sat i kø for længe siden. Kører cron-scheduleren "
            "(manage.py rqcron flisportal.cron)?"
        )
    if item.last_status in (JobStatus.QUEUED, JobStatus.SCHEDULED, JobStatus.DEFERRED):
        return OK, _("Sat i kø, venter på en worker.")
    return OK, _("Kører efter planen.")


def _periodic_summary(
    schedulers: list[tuple[str, datetime | None]], found: list[PeriodicJobState]
) -> PeriodicJobs:
    result = PeriodicJobs(schedulers=schedulers, jobs=found)
    result.state = worst(*(item.state for item in found))
    if not schedulers:
        result.state = ERROR
        result.message = _(
            "Ingen cron-scheduler kører: periodiske job (kvitteringer, hentning, genoptagelse af "
            "fastlåst arbejde, mails) bliver ikke sat i kø. Start manage.py rqcron "
            "flisportal.cron."
        )
    elif result.state == OK:
        result.message = _("Cron-scheduleren kører, og de periodiske job kører efter planen.")
    else:
        result.message = _("Et eller flere periodiske job kræver opmærksomhed; se tabellen.")
    return result


# --- stuck deliveries -----------------------------------------------------------------------


@dataclass
class StuckCount:
    status: str
    label: str
    count: int
    threshold: str
    url: str


@dataclass
class StuckDeliveries:
    rows: list[StuckCount]
    state: str = OK
    message: str = ""


def stuck_deliveries(*, now: datetime) -> StuckDeliveries:
    """Deliveries in a working state past the limits the reconciler and the notifications use,
    counted in one query over the `delivery_status_since` index."""
    S = DeliveryStatus
    stuck_since = now - timedelta(minutes=settings.RECONCILE_STUCK_MINUTES)
    quiet = quiet_since(stuck_since)
    receipt_since = now - timedelta(minutes=settings.RECEIPT_OVERDUE_MINUTES)
    fetch_since = now - timedelta(hours=settings.NOTIFY_NOT_FETCHED_HOURS)
    counts = Delivery.objects.filter(status__in=MAY_STALL).aggregate(
        validating=Count("pk", filter=quiet & Q(status=S.VALIDATING)),
        pushing=Count("pk", filter=quiet & Q(status=S.PUSHING)),
        sent=Count("pk", filter=Q(status=S.SENT, sent_at__lt=receipt_since)),
        distributed=Count("pk", filter=Q(status=S.DISTRIBUTED, status_changed_at__lt=fetch_since)),
    )
    stuck_minutes = _("uden livstegn i %(minutes)s min.") % {
        "minutes": settings.RECONCILE_STUCK_MINUTES
    }
    list_url = reverse("deliveries:list")
    rows = [
        StuckCount(S.VALIDATING, _("Valideres"), counts["validating"], stuck_minutes, ""),
        StuckCount(S.PUSHING, _("Sendes"), counts["pushing"], stuck_minutes, ""),
        StuckCount(
            S.SENT,
            _("Sendt, uden kvittering"),
            counts["sent"],
            _("sendt for over %(minutes)s min. siden")
            % {"minutes": settings.RECEIPT_OVERDUE_MINUTES},
            "",
        ),
        StuckCount(
            S.DISTRIBUTED,
            _("Distribueret, ikke hentet"),
            counts["distributed"],
            _("distribueret for over %(hours)s timer siden")
            % {"hours": settings.NOTIFY_NOT_FETCHED_HOURS},
            "",
        ),
    ]
    for row in rows:
        row.url = f"{list_url}?status={row.status}"
    result = StuckDeliveries(rows=rows)
    working = counts["validating"] + counts["pushing"]
    if working:
        result.state = ERROR
        result.message = _(
            "Leverancer er gået i stå under validering eller afsendelse. Reconcileren sætter dem "
            "i gang igen; sker det ikke, så tjek at cron-scheduleren og en worker kører."
        )
    elif counts["sent"] or counts["distributed"]:
        result.state = WARNING
        result.message = _(
            "Leverancer venter på Serviceplatformens kvittering eller på at modtageren henter "
            "dem. Tjek Serviceplatformen (kvitteringer) og modtagernes hentning."
        )
    else:
        result.message = _("Ingen leverancer sidder fast.")
    return result


# --- endpoints ------------------------------------------------------------------------------


@dataclass
class EndpointState:
    name: str
    slug: str
    host: str
    port: int
    is_standin: bool
    pinned: bool
    last_sent: datetime | None
    last_fetched: datetime | None
    state: str = OK
    message: str = ""


def endpoint_states() -> list[EndpointState]:
    """Every endpoint in one query: its pinned host key (by the rule of system check
    flisportal.E010), its newest push and its recipients' newest fetch."""
    endpoints = Endpoint.objects.annotate(
        unpinned_in_use=Exists(Endpoint.objects.unpinned_in_use().filter(pk=OuterRef("pk"))),
        last_sent=Subquery(
            Delivery.objects.filter(endpoint=OuterRef("pk"), sent_at__isnull=False)
            .order_by("-sent_at")
            .values("sent_at")[:1]
        ),
        last_fetched=Subquery(
            Receipt.objects.filter(recipient_sftp_user__endpoint=OuterRef("pk"))
            .order_by("-fetched_at")
            .values("fetched_at")[:1]
        ),
    ).order_by("slug")
    found = []
    for endpoint in endpoints:
        item = EndpointState(
            name=endpoint.name,
            slug=endpoint.slug,
            host=endpoint.host,
            port=endpoint.port,
            is_standin=endpoint.is_standin,
            pinned=bool(endpoint.host_key.strip()),
            last_sent=endpoint.last_sent,  # type: ignore[attr-defined]
            last_fetched=endpoint.last_fetched,  # type: ignore[attr-defined]
        )
        if endpoint.unpinned_in_use:  # type: ignore[attr-defined]
            item.state = ERROR
            item.message = _(
                "Etablerede ruter bruger endpointet, men det har ingen fastlåst værtsnøgle: "
                "portalen nægter at forbinde. Indsæt serverens known_hosts-linje eller "
                "SHA256-fingeraftryk under endpointet i administrationen."
            )
        elif item.pinned:
            item.message = _("Værtsnøglen er fastlåst.")
        elif endpoint.is_standin:
            item.message = _("Lokal stand-in: den registrerer sin egen nøgle, når den starter.")
        else:
            item.message = _(
                "Ingen fastlåst værtsnøgle, men ingen etablerede ruter bruger endpointet endnu. "
                "Indsæt nøglen før den første rute etableres."
            )
        found.append(item)
    return found


# --- quarantined fetches --------------------------------------------------------------------

# How far back Driftsstatus looks for fetched files put in quarantine.
QUARANTINE_DAYS = 7


@dataclass
class QuarantineCount:
    verdict: str
    label: str
    count: int
    url: str


@dataclass
class QuarantineState:
    since: datetime
    counts: list[QuarantineCount]
    newest: list[Receipt]
    state: str = OK
    message: str = ""

    @property
    def total(self) -> int:
        return sum(c.count for c in self.counts)


def quarantine_state(*, now: datetime) -> QuarantineState:
    """Files the Hent side fetched but could not trust in the last QUARANTINE_DAYS (wrong size
    or checksum, unknown sender, unreadable metadata): kept and recorded, never passed on. Two
    queries, per verdict and the five newest."""
    since = now - timedelta(days=QUARANTINE_DAYS)
    recent = Receipt.objects.filter(fetched_at__gte=since).exclude(verdict=ReceiptVerdict.OK)
    per_verdict = dict(
        recent.order_by().values_list("verdict").annotate(n=Count("pk")).values_list("verdict", "n")
    )
    inbox = reverse("deliveries:inbox")
    counts = [
        QuarantineCount(verdict, str(label), per_verdict[verdict], f"{inbox}?verdict={verdict}")
        for verdict, label in ReceiptVerdict.choices
        if per_verdict.get(verdict)
    ]
    newest = list(recent.select_related("recipient_system").order_by("-fetched_at", "-pk")[:5])
    result = QuarantineState(since=since, counts=counts, newest=newest)
    if counts:
        result.state = WARNING
        result.message = _(
            "Hentede filer, der ikke kunne stoles på, er sat i karantæne: de er gemt og "
            "registreret, men ikke givet videre. Åbn kvitteringen for at se hvorfor, og kontakt "
            "afsenderen (står på kvitteringen); en runde stopper aldrig for en enkelt dårlig fil."
        )
    else:
        result.message = _("Ingen hentede filer er sat i karantæne de seneste %(days)s dage.") % {
            "days": QUARANTINE_DAYS
        }
    return result


# --- mails and the audit log ----------------------------------------------------------------


@dataclass
class MailState:
    waiting: int
    failed: int
    state: str = OK
    message: str = ""


def mail_state() -> MailState:
    counts = OutgoingMail.objects.aggregate(
        waiting=Count("pk", filter=Q(status__in=(MailStatus.PENDING, MailStatus.SENDING))),
        failed=Count("pk", filter=Q(status=MailStatus.FAILED)),
    )
    result = MailState(waiting=counts["waiting"], failed=counts["failed"])
    if result.failed:
        result.state = ERROR
        result.message = _(
            "Mails er opgivet efter alle forsøg. Se den seneste fejl under udgående mails i "
            "administrationen, og tjek mailserveren (EMAIL_HOST)."
        )
    elif result.waiting:
        result.message = _(
            "Mails venter på at blive sendt; de sendes af en worker på default-køen."
        )
    else:
        result.message = _("Ingen mails venter, og ingen er opgivet.")
    return result


@dataclass
class AuditState:
    checkpoint: AuditCheckpoint | None
    broken_at: datetime | None
    head_export: AuditHeadExport | None = None
    state: str = OK
    message: str = ""


# The head is exported daily: two days without one means the job or its file has stopped.
HEAD_EXPORT_STALE = timedelta(days=2)


def audit_state(*, now: datetime | None = None) -> AuditState:
    """The audit chain as the nightly verification left it: the newest checkpoint (the head it
    found intact, written when the chain had grown), a later break, which that verification
    mails to administrators, and when the chain's head was last exported out of the database."""
    now = now or timezone.now()
    checkpoint = AuditCheckpoint.objects.order_by("-seq").first()
    broken = OutgoingMail.objects.filter(kind="audit_broken")
    if checkpoint is not None:
        broken = broken.filter(created_at__gt=checkpoint.verified_at)
    broken_at = broken.order_by("-created_at").values_list("created_at", flat=True).first()
    head_export = AuditHeadExport.objects.order_by("-exported_at").first()
    result = AuditState(checkpoint=checkpoint, broken_at=broken_at, head_export=head_export)
    if broken_at is not None:
        result.state = ERROR
        result.message = _(
            "Kontrollen fandt kæden brudt. Se mailen til administratorerne for hvilke poster, "
            "og kør manage.py audit_verify for hele listen."
        )
    elif checkpoint is None:
        result.state = WARNING
        result.message = _(
            "Ingen kontrol har fundet kæden intakt endnu. Den kontrolleres hver nat af et "
            "periodisk job."
        )
    elif head_export is None or head_export.exported_at < now - HEAD_EXPORT_STALE:
        # Without fresh exported heads, rows cut off the end (checkpoint and all) go unseen.
        result.state = WARNING
        result.message = _(
            "Kædens hoved er ikke eksporteret de seneste to døgn. Tjek at det periodiske job "
            "export_audit_head kører, og at FLISPORTAL_AUDIT_HEADS_FILE kan skrives."
        )
    else:
        result.message = _("Kæden var intakt ved seneste kontrol.")
    return result


# --- the page -------------------------------------------------------------------------------


@dataclass
class DriftStatus:
    now: datetime
    database_engine: str
    redis_ok: bool
    queues: list[QueueState] = field(default_factory=list)
    periodic: PeriodicJobs | None = None
    stuck: StuckDeliveries | None = None
    endpoints: list[EndpointState] = field(default_factory=list)
    quarantine: QuarantineState | None = None
    mail: MailState | None = None
    audit: AuditState | None = None

    @property
    def queues_state(self) -> str:
        return ERROR if not self.redis_ok else worst(*(q.state for q in self.queues))

    @property
    def endpoints_state(self) -> str:
        return worst(*(e.state for e in self.endpoints))

    @property
    def overall(self) -> str:
        parts: list[Any] = [self.queues_state, self.endpoints_state]
        parts += [
            s.state
            for s in (self.periodic, self.stuck, self.quarantine, self.mail, self.audit)
            if s
        ]
        return worst(*parts)


def drift_status(*, now: datetime | None = None) -> DriftStatus:
    now = now or timezone.now()
    status = DriftStatus(now=now, database_engine=database_engine(), redis_ok=False)
    conn = redis_connection()
    try:
        status.redis_ok = bool(conn.ping())
        status.queues = queue_states(conn)
        status.periodic = periodic_jobs(conn, now=now)
    except redis.RedisError:
        # Redis went away (or never answered): the page says so instead of failing.
        logger.warning("Driftsstatus: Redis did not answer", exc_info=True)
        status.redis_ok = False
        status.queues = []
        status.periodic = None
    finally:
        conn.close()
    status.stuck = stuck_deliveries(now=now)
    status.endpoints = endpoint_states()
    status.quarantine = quarantine_state(now=now)
    status.mail = mail_state()
    status.audit = audit_state(now=now)
    return status
