#!/usr/bin/env python3
"""Runs moto's server one request at a time.

moto_server is threaded, and moto's DynamoDB backend applies a conditional UpdateItem without a lock:
two concurrent updates conditioned on the same version can both succeed (seen in our mixed-version
test: two writes both produced version 109). Real DynamoDB is atomic per item, so the emulator is
serialized here instead. (werkzeug's single-threaded server speaks HTTP/1.0, closing each connection,
so one client cannot hold it.)

Usage: moto_serial.py HOST PORT
"""
import os
import sys

from moto.server import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import run_simple


def main() -> None:
    host, port = sys.argv[1], int(sys.argv[2])
    os.environ.setdefault("MOTO_PORT", str(port))
    run_simple(host, port, DomainDispatcherApplication(create_backend_app), threaded=False)


if __name__ == "__main__":
    main()
