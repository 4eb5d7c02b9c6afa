#!/usr/bin/env bash
# The Lintel demo: a server on SQLite, one simulated reader over the local
# BLE link and the phone simulator. It issues a credential, taps (granted),
# revokes it, taps again (denied within a second, pushed over the server's
# event stream), and prints the event log. Everything runs on loopback
# under a temporary directory, removed at the end.
#
#   bash cmd/phonesim/demo.sh        (from the repository root; `make demo`)
set -euo pipefail

GO=${GO:-go}
ADDR=${LINTEL_DEMO_ADDR:-127.0.0.1:18080}
BLE=${LINTEL_DEMO_BLE:-127.0.0.1:17001}
STATUS=${LINTEL_DEMO_STATUS:-127.0.0.1:17002}
WORK=$(mktemp -d)
KEY="demo-operator-key-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$WORK"
}
trap cleanup EXIT

echo "== building"
$GO build -o "$WORK/bin/" ./cmd/lintel ./cmd/ble-reader ./cmd/phonesim
phonesim() { "$WORK/bin/phonesim" "$@"; }

echo "== starting the server on $ADDR (SQLite in $WORK/server)"
LINTEL_ADDR=$ADDR LINTEL_DATA_DIR=$WORK/server LINTEL_BOOTSTRAP_KEY=$KEY LINTEL_LOG_LEVEL=warn \
	"$WORK/bin/lintel" serve >"$WORK/server.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do
	curl -fsS "http://$ADDR/healthz" >/dev/null 2>&1 && break
	sleep 0.1
done

echo "== provisioning a site, a door, a group, a user and a reader"
phonesim setup -server "http://$ADDR" -key "$KEY" -setup "$WORK/demo.json" -token-out "$WORK/reader.token"

echo "== starting the reader (simulated door, BLE over the local link $BLE)"
"$WORK/bin/ble-reader" -server "http://$ADDR" -token-file "$WORK/reader.token" -data-dir "$WORK/reader" \
	-ble local -ble-addr "$BLE" -door sim -unlock 2s -status "$STATUS" -log-level info >"$WORK/reader.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do
	curl -fsS "http://$STATUS/status" 2>/dev/null | grep -q '"bundle_version":[1-9]' && break
	sleep 0.1
done
echo "reader status: $(curl -fsS "http://$STATUS/status")"

echo "== issuing a mobile credential; the phone accepts it"
phonesim enroll -setup "$WORK/demo.json" -state "$WORK/phone.json"

echo "== tap"
phonesim tap -state "$WORK/phone.json" -reader "$BLE"

echo "== revoking the credential"
phonesim revoke -setup "$WORK/demo.json" -state "$WORK/phone.json"
start=$(date +%s%N)
echo "== tap again"
until out=$(phonesim tap -state "$WORK/phone.json" -reader "$BLE"); [[ $out == denied* ]]; do
	if (( ($(date +%s%N) - start) > 1000000000 )); then
		echo "FAIL: still $out a second after the revocation"
		exit 1
	fi
done
echo "$out (revocation in force $(( ($(date +%s%N) - start) / 1000000 )) ms after the admin's call)"

echo "== reader log (door)"
grep -E '"msg":"(door open|door closed|access|revocation applied from stream)"' "$WORK/reader.log" | cut -c1-220 || true

echo "== event log at the server"
for _ in $(seq 50); do
	n=$(phonesim events -setup "$WORK/demo.json" | grep -c ' access ' || true)
	(( n >= 2 )) && break
	sleep 0.1
done
phonesim events -setup "$WORK/demo.json"
