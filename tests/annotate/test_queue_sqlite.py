"""The SQLite fallback: queue decisions are serialised by the database's single write lock."""

import sqlite3

import pytest

from core.db import SQLITE_WRITER_LOCK_SQL


@pytest.fixture
def database(tmp_path):
    path = tmp_path / "queue.sqlite3"
    setup = sqlite3.connect(path)
    setup.execute("PRAGMA journal_mode=WAL")  # as config.settings.base sets it
    setup.execute('CREATE TABLE "django_migrations" ("id" integer PRIMARY KEY, "name" text)')
    setup.execute("INSERT INTO django_migrations (name) VALUES ('0001')")
    setup.commit()
    setup.close()
    return path


def test_the_no_op_write_takes_the_write_lock_until_commit(database):
    first = sqlite3.connect(database, isolation_level=None, timeout=0.05)
    second = sqlite3.connect(database, isolation_level=None, timeout=0.05)
    first.execute("BEGIN")  # deferred, as Django's default transaction mode
    first.execute(SQLITE_WRITER_LOCK_SQL)
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        second.execute("BEGIN IMMEDIATE")
    # readers still read: only writers queue
    assert second.execute("SELECT count(*) FROM django_migrations").fetchone() == (1,)
    first.execute("COMMIT")
    second.execute("BEGIN IMMEDIATE")
    second.execute("COMMIT")


def test_a_plain_read_does_not(database):
    first = sqlite3.connect(database, isolation_level=None, timeout=0.05)
    second = sqlite3.connect(database, isolation_level=None, timeout=0.05)
    first.execute("BEGIN")
    first.execute("SELECT * FROM django_migrations").fetchall()
    second.execute("BEGIN IMMEDIATE")  # nobody holds the write lock yet
    second.execute("COMMIT")
    first.execute("COMMIT")
