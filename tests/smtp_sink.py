#!/usr/bin/env python3
"""A real SMTP server for easd's outbound tests, built on aiosmtpd.

Usage: smtp_sink.py DIR [--auth USER:PASS] [--login-only] [--starttls CERT KEY]
                        [--implicit CERT KEY] [--size BYTES]

Listens on 127.0.0.1 on a free port and prints that port on stdout once it is ready.
Each message it accepts becomes DIR/msgNNNN.eml (the data, as received after the dot
transparency is undone) and DIR/msgNNNN.env, lines of "from ADDR", "option PARAM",
"rcpt ADDR", "auth MECHANISM|none" and "tls yes|no", written last so a reader never sees
half a message.

Recipients whose local part starts with "reject" get 550; those starting with "tempfail" get
451 until a file named ACCEPT_TEMPFAIL exists in DIR.
"""

import argparse
import asyncio
import os
import ssl
import sys

try:
    from aiosmtpd.smtp import SMTP, AuthResult
except ImportError:
    sys.stderr.write("smtp_sink.py needs aiosmtpd: pip install aiosmtpd\n")
    sys.exit(2)


class Sink:
    def __init__(self, outdir):
        self.outdir = outdir
        self.count = len([n for n in os.listdir(outdir) if n.endswith(".env")])

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        local = address.split("@", 1)[0].lower()
        if local.startswith("reject"):
            return "550 5.1.1 <%s>: no such user" % address
        accept = os.path.exists(os.path.join(self.outdir, "ACCEPT_TEMPFAIL"))
        if local.startswith("tempfail") and not accept:
            return "451 4.3.0 <%s>: try again later" % address
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        base = os.path.join(self.outdir, "msg%04d" % self.count)
        self.count += 1
        with open(base + ".eml", "wb") as f:
            f.write(envelope.original_content)
        lines = ["from " + envelope.mail_from]
        lines += ["option " + o for o in envelope.mail_options]
        lines += ["rcpt " + r for r in envelope.rcpt_tos]
        lines.append("auth " + (getattr(session, "auth_mechanism", None) or "none"))
        implicit = server.transport.get_extra_info("ssl_object") is not None
        tls = session.ssl is not None or implicit
        lines.append("tls " + ("yes" if tls else "no"))
        with open(base + ".env.tmp", "w") as f:
            f.write("\n".join(lines) + "\n")
        os.rename(base + ".env.tmp", base + ".env")
        return "250 2.0.0 OK stored"


def tls_context(cert, key):
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    return ctx


def main():
    p = argparse.ArgumentParser()
    p.add_argument("dir")
    p.add_argument("--auth")
    p.add_argument("--login-only", action="store_true")
    p.add_argument("--starttls", nargs=2, metavar=("CERT", "KEY"))
    p.add_argument("--implicit", nargs=2, metavar=("CERT", "KEY"))
    p.add_argument("--size", type=int, default=33554432)
    args = p.parse_args()

    handler = Sink(args.dir)
    kwargs = {
        "hostname": "sink.test",
        "decode_data": False,
        "data_size_limit": args.size,
        "enable_SMTPUTF8": True,
    }
    if args.auth:
        user, password = args.auth.split(":", 1)

        def authenticator(server, session, envelope, mechanism, auth_data):
            ok = (
                auth_data.login == user.encode()
                and auth_data.password == password.encode()
            )
            if ok:
                session.auth_mechanism = mechanism
            return AuthResult(success=ok, handled=False)

        kwargs.update(
            authenticator=authenticator,
            auth_required=True,
            auth_require_tls=False,
        )
        if args.login_only:
            kwargs["auth_exclude_mechanism"] = ["PLAIN"]
    if args.starttls:
        kwargs.update(tls_context=tls_context(*args.starttls), require_starttls=True)
    implicit = tls_context(*args.implicit) if args.implicit else None

    async def serve():
        loop = asyncio.get_running_loop()
        server = await loop.create_server(
            lambda: SMTP(handler, loop=loop, **kwargs), "127.0.0.1", 0, ssl=implicit
        )
        print(server.sockets[0].getsockname()[1], flush=True)
        await server.serve_forever()

    asyncio.run(serve())


if __name__ == "__main__":
    main()
