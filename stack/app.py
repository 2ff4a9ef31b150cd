#!/usr/bin/python3
"""The stack's example application: PostgreSQL through psql, HTTP through http.server.

  app migrate   create the table `starts` (idempotent) and record this start in it
  app serve     serve HTTP on $PORT (default 8080): GET / lists the rows of `starts`

The database is $DATABASE_URL (a libpq URI; psql connects, so no Python driver is needed).
SIGTERM ends `serve` with exit status 0.
"""
import os
import signal
import subprocess
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer

PSQL = "/usr/lib/postgresql/15/bin/psql"
DATABASE_URL = os.environ.get("DATABASE_URL", "postgresql:///app?host=/run/postgresql")


def log(msg):
    # rinit prefixes each line with the service's name ("app | ...", "migrate | ...").
    print(msg, file=sys.stderr, flush=True)


def psql(sql):
    """Run SQL (one transaction); return psql's unaligned, tuples-only output."""
    r = subprocess.run(
        [PSQL, "-X", "-q", "-tA", "-F", " ", "-v", "ON_ERROR_STOP=1", "-d", DATABASE_URL, "-c", sql],
        capture_output=True, text=True, timeout=10,
    )
    if r.returncode != 0:
        raise RuntimeError(r.stderr.strip() or f"psql exited with {r.returncode}")
    return r.stdout


def migrate():
    psql(
        "CREATE TABLE IF NOT EXISTS starts ("
        " id serial PRIMARY KEY, at timestamptz NOT NULL DEFAULT now(), host text);"
        f" INSERT INTO starts (host) VALUES ('{os.uname().nodename}');"
    )
    n = psql("SELECT count(*) FROM starts").strip()
    log(f"migrated; starts has {n} row(s)")


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path not in ("/", "/rows"):
            self.send_error(404)
            return
        try:
            rows = psql("SELECT id, to_char(at, 'YYYY-MM-DD HH24:MI:SS TZ'), host FROM starts ORDER BY id")
            lines = rows.splitlines()
            body = f"{len(lines)} row(s) in starts\n" + "".join(l + "\n" for l in lines)
            code = 200
        except Exception as e:  # the database is down: say so, do not die
            body, code = f"database error: {e}\n", 503
        data = body.encode()
        self.send_response(code)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, fmt, *args):
        log(f"{self.address_string()} {fmt % args}")


def serve():
    port = int(os.environ.get("PORT", "8080"))
    server = HTTPServer(("", port), Handler)

    def on_term(signum, _frame):
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, on_term)
    log(f"listening on :{port}")
    try:
        server.serve_forever()
    except SystemExit:
        log("SIGTERM: stopped serving")
        raise
    finally:
        server.server_close()


def main(argv):
    cmd = argv[1] if len(argv) > 1 else "serve"
    if cmd == "migrate":
        migrate()
    elif cmd == "serve":
        serve()
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
