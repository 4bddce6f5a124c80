#!/usr/bin/env python3
"""The built-in catalog is Microsoft's tables, row for row: for each of the
seven vantages, `portwatch catalog --vantage V --format json` must list the
rows of catalog_tables.tsv (transcribed from the reference documents) in
order, each with the same destination role, service, port or range and
protocol, and no other row. Usage: test_catalog_tables.py PORTWATCH TSV"""
import json
import re
import subprocess
import sys


def expected(path):
    """The role map (destination wording -> key) and the rows per vantage."""
    roles, tables = {}, {}
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line or line.startswith("#"):
                continue
            cells = line.split("\t")
            if cells[0] == "role" and len(cells) == 3:
                roles[cells[1]] = cells[2]
            elif len(cells) == 6:
                tables.setdefault(cells[0], []).append((n, cells[1:]))
            else:
                sys.exit(f"{path}:{n}: {len(cells)} cells; a row has 6, a role line 3")
    return roles, tables


def main():
    pw, tsv = sys.argv[1], sys.argv[2]
    roles, tables = expected(tsv)
    assert len(tables) == 7, sorted(tables)
    failures = 0
    for vantage, rows in tables.items():
        out = subprocess.run([pw, "catalog", "--vantage", vantage, "--format", "json"],
                             capture_output=True, text=True, check=True).stdout
        (table,) = json.loads(out)["vantages"]
        assert table["vantage"] == vantage, table["vantage"]
        got = table["rows"]
        for i, (line, (num, dest, service, port, proto)) in enumerate(rows):
            want = {
                "row": int(num),
                "role": roles[dest],
                "service": service,
                # a label in the port cell, "2383 (SQL Server 2005 Analysis
                # Services)", is not part of the port
                "port": re.sub(r" \(.*\)$", "", port),
                "protocol": proto,
            }
            have = {k: got[i][k] for k in want} if i < len(got) else None
            if have != want:
                print(f"FAIL: {vantage} row {num} ({tsv}:{line}): expected {want}, got {have}")
                failures += 1
        if len(got) != len(rows):
            print(f"FAIL: {vantage}: {len(got)} rows, the page has {len(rows)}")
            failures += 1
        print(f"{vantage}: {len(rows)} rows compared")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
