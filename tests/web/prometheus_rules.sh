#!/bin/sh
# The shipped Prometheus rules (packaging/prometheus): promtool checks their
# syntax and runs their unit tests (portwatch.rules.test.yml: input series
# and the alerts expected of each rule). Exits 77 without promtool.
# Usage: prometheus_rules.sh SOURCE_ROOT
set -eu
dir="$1/packaging/prometheus"
if ! command -v promtool >/dev/null 2>&1; then
    echo "SKIP: promtool is missing (apt-get install -y prometheus)"
    exit 77
fi
promtool check rules "$dir/portwatch.rules.yml"
promtool test rules "$dir/portwatch.rules.test.yml"
