#!/usr/bin/env bash
# One construction on Flower's deployment runtime, all on this machine (loopback):
# export a bundle, start a SuperLink and N SuperNodes (partition-id 0..N-1) in the
# background, `flwr run` this app folder, wait for the run folder, stop every process
# this script started and remove its scratch folder.
#
#   deploy/flower/loopback.sh N OUT [construct options ...]
#
# N: number of ESs (one SuperNode each). OUT: the run folder to write (must not exist).
# Options after OUT go to `dyncontract construct --export` (with --n-es N); without any,
# a tiny trial is run (20 demos per ES, 2 rounds per period, 30 test missions, ...).
# Environment: DYNCONTRACT_BIN (folder holding dyncontract, flwr, flower-*; default: the
# repository's .venv/bin), LINK_PORT (SuperLink, default 8000), NODE_PORT0 (first
# SuperNode's runtime API port, default 9094; SuperNode i uses NODE_PORT0 + i),
# RUN_TIMEOUT (seconds for `flwr run`, default 3600).
# Exits non-zero when anything fails (the scratch folder with the logs is then kept).
set -euo pipefail

usage() { sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
[[ $# -ge 2 ]] || usage
N=$1
OUT=$2
shift 2
[[ $N =~ ^[1-9][0-9]*$ ]] || { echo "error: N must be a positive integer, got '$N'" >&2; exit 2; }

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BIN=${DYNCONTRACT_BIN:-$REPO/.venv/bin}
LINK_PORT=${LINK_PORT:-8000}
NODE_PORT0=${NODE_PORT0:-9094}
RUN_TIMEOUT=${RUN_TIMEOUT:-3600}
if [[ $# -eq 0 ]]; then
  set -- --set construction.demos_per_es=20 --set construction.eval_missions=30 \
    --set construction.rounds_per_period=2 --set construction.latency_episodes=3 \
    --set construction.gcycles_per_step=2 --set construction.references=false
fi

for exe in dyncontract flwr flower-superlink flower-supernode flower-superexec; do
  [[ -x $BIN/$exe ]] || { echo "error: $BIN/$exe not found (set DYNCONTRACT_BIN)" >&2; exit 2; }
done
# The SuperLink and the SuperNodes start `flower-superexec` (and it flwr-serverapp /
# flwr-clientapp) by name: the environment's bin folder must come first on PATH.
export PATH=$BIN:$PATH
mkdir -p "$(dirname "$OUT")"
OUT=$(cd "$(dirname "$OUT")" && pwd)/$(basename "$OUT")
[[ ! -e $OUT ]] || { echo "error: $OUT already exists" >&2; exit 2; }
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for p in "$LINK_PORT" $(seq "$NODE_PORT0" $((NODE_PORT0 + N - 1))); do
  if port_busy "$p"; then echo "error: port $p is in use (LINK_PORT / NODE_PORT0)" >&2; exit 2; fi
done

WORK=$(mktemp -d "${TMPDIR:-/tmp}/dyncontract-loopback.XXXXXX")
export FLWR_HOME=$WORK/flwr-home            # throw-away Flower home: config.toml, FABs
export FLWR_TELEMETRY_ENABLED=0 FLWR_DISABLE_UPDATE_CHECK=1
mkdir -p "$FLWR_HOME" "$WORK/logs"
PIDS=()
ok=0

tree() {  # a process and its descendants, by id
  local c
  echo "$1"
  for c in $(ps -o pid= --ppid "$1" 2>/dev/null); do tree "$c"; done
}
cleanup() {
  # stop what this script started: each daemon (started with setsid) with its process
  # group and its descendants (flower-superexec starts a session of its own, and it the
  # flwr-serverapp / flwr-clientapp processes)
  local pid i all=()
  for pid in "${PIDS[@]}"; do all+=($(tree "$pid")); done
  for pid in "${PIDS[@]}"; do kill -TERM -- "-$pid" 2>/dev/null || true; done
  for pid in "${all[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for i in $(seq 50); do
    local alive=0
    for pid in "${all[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [[ $alive == 0 ]] && break
    sleep 0.2
  done
  for pid in "${all[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [[ $ok == 1 ]]; then
    rm -rf "$WORK"
  else
    echo "failed; logs kept in $WORK/logs" >&2
    for f in "$WORK"/logs/*.log; do
      [[ -f $f ]] || continue
      echo "--- $f (last lines)" >&2
      grep -v "Sampling rejected" "$f" | tail -n 15 >&2 || true
    done
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fail() { echo "error: $*" >&2; exit 1; }

cat > "$FLWR_HOME/config.toml" <<EOF
[superlink]
default = "loopback"

[superlink.loopback]
address = "127.0.0.1:$LINK_PORT"
insecure = true
EOF

t0=$(date +%s.%N)
echo "[1/4] bundle: $N ESs"
dyncontract construct --export "$WORK/bundle.json" --n-es "$N" "$@" > "$WORK/logs/export.log" 2>&1 \
  || fail "dyncontract construct --export failed"

echo "[2/4] SuperLink on 127.0.0.1:$LINK_PORT, $N SuperNodes"
(cd "$WORK" && exec setsid flower-superlink --insecure --disable-runtime-dependency-installation \
  --port "$LINK_PORT") > "$WORK/logs/superlink.log" 2>&1 < /dev/null &
PIDS+=($!)
for _ in $(seq 300); do port_busy "$LINK_PORT" && break; sleep 0.2; done
port_busy "$LINK_PORT" || fail "the SuperLink did not start"
for i in $(seq 0 $((N - 1))); do
  (cd "$WORK" && exec setsid flower-supernode --insecure --superlink "127.0.0.1:$LINK_PORT" \
    --port $((NODE_PORT0 + i)) --node-config "partition-id=$i num-partitions=$N") \
    > "$WORK/logs/supernode-$i.log" 2>&1 < /dev/null &
  PIDS+=($!)
done
for _ in $(seq 600); do
  [[ $(grep -c "Activated node_id" "$WORK/logs/superlink.log" || true) -ge $N ]] && break
  for pid in "${PIDS[@]}"; do kill -0 "$pid" 2>/dev/null || fail "a SuperLink/SuperNode exited"; done
  sleep 0.2
done
[[ $(grep -c "Activated node_id" "$WORK/logs/superlink.log" || true) -ge $N ]] \
  || fail "not all $N SuperNodes connected"

echo "[3/4] flwr run (log: $WORK/logs/run.log)"
t1=$(date +%s.%N)
rc=0
(cd "$REPO" && timeout "$RUN_TIMEOUT" flwr run deploy/flower loopback \
  --run-config "bundle='$WORK/bundle.json' out='$OUT'" --stream) > "$WORK/logs/run.log" 2>&1 || rc=$?
t2=$(date +%s.%N)
[[ $rc == 0 ]] || fail "flwr run exited with $rc"
# `flwr run --stream` exits 0 even when the ServerApp fails: ask the SuperLink
RUN_ID=$(sed -n 's/.*Successfully started run \([0-9]*\).*/\1/p' "$WORK/logs/run.log" | head -n 1)
[[ -n $RUN_ID ]] || fail "flwr run did not start a run"
flwr ls loopback --run-id "$RUN_ID" --format json > "$WORK/logs/status.json" 2>> "$WORK/logs/run.log" \
  || fail "flwr ls failed"
STATUS=$("$BIN/python" -c 'import json,sys; print(json.load(open(sys.argv[1]))["runs"][0]["status"])' \
  "$WORK/logs/status.json")
[[ $STATUS == finished:completed ]] || fail "run $RUN_ID: $STATUS (see run.log)"
[[ -f $OUT/report.json ]] || fail "no $OUT/report.json (see run.log)"

echo "[4/4] done"
"$BIN/python" - "$OUT/report.json" "$WORK/logs/status.json" "$t0" "$t1" "$t2" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
s = json.load(open(sys.argv[2]))["runs"][0]
t0, t1, t2 = map(float, sys.argv[3:6])
print(f"run {s['run-id']} {s['status']}; runtime {r['runtime']}; flwr run {t2 - t1:.1f} s "
      f"(ServerApp {r['measured']['wall_s']:.1f} s); script {t2 - t0:.1f} s before shutdown; "
      f"traffic {s['network-traffic']['total-bytes'] / 1e6:.1f} MB")
print("weights_sha256:", " ".join(r["weights_sha256"]))
EOF
echo "wrote $OUT/"
ok=1
