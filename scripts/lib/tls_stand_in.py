#!/usr/bin/env python3
"""An HTTPS stand-in for DynamoDB and AppConfigData, for scripts/test-packaging.sh's TLS step.

It answers just what the profile handler calls, on 127.0.0.1 only:

  POST /configurationsessions             StartConfigurationSession: 201 with a token
  GET  /configuration?configuration_token GetLatestConfiguration: 200 with the flags document
  POST / (X-Amz-Target: ...GetItem)       DynamoDB GetItem: 200 `{}` (no such item: the GET is a 404)

and writes one JSON line per event to the log, for the test to read:

  {"event": "request", "method", "path", "target", "tls", "cipher", "sigv4", "service"}
  {"event": "handshake_failed", "reason", "error"}

`sigv4` is true when the Authorization header has the shape of a SigV4 signature (the signature
itself is checked elsewhere, against moto); `service` is the credential scope's service name.
The TLS handshake runs in each connection's own thread, so that a client that connects and says
nothing (a port probe) cannot hold up the others.

Usage: tls_stand_in.py serve --port P --cert PEM --key PEM --flags JSON --log FILE [--min-tls V]
                           [--max-tls V] [--ciphers LIST] [--max-seconds N]
       tls_stand_in.py summary LOG

`serve` stops by itself when the process that started it is gone, or after --max-seconds.
Standard library only.
"""

import argparse
import http.server
import json
import os
import re
import ssl
import sys
import threading
import time

TLS_VERSIONS = {"1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}

# AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=…, Signature=hex
SIGV4 = re.compile(
    r"^AWS4-HMAC-SHA256 Credential=[^/,\s]+/\d{8}/[a-z0-9-]+/(?P<service>[a-z0-9-]+)/aws4_request,"
    r"\s*SignedHeaders=[a-z0-9;-]+,\s*Signature=[0-9a-f]{64}$"
)


class EventLog:
    """JSON lines, one per event, flushed as they are written; shared by the connection threads."""

    def __init__(self, path):
        self._file = open(path, "a", buffering=1, encoding="utf-8")
        self._lock = threading.Lock()

    def write(self, **event):
        with self._lock:
            self._file.write(json.dumps(event) + "\n")


class StandInHandler(http.server.BaseHTTPRequestHandler):
    """The three AWS calls; anything else is a 400 the way the AWS JSON protocols answer it."""

    protocol_version = "HTTP/1.1"
    server_version = "tls-stand-in"

    def log_message(self, format, *args):  # noqa: A002 (the base class's name)
        pass  # the event log is the record

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        self._note()
        path = self.path.split("?", 1)[0]
        target = self.headers.get("X-Amz-Target", "")
        if path == "/configurationsessions":
            self._reply(201, b'{"InitialConfigurationToken":"stand-in-token-1"}', "application/json")
        elif path == "/" and target == "DynamoDB_20120810.GetItem":
            self._reply(200, b"{}", "application/x-amz-json-1.0")
        else:
            self._unknown(target or path)

    def do_GET(self):
        self._note()
        if self.path.split("?", 1)[0] == "/configuration":
            self._reply(200, self.server.flags, "application/json", {
                "Next-Poll-Configuration-Token": "stand-in-token-2",
                "Next-Poll-Interval-In-Seconds": "60",
            })
        else:
            self._unknown(self.path)

    def _note(self):
        match = SIGV4.match(self.headers.get("Authorization", ""))
        self.server.log.write(
            event="request", method=self.command, path=self.path.split("?", 1)[0],
            target=self.headers.get("X-Amz-Target"), tls=self.connection.version(),
            cipher=self.connection.cipher()[0], sigv4=bool(match and self.headers.get("X-Amz-Date")),
            service=match.group("service") if match else None)

    def _unknown(self, what):
        body = json.dumps({"__type": "UnknownOperationException", "message": f"the stand-in does not do {what}"})
        self._reply(400, body.encode(), "application/x-amz-json-1.0")

    def _reply(self, status, body, content_type, headers=None):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class StandInServer(http.server.ThreadingHTTPServer):
    """Accepts plain TCP and does the TLS handshake in the connection's thread."""

    daemon_threads = True

    def __init__(self, port, context, flags, log):
        self.context, self.flags, self.log = context, flags, log
        super().__init__(("127.0.0.1", port), StandInHandler)

    def finish_request(self, request, client_address):
        request.settimeout(10)
        try:
            connection = self.context.wrap_socket(request, server_side=True)
        except ssl.SSLError as error:
            self.log.write(event="handshake_failed", reason=error.reason or type(error).__name__, error=str(error))
            return
        except OSError as error:
            self.log.write(event="handshake_failed", reason=type(error).__name__, error=str(error))
            return
        try:
            super().finish_request(connection, client_address)
        finally:
            connection.close()

    def handle_error(self, request, client_address):
        self.log.write(event="error", error=repr(sys.exc_info()[1]))


def tls_context(args):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = TLS_VERSIONS[args.min_tls]
    context.maximum_version = TLS_VERSIONS[args.max_tls]
    context.load_cert_chain(args.cert, args.key)
    if args.ciphers:
        context.set_ciphers(args.ciphers)  # TLS 1.2 and below; TLS 1.3 keeps its own suites
    return context


def stop_with_parent(parent, limit):
    """Ends the process when `parent` is gone (we are reparented) or after `limit` seconds."""
    deadline = time.monotonic() + limit
    while os.getppid() == parent and time.monotonic() < deadline:
        time.sleep(0.5)
    os._exit(0)


def summarize(log):
    """One tab-separated line for the shell: requests, SigV4-signed requests, the services signed for,
    the protocols and the ciphers seen, and the handshakes the client refused with a TLS alert
    (a port probe that just connects and closes is not one). Lists are comma-separated, `-` if empty."""
    events = []
    if os.path.exists(log):
        with open(log, encoding="utf-8") as lines:
            events = [json.loads(line) for line in lines if line.endswith("\n")]
    requests = [e for e in events if e["event"] == "request"]
    alerts = [e["reason"] for e in events if e["event"] == "handshake_failed" and "ALERT" in e["reason"]]

    def listed(values):
        return ",".join(sorted(set(values))) or "-"

    print("\t".join([
        str(len(requests)), str(sum(e["sigv4"] for e in requests)),
        listed(e["service"] for e in requests if e["service"]), listed(e["tls"] for e in requests),
        listed(e["cipher"] for e in requests), listed(alerts),
    ]))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve HTTPS on 127.0.0.1 until the parent is gone")
    serve.add_argument("--port", type=int, required=True, help="TCP port on 127.0.0.1")
    serve.add_argument("--cert", required=True, help="server certificate chain (PEM)")
    serve.add_argument("--key", required=True, help="its private key (PEM)")
    serve.add_argument("--flags", required=True, help="the flags document GetLatestConfiguration returns")
    serve.add_argument("--log", required=True, help="where the JSON lines go (appended)")
    serve.add_argument("--min-tls", choices=TLS_VERSIONS, default="1.2")
    serve.add_argument("--max-tls", choices=TLS_VERSIONS, default="1.3")
    serve.add_argument("--ciphers", help="OpenSSL cipher list for TLS 1.2, e.g. ECDHE-RSA-CHACHA20-POLY1305")
    serve.add_argument("--max-seconds", type=float, default=300, help="stop after this long at the latest")
    summary = commands.add_parser("summary", help="summarize a log in one line (see summarize)")
    summary.add_argument("log")
    args = parser.parse_args()

    if args.command == "summary":
        summarize(args.log)
        return
    with open(args.flags, "rb") as document:
        flags = document.read()
    server = StandInServer(args.port, tls_context(args), flags, EventLog(args.log))
    threading.Thread(target=stop_with_parent, args=(os.getppid(), args.max_seconds), daemon=True).start()
    server.serve_forever()


if __name__ == "__main__":
    main()
