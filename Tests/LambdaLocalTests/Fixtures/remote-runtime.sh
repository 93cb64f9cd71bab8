#!/bin/sh
# A runtime whose loop is the test itself: publishes the Runtime API address in $RUNTIME_API_FILE (then
# renamed into place, so a reader never sees half of it) and waits to be killed. The test asks /next and
# posts results over its own HTTP client (RawHTTP.swift): chunked streams with trailers, late posts, N
# /next requests held open at once.
set -eu
printf '%s\n' "$AWS_LAMBDA_RUNTIME_API" > "$RUNTIME_API_FILE.$$"
mv "$RUNTIME_API_FILE.$$" "$RUNTIME_API_FILE"
exec sleep 120
