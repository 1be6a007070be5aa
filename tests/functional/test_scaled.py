#!/usr/bin/env python3
"""Functional test of the scaled shape's storage: the same checks as the embedded shape, with
PostgreSQL and Redis (TIKETI_TEST_POSTGRES_URL / TIKETI_TEST_REDIS_URL, started by scripts/test).

The test makes a database of its own when the role may (scripts/lib/servers.sh grants CREATEDB), so
it does not share migrations state with the conformance suites running beside it."""

import os
import shutil
import subprocess
import unittest
import urllib.parse
import uuid

from harness import require_servers, run_tests
from shape_checks import ShapeChecks


def _psql():
    for path in ("/usr/lib/postgresql/15/bin/psql", shutil.which("psql")):
        if path and os.access(path, os.X_OK):
            return path
    return None


def _own_database(base_url):
    """Create a throw-away database next to base_url; returns (url, drop) or (base_url, None)."""
    psql = _psql()
    if psql is None:
        return base_url, None
    parts = urllib.parse.urlsplit(base_url)
    name = "tiketi_func_" + uuid.uuid4().hex[:12]
    admin = parts._replace(path="/" + (parts.path.lstrip("/") or "postgres")).geturl()
    r = subprocess.run([psql, admin, "-qAtX", "-c", f"CREATE DATABASE {name}"], capture_output=True,
                       text=True, timeout=60)
    if r.returncode != 0:
        return base_url, None
    url = parts._replace(path="/" + name).geturl()

    def drop():
        subprocess.run([psql, admin, "-qAtX", "-c", f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"],
                       capture_output=True, timeout=60)

    return url, drop


class ScaledShape(ShapeChecks, unittest.TestCase):
    name = "scaled"
    _drop = None
    _db_url = None
    _redis_url = None

    @classmethod
    def setUpClass(cls):
        pg, redis = require_servers()
        cls._db_url, cls._drop = _own_database(pg)
        cls._redis_url = redis
        try:
            super().setUpClass()
        except BaseException:
            if cls._drop:
                cls._drop()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            if cls._drop:
                cls._drop()

    @classmethod
    def server_args(cls):
        return ["--services", "all", "--database-url", cls._db_url, "--redis-url", cls._redis_url]


if __name__ == "__main__":
    run_tests()
