"""The cache: Redis shared by every web process (CACHE_URL), a miss when Redis does not answer,
and web processes that start warm (flisportal/lib/cache.py, flisportal/warmup.py)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured
from django.template import engines
from django.test import override_settings
from django.urls import reverse

from flisportal import checks
from flisportal.lib.env import cache_url_default, env_cache
from flisportal.warmup import portal_templates, warm_up
from tests.fixtures.api import ApiServer
from tests.helpers.api import ApiWorld, Client, start_gunicorn, token_for
from tests.helpers.browser import wait_for_http
from tests.helpers.net import free_port
from tests.helpers.processes import stop
from tests.helpers.workers import worker_env


def redis_cache(url: str) -> Any:
    return override_settings(CACHES={"default": env_cache("CACHE_URL", url, 2, environ={})})


# --- CACHE_URL ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("redis_url", "expected"),
    [
        ("redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/1"),
        ("redis://127.0.0.1:6379", "redis://127.0.0.1:6379/1"),
        ("rediss://user:pw@redis.example:6380/3", "rediss://user:pw@redis.example:6380/4"),
        ("redis://127.0.0.1:6379/15", "redis://127.0.0.1:6379/0"),
        ("unix:///run/redis.sock?db=2", "unix:///run/redis.sock?db=2"),
    ],
)
def test_the_cache_defaults_to_the_database_after_the_queues(redis_url, expected):
    assert cache_url_default(redis_url) == expected


def test_cache_url_chooses_redis_or_each_process_own_memory():
    shared = env_cache("CACHE_URL", "redis://127.0.0.1:6379/0", 2, environ={})
    assert shared["BACKEND"] == "flisportal.lib.cache.TolerantRedisCache"
    assert shared["LOCATION"].startswith("redis://127.0.0.1:6379/1?")
    assert "socket_timeout=2" in shared["LOCATION"]
    empty = env_cache("CACHE_URL", "redis://127.0.0.1:6379/0", 2, environ={"CACHE_URL": ""})
    assert empty == shared  # as .env.example leaves it
    local = env_cache("CACHE_URL", "redis://x/0", 2, environ={"CACHE_URL": "locmem://"})
    assert local["BACKEND"] == "django.core.cache.backends.locmem.LocMemCache"


def test_a_cache_url_that_is_no_cache_stops_the_start_with_its_name():
    with pytest.raises(ImproperlyConfigured, match="CACHE_URL='memcached://x'"):
        env_cache("CACHE_URL", "redis://x/0", 2, environ={"CACHE_URL": "memcached://x"})


def test_a_cache_in_the_queues_database_is_warned_about(settings):
    settings.REDIS_URL = "redis://127.0.0.1:6379/0"
    settings.CACHES = {"default": env_cache("CACHE_URL", settings.REDIS_URL, 2, environ={})}
    assert checks.check_cache_url() == []
    settings.CACHES = {
        "default": env_cache(
            "CACHE_URL", settings.REDIS_URL, 2, environ={"CACHE_URL": "redis://127.0.0.1/0"}
        )
    }
    assert [m.id for m in checks.check_cache_url()] == ["flisportal.W002"]
    settings.CACHES = {"default": env_cache("CACHE_URL", "", 2, environ={"CACHE_URL": "locmem://"})}
    assert checks.check_cache_url() == []


# --- Redis, for real ----------------------------------------------------------------------


@pytest.fixture
def shared_cache(redis_url: str, clean_redis: redis.Redis) -> Iterator[redis.Redis]:
    """The portal's cache in the session's Redis, as a deployment has it; the client reads
    the cache's own database."""
    with redis_cache(redis_url):
        yield redis.Redis.from_url(cache_url_default(redis_url))


@pytest.mark.redis
def test_the_coverage_table_is_kept_in_redis_for_every_process(shared_cache, admin_client):
    """Rule: a table one web process built is in Redis, where every other process reads it;
    the queues' database is left alone."""
    assert admin_client.get(reverse("front:coverage")).status_code == 200

    cached = [key.decode() for key in shared_cache.keys("*")]
    assert any(key.startswith("flisportal:1:coverage:v2:") for key in cached), cached
    options = shared_cache.connection_pool.connection_kwargs
    queues = redis.Redis(host=options["host"], port=options["port"], db=0)
    assert queues.keys("flisportal:*") == []


@pytest.mark.redis
def test_a_redis_that_does_not_answer_is_a_miss_and_the_page_still_shows(
    admin_client, caplog, monkeypatch
):
    """Rule: everything cached can be built again; a Redis that is down makes pages slower,
    never an error, and says why in the log (once a minute)."""
    from flisportal.lib.cache import TolerantRedisCache

    monkeypatch.setattr(TolerantRedisCache, "_last_logged", 0.0)
    with redis_cache(f"redis://127.0.0.1:{free_port()}/0"), caplog.at_level(logging.WARNING):
        assert cache.get("x", "default") == "default"
        cache.set("x", 1)  # dropped, not raised
        first = admin_client.get(reverse("front:coverage"))
        second = admin_client.get(reverse("front:coverage"))

    assert first.status_code == second.status_code == 200
    assert "Dækning" in first.content.decode()
    failures = [r for r in caplog.records if r.name == "flisportal.lib.cache"]
    assert len(failures) == 1  # one line a minute, not one per call
    assert "pages are built without it" in failures[0].getMessage()


@pytest.fixture
def two_web_hosts(
    served_world: ApiWorld, redis_url: str, clean_redis: object, tmp_path: Path
) -> Iterator[list[ApiServer]]:
    """Two gunicorns, as on two web hosts: the same database and Redis, nothing else."""
    servers, processes = [], []
    env = worker_env(redis_url)
    env.update(DEBUG="true", FLISPORTAL_API_RATE="3/minute", PYTHONUNBUFFERED="1")
    try:
        for name in ("web1", "web2"):
            port, log = free_port(), tmp_path / f"{name}.log"
            processes.append(start_gunicorn(port, env, log))
            wait_for_http(f"http://127.0.0.1:{port}/konto/login/", processes[-1], log)
            servers.append(ApiServer(port=port, log=log))
        yield servers
    finally:
        for process in processes:
            stop(process)


@pytest.mark.redis
def test_an_api_token_gets_its_rate_once_across_web_hosts(two_web_hosts, served_world):
    """Rule: FLISPORTAL_API_RATE is the token's, not each process's: the requests one host
    counted are counted on the other."""
    token = token_for(served_world.vendor_user)
    web1, web2 = (Client(server.port, token) for server in two_web_hosts)

    answers = [web1.call("GET", "/api/v1/deliveries/").status for _ in range(2)]
    answers += [web2.call("GET", "/api/v1/deliveries/").status for _ in range(2)]

    assert answers == [200, 200, 200, 429]


# --- warm start ---------------------------------------------------------------------------


def test_the_portal_templates_and_the_form_pack_are_compiled_before_the_first_request():
    names = portal_templates()
    assert {"base.html", "front/coverage.html", "bootstrap5/field.html"} <= set(names)
    assert not [n for n in names if n.startswith("bootstrap4/")]
    loader = engines["django"].engine.template_loaders[0]
    loader.reset()

    seconds = warm_up()

    assert set(names) <= set(loader.get_template_cache)
    assert seconds > 0


def test_a_template_that_does_not_compile_is_logged_and_left_to_its_page(
    monkeypatch, caplog, tmp_path
):
    monkeypatch.setattr("flisportal.warmup.portal_templates", lambda: ["gone/nowhere.html"])
    with caplog.at_level(logging.WARNING, logger="flisportal.warmup"):
        warm_up()
    assert "gone/nowhere.html" in caplog.text
