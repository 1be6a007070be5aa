#!/usr/bin/env python3
"""A real SMTP server for the notification tests: Debian's aiosmtpd on 127.0.0.1, port chosen by the
kernel, with TLS (STARTTLS required, or implicit TLS) and AUTH required (PLAIN and LOGIN, one
user/password). Prints `port <n>` on stdout once listening, then appends one JSON object per line
to --log for every AUTH attempt and every accepted message. Runs until SIGTERM.

usage: smtp_tls_server.py --cert C --key K --user U --password P --log FILE [--mode starttls|tls]
"""

import argparse
import asyncio
import json
import signal
import ssl
import sys

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--user", required=True)
    ap.add_argument("--password", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--mode", choices=("starttls", "tls"), default="starttls")
    args = ap.parse_args()

    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(args.cert, args.key)
    log = open(args.log, "a", encoding="utf-8")

    def on_tls(server, session):
        # STARTTLS sets session.ssl; with implicit TLS the transport itself is the TLS one.
        return session.ssl is not None or server.transport.get_extra_info("ssl_object") is not None

    def record(doc):
        log.write(json.dumps(doc) + "\n")
        log.flush()

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = (isinstance(auth_data, LoginPassword) and auth_data.login.decode() == args.user
              and auth_data.password.decode() == args.password)
        record({"kind": "auth", "mechanism": mechanism, "ok": ok,
                "tls": on_tls(server, session)})
        return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd answers 535

    class Handler:
        async def handle_DATA(self, server, session, envelope):
            record({"kind": "message", "mail_from": envelope.mail_from, "rcpt_tos": envelope.rcpt_tos,
                    "tls": on_tls(server, session), "authenticated": bool(session.authenticated),
                    "data": envelope.content.decode("utf-8", "replace")})
            return "250 2.0.0 Ok: queued"

    def factory():
        # Implicit TLS: aiosmtpd only knows about TLS it negotiated itself (STARTTLS), so its
        # "AUTH only over TLS" check is relaxed there; the socket is TLS from the first byte anyway.
        kw = dict(hostname="tiketi-tls-test", authenticator=authenticator, auth_required=True,
                  auth_require_tls=args.mode == "starttls")
        if args.mode == "starttls":
            kw.update(tls_context=ctx, require_starttls=True)
        return SMTP(Handler(), **kw)

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    server = loop.run_until_complete(
        loop.create_server(factory, "127.0.0.1", 0, ssl=ctx if args.mode == "tls" else None))
    port = server.sockets[0].getsockname()[1]
    stop = loop.create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, lambda: stop.done() or stop.set_result(None))
    sys.stdout.write(f"port {port}\n")
    sys.stdout.flush()
    loop.run_until_complete(stop)
    server.close()
    loop.run_until_complete(server.wait_closed())


if __name__ == "__main__":
    main()
