"""/healthz: for a load balancer, without login. 200 when the database and Redis answer, 503
saying which does not — never a host name or an error text."""

from __future__ import annotations

import time

import pytest
from django.db import DatabaseError
from django.urls import reverse

from flisportal.front import health
from tests.helpers.workers import queues_at

pytestmark = pytest.mark.django_db


@pytest.mark.redis
def test_ok_without_login_session_or_cache(clean_redis, client):
    response = client.get(reverse("front:healthz"))
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert "no-store" in response["Cache-Control"]
    assert not response.cookies  # no session, no CSRF cookie
    # The security headers apply here as everywhere.
    assert "default-src 'self'" in response["Content-Security-Policy"]
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"


def test_503_when_redis_does_not_answer(redis_down, client):
    response = client.get(reverse("front:healthz"))
    assert response.status_code == 503
    assert response.json() == {"status": "fejl", "database": "ok", "redis": "fejl"}
    assert b"127.0.0.1" not in response.content
    assert "no-store" in response["Cache-Control"]


def test_503_in_seconds_when_redis_accepts_and_never_answers(silent_server, client):
    started = time.monotonic()
    with queues_at(f"redis://127.0.0.1:{silent_server}/0"):
        response = client.get(reverse("front:healthz"))
    waited = time.monotonic() - started
    assert response.status_code == 503
    assert response.json()["redis"] == "fejl"
    # Its own timeout, not the web server's: the probe does not hang the worker.
    assert waited < health.REDIS_PROBE_TIMEOUT_SECONDS * 3, waited


@pytest.mark.redis
def test_503_when_the_database_does_not_answer(clean_redis, client, monkeypatch):
    # A mock: the test database cannot be taken away from under the test itself.
    class Broken:
        def cursor(self):
            raise DatabaseError("could not connect to server at db.internal:5432")

    monkeypatch.setattr(health, "connection", Broken())
    response = client.get(reverse("front:healthz"))
    assert response.status_code == 503
    assert response.json() == {"status": "fejl", "database": "fejl", "redis": "ok"}
    assert b"db.internal" not in response.content


def test_get_only(client, redis_down):
    assert client.post(reverse("front:healthz")).status_code == 405
    assert client.head(reverse("front:healthz")).status_code == 405


@pytest.mark.redis
def test_not_redirected_to_https_or_login(clean_redis, client, settings):
    # Behind a load balancer the probe comes over plain HTTP to the backend.
    settings.SECURE_SSL_REDIRECT = True
    assert client.get(reverse("front:healthz")).status_code == 200
    assert client.get(reverse("front:start")).status_code == 301
