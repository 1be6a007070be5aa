#!/usr/bin/env python3
"""Functional test of the scaled shape's storage: the same checks as the embedded shape, with
PostgreSQL and Redis (TIKETI_TEST_POSTGRES_URL / TIKETI_TEST_REDIS_URL, started by scripts/test).

The test makes a database of its own when the role may (scripts/lib/servers.sh grants CREATEDB), so
it does not share migrations state with the conformance suites running beside it."""

import unittest

from harness import own_database, require_servers, run_tests
from shape_checks import ShapeChecks






class ScaledShape(ShapeChecks, unittest.TestCase):
    name = "scaled"
    _drop = None
    _db_url = None
    _redis_url = None

    @classmethod
    def setUpClass(cls):
        pg, redis = require_servers()
        cls._db_url, cls._drop = own_database(pg)
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
