#!/bin/sh
# Checks fakeswitch against Node's modesl, a real third-party ESL client.
# Installs modesl with npm into a temporary directory; fails (saying so)
# when npm cannot reach the registry. Run from the repository root.
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
trap 'kill "$fspid" 2>/dev/null || true; rm -rf "$tmp"' EXIT
fspid=

command -v node >/dev/null || { echo "modesl check: node not installed" >&2; exit 1; }
command -v npm >/dev/null || { echo "modesl check: npm not installed" >&2; exit 1; }
if ! (cd "$tmp" && npm init -y >/dev/null && npm install --no-audit --no-fund modesl@1 >"$tmp/npm.log" 2>&1); then
	echo "modesl check: npm install modesl failed (registry unreachable?):" >&2
	cat "$tmp/npm.log" >&2
	exit 1
fi

(cd "$root" && go build -o "$tmp/fsrun" ./fakeswitch/internal/fsrun)
mkfifo "$tmp/in"
"$tmp/fsrun" <"$tmp/in" >"$tmp/out" &
fspid=$!
exec 3>"$tmp/in" # keeps fsrun running until this script exits
i=0
until grep -q '^ADDR ' "$tmp/out"; do
	i=$((i + 1))
	[ "$i" -lt 100 ] || { echo "modesl check: fakeswitch did not start" >&2; exit 1; }
	sleep 0.1
done
set -- $(cat "$tmp/out")
addr=$2 password=$4
NODE_PATH="$tmp/node_modules" node "$root/.ci/modesl/check.js" "${addr%:*}" "${addr##*:}" "$password"
