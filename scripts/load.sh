#!/usr/bin/env bash
# Sends realistic profile traffic to lambda-local's front door at a fixed rate, and shows which
# version served it (X-Amz-Executed-Version), second by second.
set -euo pipefail

usage() {
  cat <<'USAGE'
Usage: scripts/load.sh --rate R --duration S [--users N] [--port P] [--log FILE]

Sends R requests a second for S seconds to http://127.0.0.1:P (lambda-local's API Gateway front
door; 127.0.0.1 only), a mix over N users' profiles, each with an unsigned JWT (sub = the user id,
which lambda-local passes to the function without checking a signature):
  45% GET /profiles/{id}   25% PUT /profiles/{id}   20% PATCH /profiles/{id}   10% GET /health
Requests start on a fixed schedule (not one after the other), from up to 32 connections kept alive.
PUT and PATCH send the name field of the schema the user's profile was last served in
(x-profile-schema: name in 1, displayName in 2), switching after a 400, as a client would.

Every second it prints one line: requests answered in that second, status classes, connection
errors, and the share of each executed version (X-Amz-Executed-Version). At the end, a table per
version: requests, share, 2xx/4xx/5xx, p50 and p99 latency.

Options:
  --rate R        requests per second, 1-400 (required)
  --duration S    seconds, 1-3600 (required)
  --users N       distinct users, 1-10000 (default 20)
  --port P        lambda-local's port (default: $PORT, else 9000)
  --log FILE      also write one line per request: "EPOCH_MS VERSION STATUS", EPOCH_MS when it was
                  sent (STATUS 0: connection error; VERSION - when none was reported)
Ctrl-C (or SIGTERM) stops sending early; the answers still awaited are counted, then the table.
  -h, --help      this text

Exit status: 0 when every request got an HTTP answer; 3 when any got a connection error or timed out
(10 s); 64 for a bad command line; 1 when python3 is missing.
USAGE
}

rate="" duration="" users=20 port="${PORT:-9000}" log_file=""
# shellcheck source=scripts/lib/common.sh
source "$(dirname "$0")/lib/common.sh"
while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --rate) need_value load.sh "$1" "a number" "${2-}"; rate="$2"; shift 2 ;;
    --duration) need_value load.sh "$1" "seconds" "${2-}"; duration="$2"; shift 2 ;;
    --users) need_value load.sh "$1" "a number" "${2-}"; users="$2"; shift 2 ;;
    --port) need_value load.sh "$1" "a port" "${2-}"; port="$2"; shift 2 ;;
    --log) need_value load.sh "$1" "a file" "${2-}"; log_file="$2"; shift 2 ;;
    *) echo "load.sh: unknown argument '$1' (see --help)" >&2; exit 64 ;;
  esac
done
in_range() { [[ "$1" =~ ^[0-9]+$ ]] && [ "$1" -ge "$2" ] && [ "$1" -le "$3" ]; }
{ [ -n "$rate" ] && [ -n "$duration" ]; } || { echo "load.sh: --rate and --duration are required (see --help)" >&2; exit 64; }
in_range "$rate" 1 400 || { echo "load.sh: --rate must be a whole number within 1-400, not '$rate'" >&2; exit 64; }
in_range "$duration" 1 3600 || { echo "load.sh: --duration must be a whole number of seconds within 1-3600, not '$duration'" >&2; exit 64; }
in_range "$users" 1 10000 || { echo "load.sh: --users must be within 1-10000, not '$users'" >&2; exit 64; }
in_range "$port" 1 65535 || { echo "load.sh: --port must be within 1-65535, not '$port'" >&2; exit 64; }
command -v python3 >/dev/null 2>&1 || { echo "load.sh: python3 is needed" >&2; exit 1; }

exec python3 - "$rate" "$duration" "$users" "$port" "$log_file" <<'PY'
import base64, collections, http.client, json, random, signal, sys, threading, time
from concurrent.futures import ThreadPoolExecutor

rate, duration, users, port = (int(v) for v in sys.argv[1:5])
log_path = sys.argv[5]
HOST = "127.0.0.1"  # never anything else
WORKERS = min(32, max(2, rate // 4))

def token(user):
    payload = base64.urlsafe_b64encode(json.dumps({"sub": user}).encode()).decode().rstrip("=")
    return "e30." + payload + ".x"  # header {}, no signature

user_ids = ["load-user-%d" % n for n in range(users)]
tokens = {u: token(u) for u in user_ids}

# The schema each user's profile is served in (x-profile-schema), as a client learns it: the flag
# enableNewProfileSchema puts some users on schema 2, whose name field is displayName.
schemas = {}

def request_for(rng):
    user = rng.choice(user_ids)
    roll = rng.random()
    headers = {"Authorization": "Bearer " + tokens[user]}
    name_field = "displayName" if schemas.get(user) == "2" else "name"
    if roll < 0.45:
        return user, "GET", "/profiles/" + user, None, headers
    if roll < 0.70:
        headers["Content-Type"] = "application/json"
        body = {name_field: "User %s" % user[-4:], "email": "%s@example.com" % user}
        return user, "PUT", "/profiles/" + user, json.dumps(body), headers
    if roll < 0.90:
        headers["Content-Type"] = "application/merge-patch+json"
        return user, "PATCH", "/profiles/" + user, json.dumps({name_field: "Renamed %d" % rng.randint(1, 999)}), headers
    return user, "GET", "/health", None, {}

lock = threading.Lock()
per_second = collections.defaultdict(lambda: collections.Counter())
totals = collections.defaultdict(lambda: collections.Counter())
latencies = collections.defaultdict(list)
log_lines = []
local = threading.local()

def send(user, method, path, body, headers):
    if interrupted.is_set():
        return
    started = time.time()
    version, status = "-", 0
    for attempt in (1, 2):
        conn = getattr(local, "conn", None)
        if conn is None:
            conn = local.conn = http.client.HTTPConnection(HOST, port, timeout=10)
        try:
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            response.read()
            status = response.status
            version = response.getheader("X-Amz-Executed-Version") or "-"
            schema = response.getheader("x-profile-schema")
            if schema:
                schemas[user] = schema
            elif status == 400 and method in ("PUT", "PATCH"):
                # Refused fields: the other schema (a client that reads the error would switch too).
                schemas[user] = "1" if schemas.get(user) == "2" else "2"
            if response.getheader("Connection", "").lower() == "close":
                conn.close(); local.conn = None
            break
        except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as error:
            # A kept-alive connection the server closed between requests: one fresh try, as browsers do.
            conn.close(); local.conn = None
            if attempt == 2:
                status = 0
        except OSError:
            conn.close(); local.conn = None
            status = 0
            break
    finished = time.time()
    second = int(finished)
    klass = "conn-errors" if status == 0 else "%dxx" % (status // 100)
    with lock:
        per_second[second]["answered"] += 1
        per_second[second][klass] += 1
        per_second[second]["v:" + version] += 1
        totals[version]["requests"] += 1
        totals[version][klass] += 1
        latencies[version].append((finished - started) * 1000)
        if log_path:
            log_lines.append("%d %s %d" % (int(started * 1000), version, status))

def progress_line(elapsed, counts):
    versions = sorted(k[2:] for k in counts if k.startswith("v:"))
    answered = counts["answered"]
    shares = "  ".join("version %s %5.1f%%" % (v, 100.0 * counts["v:" + v] / answered) for v in versions) if answered else "-"
    return ("load.sh: %4ds  answered %4d  2xx %4d  4xx %3d  5xx %3d  conn-errors %d  | %s"
            % (elapsed, answered, counts["2xx"], counts["4xx"], counts["5xx"], counts["conn-errors"], shares))

def reporter(start, stop):
    shown = int(start)
    while not stop.is_set() or shown < int(time.time()):
        now = time.time()
        if int(now) > shown:
            with lock:
                counts = per_second.pop(shown, collections.Counter())
            print(progress_line(shown - int(start) + 1, counts), flush=True)
            shown += 1
        else:
            time.sleep(min(0.1, int(now) + 1 - now + 0.01))

print("load.sh: %d requests/s for %ds over %d users to http://%s:%d (%d connections)" % (rate, duration, users, HOST, port, WORKERS), flush=True)
rng = random.Random()
stop = threading.Event()
interrupted = threading.Event()
# Ctrl-C or kill: stop sending, wait for the answers, print the table.
for number in (signal.SIGINT, signal.SIGTERM):
    signal.signal(number, lambda *_: interrupted.set())
start = time.time()
report_thread = threading.Thread(target=reporter, args=(start, stop), daemon=True)
report_thread.start()
skipped = 0
in_flight = threading.Semaphore(WORKERS * 8)
with ThreadPoolExecutor(max_workers=WORKERS) as pool:
    for n in range(rate * duration):
        due = start + n / rate
        delay = due - time.time()
        if delay > 0:
            interrupted.wait(delay)
        if interrupted.is_set():
            break
        if not in_flight.acquire(blocking=False):
            skipped += 1  # the server is so slow that requests pile up: do not queue without bound
            continue
        future = pool.submit(send, *request_for(rng))
        future.add_done_callback(lambda _: in_flight.release())
stop.set()
report_thread.join(timeout=15)

total = sum(t["requests"] for t in totals.values())
print("load.sh: done: %d requests in %.1fs%s" % (total, time.time() - start,
      ", %d not sent (more than %d waiting for an answer)" % (skipped, WORKERS * 8) if skipped else ""))
print("%-10s %9s %7s %7s %7s %7s %11s %7s %9s" % ("version", "requests", "share", "2xx", "4xx", "5xx", "conn-errors", "p50 ms", "p99 ms"))
errors = 0
for version in sorted(totals):
    t = totals[version]
    lat = sorted(latencies[version])
    p = lambda q: lat[min(len(lat) - 1, max(0, int(q * len(lat) + 0.999999) - 1))] if lat else 0
    errors += t["conn-errors"]
    print("%-10s %9d %6.1f%% %7d %7d %7d %11d %7.1f %9.1f" % (version, t["requests"], 100.0 * t["requests"] / max(1, total),
          t["2xx"], t["4xx"], t["5xx"], t["conn-errors"], p(0.5), p(0.99)))
if log_path:
    with open(log_path, "w") as handle:
        handle.write("\n".join(log_lines) + ("\n" if log_lines else ""))
sys.exit(3 if errors or skipped else 0)
PY
