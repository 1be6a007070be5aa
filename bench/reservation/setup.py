#!/usr/bin/env python3
"""Helpers for bench/reservation/run.sh (Python stdlib only).

  setup.py prepare --port P --secret S --kid K --seats N --quota Q --sold-out-quota Q2 --users U --out DIR
      As an admin (a token minted with the server's JWT key): a seated event with N seats and two
      general-admission events (quota Q for throughput, Q2 to sell out), waiting room off, on sale
      now (--seated-events K: K seated events, seats of the k-th in DIR/seats.txt, seats2.txt, ...);
      waits until the reservation service has the inventory; writes DIR/seats.txt,
      DIR/tokens.txt (U fan tokens) and DIR/ids.json.
  setup.py verify --db URL --event E --ga-event G --sold-out-event G2
      The end-of-run checks, straight from the reservation database; prints one JSON object.
"""
import argparse
import base64
import hashlib
import hmac
import json
import os
import subprocess
import sys
import time
import urllib.request
import uuid


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def mint(secret, kid, sub, role="user", ttl=3600):
    now = int(time.time())
    header = b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": kid}, separators=(",", ":")).encode())
    payload = b64(json.dumps({"sub": sub, "role": role, "iat": now, "exp": now + ttl,
                              "jti": uuid.uuid4().hex}, separators=(",", ":")).encode())
    signing = f"{header}.{payload}".encode()
    sig = b64(hmac.new(secret.encode(), signing, hashlib.sha256).digest())
    return f"{header}.{payload}.{sig}"


def call(port, method, path, body=None, token=None, timeout=120):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, method=method)
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def must(result, *ok):
    status, body = result
    if status not in ok:
        sys.exit(f"setup: unexpected answer {status}: {body}")
    return body


def event(port, admin, venue, title):
    now = int(time.time() * 1000)
    day = 86_400_000
    return must(call(port, "POST", "/api/v1/admin/events", {
        "title": title, "venue_id": venue, "category": "concert", "artist": "Bench",
        "description": "benchmark", "sale_start": now - 60_000, "sale_end": now + 7 * day,
        "performance_start": now + 8 * day, "performance_end": now + 8 * day + 3_600_000,
        "per_user_limit": 20, "hold_minutes": 10, "waiting_room": {"enabled": False}}, admin), 201)["id"]


def prepare(a):
    admin = mint(a.secret, a.kid, "bench-admin", "admin")
    venue = must(call(a.port, "POST", "/api/v1/admin/venues", {"name": "Bench Arena", "city": "Seoul"}, admin), 201)["id"]
    tag = uuid.uuid4().hex[:6]
    seated_ids = []
    for k in range(a.seated_events):
        seated = event(a.port, admin, venue, f"Bench seated {k} " + tag)
        seated_ids.append(seated)
        # Sections of up to 500 rows x 100 seats.
        sections, left, i = [], a.seats, 0
        while left > 0:
            per_row = min(100, left)
            rows = min(500, max(1, left // per_row))
            sections.append({"code": f"S{i}", "name": f"S{i}", "rows": rows, "seats_per_row": per_row, "x": i * 10, "y": 0,
                             "categories": [{"from_row": 1, "to_row": rows, "category": "R"}]})
            left -= rows * per_row
            i += 1
        must(call(a.port, "PUT", f"/api/v1/admin/events/{seated}/seating",
                  {"categories": [{"code": "R", "name": "R"}], "sections": sections}, admin), 200, 201)
        must(call(a.port, "POST", f"/api/v1/admin/events/{seated}/ticket-types",
                  {"name": "R", "kind": "seated", "category": "R", "price": 10000}, admin), 201)
    ga_ids = {}
    for name, quota in (("ga", a.quota), ("soldout", a.sold_out_quota)):
        ev = event(a.port, admin, venue, f"Bench {name} {tag}")
        tt = must(call(a.port, "POST", f"/api/v1/admin/events/{ev}/ticket-types",
                       {"name": "Standing", "kind": "general_admission", "quota": quota, "price": 5000}, admin), 201)["id"]
        ga_ids[name] = (ev, tt)
    for ev in (*seated_ids, ga_ids["ga"][0], ga_ids["soldout"][0]):
        must(call(a.port, "POST", f"/api/v1/admin/events/{ev}/publish", {}, admin), 200)
    deadline = time.monotonic() + 300
    os.makedirs(a.out, exist_ok=True)
    for k, seated in enumerate(seated_ids):
        seat_ids = None
        while time.monotonic() < deadline:
            status, body = call(a.port, "GET", f"/api/v1/events/{seated}/seats")
            ga_ok = all(call(a.port, "GET", f"/api/v1/events/{ev}/seats")[0] == 200 for ev, _ in ga_ids.values())
            if status == 200 and body.get("onSale") and len(body["seats"]) == a.seats and ga_ok:
                seat_ids = [s["id"] for s in body["seats"]]
                break
            time.sleep(0.5)
        if seat_ids is None:
            sys.exit("setup: the reservation service never showed the published inventory")
        # seats.txt for the first seated event, seats2.txt, seats3.txt, ... for the others.
        name = "seats.txt" if k == 0 else f"seats{k + 1}.txt"
        with open(os.path.join(a.out, name), "w") as f:
            f.write("\n".join(seat_ids) + "\n")
    with open(os.path.join(a.out, "tokens.txt"), "w") as f:
        for i in range(a.users):
            f.write(mint(a.secret, a.kid, f"fan-{tag}-{i}") + "\n")
    ids = {"seated": seated_ids[0], "seated_all": seated_ids, "ga": ga_ids["ga"][0], "ga_type": ga_ids["ga"][1],
           "soldout": ga_ids["soldout"][0], "soldout_type": ga_ids["soldout"][1]}
    with open(os.path.join(a.out, "ids.json"), "w") as f:
        json.dump(ids, f)
    print(json.dumps(ids))


def query(db, sql):
    if db.startswith("sqlite:"):
        import sqlite3
        con = sqlite3.connect(os.path.join(db[len("sqlite:"):], "reservation.db"), timeout=30)
        try:
            return con.execute(sql).fetchone()[0]
        finally:
            con.close()
    out = subprocess.run(["psql", db, "-XAtq", "-v", "ON_ERROR_STOP=1", "-c",
                          "SET search_path TO reservation; " + sql], check=True, capture_output=True, text=True)
    return int(out.stdout.strip().splitlines()[-1] or 0)


def verify(a):
    q = lambda sql: query(a.db, sql)  # noqa: E731
    e, g, s = a.event, a.ga_event, a.sold_out_event
    live = "('PENDING', 'CONFIRMED')"
    out = {
        # a seat in two live reservations
        "double_booked": q(f"SELECT COUNT(*) FROM (SELECT ri.seat_id FROM reservation_items ri JOIN reservations r"
                           f" ON r.id = ri.reservation_id WHERE r.event_id = '{e}' AND r.status IN {live}"
                           f" AND ri.seat_id IS NOT NULL GROUP BY ri.seat_id HAVING COUNT(*) > 1) x"),
        "seats_held": q(f"SELECT COUNT(*) FROM seats WHERE event_id = '{e}' AND status = 'held'"),
        "seat_items_live": q(f"SELECT COUNT(*) FROM reservation_items ri JOIN reservations r ON r.id = ri.reservation_id"
                             f" WHERE r.event_id = '{e}' AND r.status IN {live} AND ri.seat_id IS NOT NULL"),
        # a held seat whose holder does not list it
        "orphan_holds": q(f"SELECT COUNT(*) FROM seats s WHERE s.event_id = '{e}' AND s.status = 'held' AND NOT EXISTS"
                          f" (SELECT 1 FROM reservation_items ri WHERE ri.reservation_id = s.hold_id"
                          f" AND ri.seat_id = s.seat_id)"),
        "ga_used": q(f"SELECT COALESCE(SUM(used), 0) FROM quota_stripes WHERE event_id = '{g}'"),
        "ga_reserved": q(f"SELECT COALESCE(SUM(quantity), 0) FROM reservations WHERE event_id = '{g}' AND status IN {live}"),
        "soldout_cap": q(f"SELECT COALESCE(SUM(cap), 0) FROM quota_stripes WHERE event_id = '{s}'"),
        "soldout_used": q(f"SELECT COALESCE(SUM(used), 0) FROM quota_stripes WHERE event_id = '{s}'"),
        "soldout_reserved": q(f"SELECT COALESCE(SUM(quantity), 0) FROM reservations WHERE event_id = '{s}'"
                              f" AND status IN {live}"),
    }
    print(json.dumps(out))


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    pp = sub.add_parser("prepare")
    pp.add_argument("--port", type=int, required=True)
    pp.add_argument("--secret", required=True)
    pp.add_argument("--kid", required=True)
    pp.add_argument("--seats", type=int, default=50_000)
    pp.add_argument("--quota", type=int, default=1_000_000)
    pp.add_argument("--sold-out-quota", type=int, default=5_000)
    pp.add_argument("--users", type=int, default=20_000)
    pp.add_argument("--seated-events", type=int, default=1)
    pp.add_argument("--out", required=True)
    pv = sub.add_parser("verify")
    pv.add_argument("--db", required=True)
    pv.add_argument("--event", required=True)
    pv.add_argument("--ga-event", required=True)
    pv.add_argument("--sold-out-event", required=True)
    a = p.parse_args()
    prepare(a) if a.cmd == "prepare" else verify(a)


if __name__ == "__main__":
    main()
