import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from flisportal.lib.env import (
    env_bool,
    env_database,
    env_int,
    env_list,
    env_path,
    env_secret,
    redis_url_with_timeouts,
)
from tests.helpers.processes import ROOT


def test_env_bool_reads_yes_and_no_words():
    assert env_bool("X", False, environ={"X": "true"}) is True
    assert env_bool("X", True, environ={"X": "0"}) is False
    assert env_bool("X", True, environ={}) is True


def test_env_bool_rejects_other_words_naming_the_variable():
    with pytest.raises(ImproperlyConfigured, match="DEBUG='maybe'"):
        env_bool("DEBUG", False, environ={"DEBUG": "maybe"})


def test_env_int_bounds_and_format():
    assert env_int("N", 5, environ={"N": "1_000"}) == 1000
    with pytest.raises(ImproperlyConfigured, match="not a whole number"):
        env_int("N", 5, environ={"N": "ten"})
    with pytest.raises(ImproperlyConfigured, match="below the smallest"):
        env_int("N", 5, minimum=1, environ={"N": "0"})
    with pytest.raises(ImproperlyConfigured, match="above the largest"):
        env_int("PORT", 5, maximum=65535, environ={"PORT": "70000"})


def test_env_list_splits_and_trims():
    assert env_list("H", [], environ={"H": "a.dk, b.dk,,"}) == ["a.dk", "b.dk"]


def test_env_secret_has_a_default_only_in_debug():
    assert env_secret("S", debug=True, dev_default="dev", environ={}) == "dev"
    with pytest.raises(ImproperlyConfigured, match="S is not set"):
        env_secret("S", debug=False, dev_default="dev", environ={})
    with pytest.raises(ImproperlyConfigured, match="too short"):
        env_secret("S", debug=False, dev_default="dev", min_length=50, environ={"S": "short"})


def test_env_path_must_be_absolute():
    with pytest.raises(ImproperlyConfigured, match="absolute"):
        env_path("P", Path("/x"), environ={"P": "relative/path"})


def test_env_database_defaults_to_sqlite_in_wal_mode(tmp_path):
    config = env_database("DATABASE_URL", tmp_path / "db.sqlite3", environ={})
    assert config["ENGINE"] == "django.db.backends.sqlite3"
    assert "journal_mode=WAL" in config["OPTIONS"]["init_command"]


def test_env_database_reads_postgres_urls():
    config = env_database(
        "DATABASE_URL", Path("/x"), environ={"DATABASE_URL": "postgres://u:p@127.0.0.1:5433/flis"}
    )
    assert config["ENGINE"] == "django.db.backends.postgresql"
    assert (config["HOST"], config["PORT"], config["NAME"]) == ("127.0.0.1", 5433, "flis")


def test_env_database_rejects_other_engines():
    with pytest.raises(ImproperlyConfigured, match="DATABASE_URL"):
        env_database("DATABASE_URL", Path("/x"), environ={"DATABASE_URL": "mysql://u@h/db"})


def test_redis_url_gets_socket_timeouts_unless_it_sets_its_own():
    assert redis_url_with_timeouts("redis://127.0.0.1:6379/0", 5) == (
        "redis://127.0.0.1:6379/0?socket_connect_timeout=5&socket_timeout=5"
    )
    assert redis_url_with_timeouts("rediss://u:p@h:6380/1?socket_timeout=30", 5) == (
        "rediss://u:p@h:6380/1?socket_timeout=30&socket_connect_timeout=5"
    )


def test_every_queue_connects_with_the_configured_timeouts():
    # In a process of its own: the settings module as it reads the environment at start-up.
    code = (
        "import django; django.setup(); from django.conf import settings; "
        "print('\\n'.join(q['URL'] for q in settings.RQ_QUEUES.values()))"
    )
    env = dict(
        os.environ,
        DJANGO_SETTINGS_MODULE="flisportal.settings",
        REDIS_URL="redis://127.0.0.1:6390/2",
        REDIS_SOCKET_TIMEOUT="3",
    )
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True, check=True
    )
    urls = done.stdout.split()
    assert len(urls) == 3
    assert set(urls) == {"redis://127.0.0.1:6390/2?socket_connect_timeout=3&socket_timeout=3"}
