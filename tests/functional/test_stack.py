#!/usr/bin/env python3
"""Functional test of the local scaled stack (scripts/stack): its own PostgreSQL and Redis, six
service processes (two queue replicas), nginx in front. Checks that the WEB tier routes each API
path to the owning service, balances replicas, answers JSON when a service is down, and that
`scripts/stack down` leaves no process behind."""

import json
import os
import shutil
import subprocess
import tempfile
import time
import unittest

from harness import ROOT, alive, port_open, request, run_tests, tiketi_bin, url_port

STACK = str(ROOT / "scripts" / "stack")

# path -> the service that must answer it (the same table as deploy/nginx/tiketi.conf.tmpl)
ROUTES = {
    "/api/v1/auth/x": "auth",
    "/api/v1/auth/me": "auth",
    "/api/v1/events": "event",
    "/api/v1/events/42": "event",
    "/api/v1/news": "event",
    "/api/v1/admin/events/1/publish": "event",
    "/api/v1/admin/news": "event",
    "/api/v1/admin/images": "event",
    "/api/v1/events/42/queue": "queue",
    "/api/v1/events/42/queue/stream": "queue",
    "/api/v1/admin/queues": "queue",
    "/api/v1/events/42/seats": "reservation",
    "/api/v1/reservations": "reservation",
    "/api/v1/reservations/7/cancel": "reservation",
    "/api/v1/tickets": "reservation",
    "/api/v1/admin/checkins": "reservation",
    "/api/v1/admin/reservations": "reservation",
    "/api/v1/payments": "payment",
    "/api/v1/points/history": "payment",
    "/api/v1/admin/payments": "payment",
    "/api/v1/admin/notifications": "notification",
}


def _pg_postmaster_pid(stack_dir):
    try:
        home = open(os.path.join(stack_dir, "postgres", "home")).read().strip()
        return int(open(os.path.join(home, "data", "postmaster.pid")).readline())
    except (OSError, ValueError):
        return None


def _redis_pid(stack_dir):
    try:
        return int(open(os.path.join(stack_dir, "redis", "redis.pid")).read().strip())
    except (OSError, ValueError):
        return None


class Stack(unittest.TestCase):
    dir = None
    info = None
    pids = None
    down_done = False

    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="tiketi-stack-test-")
        env = dict(os.environ, TIKETI_TEST_ROUTES="1")
        cmd = [STACK, "up", "--dir", cls.dir, "--json", "--ports", "random", "--replicas", "queue=2",
               "--bin", tiketi_bin()]
        try:
            r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240,
                               stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired as e:
            cls._down(purge=True)
            raise RuntimeError(f"scripts/stack up timed out:\n{e.stderr}")
        if r.returncode != 0:
            cls._down(purge=True)
            raise RuntimeError(f"scripts/stack up exited {r.returncode}:\n{r.stderr[-4000:]}")
        cls.info = json.loads(r.stdout)
        cls.gateway = url_port(cls.info["gateway_url"])
        # Everything `down` must stop, recorded before it runs.
        cls.pids = {"nginx": cls.info["nginx_pid"], "postgres": _pg_postmaster_pid(cls.dir),
                    "redis": _redis_pid(cls.dir)}
        for svc in cls.info["services"].values():
            for rep in svc["replicas"]:
                cls.pids[rep["name"]] = rep["pid"]

    @classmethod
    def _down(cls, purge=False):
        subprocess.run([STACK, "down", "--dir", cls.dir] + (["--purge"] if purge else []),
                       capture_output=True, timeout=120, stdin=subprocess.DEVNULL)

    @classmethod
    def tearDownClass(cls):
        try:
            if not cls.down_done:
                cls._down()
        finally:
            logs = os.path.join(cls.dir, "logs")
            if os.path.isdir(logs):
                for name in sorted(os.listdir(logs)):
                    with open(os.path.join(logs, name), errors="replace") as f:
                        tail = f.readlines()[-8:]
                    print(f"--- {name} (last lines) ---\n{''.join(tail)}", flush=True)
            # --purge also removes the PostgreSQL cluster, which may live outside the directory.
            cls._down(purge=True)
            shutil.rmtree(cls.dir, ignore_errors=True)

    def _gw(self, path, **kw):
        return request(self.gateway, "GET", path, **kw)

    # unittest runs tests in name order: the destructive ones are named to come last.

    def test_a_json_lists_every_service_and_server(self):
        self.assertEqual(sorted(self.info["services"]),
                         sorted(["auth", "event", "queue", "reservation", "payment", "notification"]))
        self.assertEqual(len(self.info["services"]["queue"]["replicas"]), 2)
        self.assertTrue(self.info["postgres_url"].startswith("postgres://"))
        self.assertTrue(self.info["redis_url"].startswith("redis://"))
        for name, pid in self.pids.items():
            self.assertTrue(pid and alive(pid), f"{name} (pid {pid}) is not running")

    def test_b_every_replica_is_ready(self):
        for svc in self.info["services"].values():
            for rep in svc["replicas"]:
                r = request(url_port(rep["url"]), "GET", "/health/ready")
                self.assertEqual(r.status, 200, f"{rep['name']}: {r}")
            # and through the service's internal load-balanced address (what peers call)
            self.assertEqual(request(url_port(svc["url"]), "GET", "/health/ready").status, 200)

    def test_c_gateway_routes_each_path_to_its_service(self):
        # The answering service is told by the X-Tiketi-Service header the binary sets; failing
        # that, by which service's log carries the request's id.
        wrong = []
        for path, svc in ROUTES.items():
            rid = "route-" + os.urandom(6).hex()
            r = self._gw(path, headers={"X-Request-Id": rid})
            got = r.headers.get("x-tiketi-service") or self._log_owner(rid)
            if got != svc:
                wrong.append(f"{path}: want {svc}, got {got} ({r.status} {r.body[:120]!r})")
        self.assertEqual(wrong, [])

    def _log_owner(self, needle, timeout=5.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for name, svc in self.info["services"].items():
                for rep in svc["replicas"]:
                    try:
                        with open(rep["log"], errors="replace") as f:
                            if needle in f.read():
                                return name
                    except OSError:
                        pass
            time.sleep(0.1)
        return None

    def test_d_routed_404_is_the_services_json_and_logged_by_it(self):
        rid = "stacktest-" + os.urandom(6).hex()
        r = self._gw("/api/v1/auth/x", headers={"X-Request-Id": rid})
        self.assertEqual(r.status, 404, r)
        self.assertEqual(r.error_code(), "not_found", r)
        self.assertEqual(r.headers.get("x-request-id"), rid)
        log = self.info["services"]["auth"]["replicas"][0]["log"]
        self.assertTrue(self._wait_in_file(log, rid), f"request id {rid} not in {log}")

    def test_e_unknown_api_path_is_json_404_from_the_gateway(self):
        r = self._gw("/api/v1/no-such-area")
        self.assertEqual(r.status, 404)
        self.assertEqual(r.error_code(), "not_found", r)

    def test_f_two_queue_replicas_share_the_traffic(self):
        marker = "rr" + os.urandom(4).hex()
        for i in range(6):
            self._gw(f"/api/v1/events/{marker}-{i}/queue")
        for rep in self.info["services"]["queue"]["replicas"]:
            self.assertTrue(self._wait_in_file(rep["log"], marker), f"{rep['name']} got none of the requests")

    def test_g_web_root_is_served(self):
        r = self._gw("/")
        self.assertEqual(r.status, 200)
        self.assertIn(b"<", r.body)

    def test_h_status_command_reports_all_up(self):
        r = subprocess.run([STACK, "status", "--dir", self.dir], capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("queue-2", r.stdout)

    def test_y_gateway_answers_json_502_when_a_service_is_down(self):
        rep = self.info["services"]["notification"]["replicas"][0]
        os.kill(rep["pid"], 15)
        deadline = time.monotonic() + 20
        while alive(rep["pid"]) and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertFalse(alive(rep["pid"]), "notification did not stop on SIGTERM")
        r = self._gw("/api/v1/admin/notifications")
        self.assertEqual(r.status, 502, r)
        self.assertEqual(r.error_code(), "bad_gateway", r)
        # the other services are unaffected
        r = self._gw("/api/v1/auth/x")
        self.assertEqual((r.status, r.error_code()), (404, "not_found"), r)
        r = subprocess.run([STACK, "status", "--dir", self.dir], capture_output=True, text=True, timeout=60)
        self.assertNotEqual(r.returncode, 0, "status must report the stopped service")

    def test_z_down_leaves_no_process_behind(self):
        r = subprocess.run([STACK, "down", "--dir", self.dir], capture_output=True, text=True, timeout=120,
                           stdin=subprocess.DEVNULL)
        type(self).down_done = True
        self.assertEqual(r.returncode, 0, r.stderr)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(p and alive(p) for p in self.pids.values()):
            time.sleep(0.1)
        left = {n: p for n, p in self.pids.items() if p and alive(p)}
        self.assertEqual(left, {}, "processes still running after stack down")
        self.assertFalse(port_open(self.gateway), "gateway port still open")

    @staticmethod
    def _wait_in_file(path, needle, timeout=10.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with open(path, errors="replace") as f:
                    if needle in f.read():
                        return True
            except OSError:
                pass
            time.sleep(0.1)
        return False


if __name__ == "__main__":
    run_tests()
