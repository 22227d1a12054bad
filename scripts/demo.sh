#!/usr/bin/env bash
# The demo: start-worker boots the example worker from a standalone runner config, `runnerctl
# status` shows the live run over the local API socket, and the run ends on its own.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

bash scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" --target start-worker runnerctl example-worker >/dev/null
bin="$root/build/bin"

run_dir=$(mktemp -d /tmp/worker-runner-demo.XXXXXX)
sed -e "s|@BIN_DIR@|$bin|g" -e "s|@RUN_DIR@|$run_dir|g" deploy/demo/runner.yaml.in \
  > "$run_dir/runner.yaml"
chmod 600 "$run_dir/runner.yaml"
log="$run_dir/runner.log"

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "start-worker $run_dir/runner.yaml   (its log follows, on stderr)"
"$bin/start-worker" "$run_dir/runner.yaml" 2> >(tee "$log" >&2) &
runner=$!

# Wait (at most 20 s) until the worker has answered the runner's welcome.
for _ in $(seq 200); do
  grep -q "protocol negotiated" "$log" 2>/dev/null && break
  kill -0 "$runner" 2>/dev/null || break
  sleep 0.1
done

step "runnerctl status   (asked over $run_dir/api.sock while the worker runs)"
"$bin/runnerctl" --socket "$run_dir/api.sock" status || true
sleep 4
step "runnerctl -o json status   (a few seconds later)"
WORKER_RUNNER_SOCKET="$run_dir/api.sock" "$bin/runnerctl" -o json status || true

set +e
wait "$runner"
code=$?
set -e
sleep 0.2  # let tee flush the last log lines

step "what happened"
echo "start-worker exit code:        $code (0 = the worker ran and exited cleanly)"
echo "worker config written to:      $run_dir/generic-worker.json (mode $(stat -c %a "$run_dir/generic-worker.json"))"
if [ -e "$run_dir/api.sock" ]; then
  echo "local API socket:              still present (unexpected)"
else
  echo "local API socket:              removed at exit"
fi
echo "lines of worker log forwarded: $(grep -c ' INFO worker: ' "$log" || true)"
if grep -q "DEMO-placeholder-access-token" "$log"; then
  echo "access token in the log:       YES (unexpected)"
else
  echo "access token in the log:       never printed"
fi
echo "files of this run:             $run_dir"
exit "$code"
