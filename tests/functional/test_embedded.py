#!/usr/bin/env python3
"""Functional test of the embedded default shape: one `tiketi serve` process, SQLite, in-process
coordination. Black box over HTTP; see shape_checks.py for what is checked."""

import unittest

from harness import run_tests
from shape_checks import ShapeChecks


class EmbeddedShape(ShapeChecks, unittest.TestCase):
    name = "embedded"

    @classmethod
    def server_args(cls):
        return ["--services", "all"]


if __name__ == "__main__":
    run_tests()
