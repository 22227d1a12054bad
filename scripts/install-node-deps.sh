#!/usr/bin/env bash
# Installs the Node.js packages the tests use, each folder exactly as its package-lock.json pins:
#   tests/fakes/hawk   @hapi/hawk (the Hawk interoperability test and the fake Taskcluster)
#   tests/grpc_client  @grpc/grpc-js, @grpc/proto-loader, @grpc/reflection (the independent gRPC
#                      client of the local API)
# Safe to run again: a folder whose locked versions are already installed is left alone.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

for tool in node npm; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "install-node-deps: '$tool' not found; install Node.js 18 or newer (with npm) first" >&2
    exit 1
  fi
done

# Prints the packages of $1/package.json whose installed version differs from the locked one.
stale_packages() {
  node -e '
    const dir = process.argv[1];
    const lock = require(dir + "/package-lock.json");
    const wanted = Object.keys(require(dir + "/package.json").dependencies || {});
    for (const name of wanted) {
      const entry = (lock.packages || {})["node_modules/" + name];
      if (!entry) { console.log(name + " (missing from package-lock.json)"); continue; }
      let installed = "";
      try { installed = require(dir + "/node_modules/" + name + "/package.json").version; } catch (e) {}
      if (installed !== entry.version) console.log(name + "@" + entry.version);
    }
  ' "$1"
}

for dir in "$root/tests/fakes/hawk" "$root/tests/grpc_client"; do
  stale=$(stale_packages "$dir")
  if [ -z "$stale" ]; then
    echo "install-node-deps: ${dir#"$root"/} up to date"
    continue
  fi
  if echo "$stale" | grep -q "missing from package-lock.json"; then
    echo "install-node-deps: ${dir#"$root"/}: $stale" >&2
    exit 1
  fi
  echo "install-node-deps: installing into ${dir#"$root"/}/node_modules:" $stale
  (cd "$dir" && npm ci --ignore-scripts --no-audit --no-fund)
done
echo "install-node-deps: done"
