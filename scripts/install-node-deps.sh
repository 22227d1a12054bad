#!/usr/bin/env bash
# Installs the Node.js packages used by the Hawk interoperability test into
# tests/fakes/hawk/node_modules, exactly as locked in tests/fakes/hawk/package-lock.json.
# Safe to run again: it does nothing when the locked version is already installed.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dir="$root/tests/fakes/hawk"
package="@hapi/hawk"

for tool in node npm; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "install-node-deps: '$tool' not found; install Node.js 18 or newer (with npm) first" >&2
    exit 1
  fi
done

# The version the lock file pins, and the one installed (if any).
locked=$(node -e '
  const lock = require(process.argv[1]);
  const entry = (lock.packages || {})["node_modules/" + process.argv[2]];
  process.stdout.write(entry ? entry.version : "");
' "$dir/package-lock.json" "$package")
if [ -z "$locked" ]; then
  echo "install-node-deps: $package is missing from $dir/package-lock.json" >&2
  exit 1
fi
installed=$(node -e '
  try { process.stdout.write(require(process.argv[1]).version); } catch (e) {}
' "$dir/node_modules/$package/package.json")

if [ "$installed" = "$locked" ]; then
  echo "install-node-deps: $package $locked already installed"
  exit 0
fi

echo "install-node-deps: installing $package $locked into $dir/node_modules"
(cd "$dir" && npm ci --ignore-scripts --no-audit --no-fund)
echo "install-node-deps: done"
