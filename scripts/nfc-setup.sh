#!/usr/bin/env bash
# Makes sure pcscd runs with vsmartcard's virtual readers (vpcd), which the
# NFC end-to-end tests use (ble-reader/nfc, cmd/vcard): installs the Debian
# packages when missing and starts pcscd when it is not running or runs
# without vpcd. Idempotent: run it as often as you like (.ci/run does).
#
# vpcd listens on every interface (ports 35963 and 35964) with no
# authentication: run this on CI machines and development boxes, not on a
# reader in production.
set -euo pipefail

log() { echo "nfc-setup: $*"; }

socket=${PCSCLITE_CSOCK_NAME:-/run/pcscd/pcscd.comm}
pcscd_log=${PCSCD_LOG:-${TMPDIR:-/tmp}/pcscd.log}
vpcd_driver=/usr/lib/pcsc/drivers/serial/libifdvpcd.so

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# vpcd_listening: pcscd has loaded vpcd, whose first reader waits for a
# virtual card on TCP 35963 (0x8C7B).
vpcd_listening() {
  if command -v ss >/dev/null 2>&1; then
    ss -ltn 2>/dev/null | grep -q ':35963 '
  else
    grep -qi ':8C7B 00000000:0000 0A' /proc/net/tcp /proc/net/tcp6 2>/dev/null
  fi
}

pcscd_running() {
  pgrep -x pcscd >/dev/null 2>&1 && [ -S "$socket" ]
}

if ! command -v pcscd >/dev/null 2>&1 || [ ! -e "$vpcd_driver" ]; then
  log "installing pcscd and vsmartcard-vpcd"
  export DEBIAN_FRONTEND=noninteractive
  as_root apt-get update -qq
  as_root apt-get install -y -qq pcscd vsmartcard-vpcd >/dev/null
fi

if pcscd_running && vpcd_listening; then
  log "pcscd is running with vpcd"
  exit 0
fi

if pcscd_running; then
  # Started before vpcd was installed: pcscd reads its reader
  # configuration only at start.
  log "restarting pcscd to load vpcd"
  pid=$(cat /run/pcscd/pcscd.pid 2>/dev/null || pgrep -x pcscd | head -n1)
  as_root kill "$pid"
  for _ in $(seq 1 50); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
fi

log "starting pcscd (log: $pcscd_log)"
# In the foreground of its own session, so it outlives this script and its
# log is a file rather than syslog (which CI containers lack). Without
# --auto-exit it stays up however long the tests take to start.
as_root setsid pcscd --foreground >>"$pcscd_log" 2>&1 </dev/null &

for _ in $(seq 1 100); do
  if pcscd_running && vpcd_listening; then
    log "pcscd is running with vpcd"
    exit 0
  fi
  sleep 0.1
done
log "pcscd did not come up with vpcd; its log:"
tail -n 30 "$pcscd_log" >&2 || true
exit 1
