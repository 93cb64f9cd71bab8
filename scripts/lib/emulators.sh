# shellcheck shell=bash
# EMULATOR_URL is read by the scripts that source this file.
# shellcheck disable=SC2034
# Starts and stops local AWS emulators (moto_server, ministack) on 127.0.0.1 only, for the release
# tests. Source it; it defines functions only. Every server started here is remembered by its PID
# and stopped by stop_emulators (call it from an EXIT trap). Needs scripts/lib/common.sh (free_port)
# sourced first.

EMULATOR_PIDS=()
EMULATOR_URL=""

# wait_for_http URL SECONDS: polls URL until it answers (any HTTP status), at most SECONDS.
wait_for_http() {
  local url="$1" deadline=$((SECONDS + $2))
  while [ "$SECONDS" -lt "$deadline" ]; do
    curl -s -o /dev/null --max-time 2 "$url" && return 0
    sleep 0.2
  done
  return 1
}

# start_moto BIN LOGFILE: starts moto_server on a free port and sets EMULATOR_URL. Call it directly,
# not inside $(…), so that the PID is remembered.
start_moto() {
  local bin="$1" log="$2" port
  port="$(free_port)"
  "$bin" -H 127.0.0.1 -p "$port" >"$log" 2>&1 &
  EMULATOR_PIDS+=("$!")
  wait_for_http "http://127.0.0.1:$port/moto-api/" 30 || { echo "moto did not start; see $log" >&2; return 1; }
  EMULATOR_URL="http://127.0.0.1:$port"
}

# start_ministack BIN LOGFILE: starts ministack on a free port, loopback only and with its side
# listeners (IoT MQTT on 0.0.0.0:8883, SFTP) off, and sets EMULATOR_URL.
start_ministack() {
  local bin="$1" log="$2" port
  port="$(free_port)"
  BIND_HOST=127.0.0.1 GATEWAY_PORT="$port" MINISTACK_HOST=localhost IOT_MTLS_ENABLED=0 SFTP_ENABLED=0 \
    SFTP_HOST=127.0.0.1 SERVICES="${MINISTACK_SERVICES:-lambda,cloudwatch,iam,sts,logs}" \
    "$bin" >"$log" 2>&1 &
  EMULATOR_PIDS+=("$!")
  wait_for_http "http://127.0.0.1:$port/_ministack/health" 60 \
    || { echo "ministack did not start; see $log" >&2; return 1; }
  EMULATOR_URL="http://127.0.0.1:$port"
}

# stop_emulators: stops every server started above (by PID) and waits for it.
stop_emulators() {
  local pid
  for pid in "${EMULATOR_PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${EMULATOR_PIDS[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  EMULATOR_PIDS=()
}
