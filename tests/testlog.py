#!/usr/bin/env python3
"""Summarises a meson test log (BUILD/meson-logs/testlog.json): one line per
test with check's own tally, then `N passed, N failed, N skipped`.

Used by packaging/dev.sh and packaging/windows/build.sh. Exit status: 1 when
a test failed or none ran; with --no-skip (CI), a skipped test fails too,
since CI installs every peer and runs as root: nothing has a reason to skip.

Usage: tests/testlog.py BUILD [--no-skip] [--prefix WORD]
"""
import argparse
import json
import re
import sys


def main(argv):
    ap = argparse.ArgumentParser(description='Summarise a meson test log.')
    ap.add_argument('build', help='the meson build directory')
    ap.add_argument('--no-skip', action='store_true', help='a skipped test fails (CI)')
    ap.add_argument('--prefix', default='', help='a word before the closing line')
    opt = ap.parse_args(argv[1:])
    prefix = opt.prefix + ': ' if opt.prefix else ''
    no_skip = opt.no_skip
    path = opt.build + '/meson-logs/testlog.json'
    ok, bad, skipped = [], [], []
    with open(path, encoding='utf-8') as log:
        for line in log:
            if not line.strip():
                continue
            t = json.loads(line)
            result = t['result']
            tally = re.findall(r'Checks: \d+, Failures: \d+, Errors: \d+',
                               t.get('stdout') or '')
            print(f"  {t['name']}: {result}" + (f" ({'; '.join(tally)})" if tally else ''))
            if result in ('OK', 'EXPECTEDFAIL'):
                ok.append(t['name'])
            elif result == 'SKIP':
                why = (t.get('stdout') or '').strip().splitlines()
                skipped.append(f"{t['name']} ({why[-1] if why else 'no reason given'})")
            else:
                bad.append(t['name'])
    for s in skipped:
        print(f"skipped: {s}")
    print(f"{prefix}{len(ok)} passed, {len(bad)} failed, {len(skipped)} skipped")
    if not ok and not bad:
        print("no test ran", file=sys.stderr)
        return 1
    if no_skip and skipped:
        print(f"{len(skipped)} skipped: in CI every peer is installed and tests run as root,"
              " so a skip is a failure; install what the reason names"
              " (packaging/packages.txt)", file=sys.stderr)
        return 1
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
