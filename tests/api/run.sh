#!/bin/sh
# The API against its OpenAPI description (suite "api"): capture records
# real answers of every endpoint and error class, validate.mjs checks them
# against the description the server serves.
#
#   run.sh CAPTURE OUTDIR
#
# Exits 77 (skipped) without node or node_modules (run `npm ci` in
# tests/api).
set -u
here=$(cd "$(dirname "$0")" && pwd)
capture=$1
out=${2:-.}
skip() { echo "SKIP: $*"; exit 77; }
command -v node >/dev/null 2>&1 || skip "node not installed (apt-get install nodejs)"
[ -f "$here/node_modules/ajv/package.json" ] || skip "ajv missing: run 'npm ci' in tests/api"
mkdir -p "$out"
"$capture" "$out/answers.json" || exit 1
exec node "$here/validate.mjs" "$out/answers.json"
