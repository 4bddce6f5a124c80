#!/bin/sh
# The documentation matches the binary: portwatch(1) names every command
# and every option, portwatch.ini(5) carries the key reference the binary
# prints (and no template placeholder), and no file of the tree cites a
# path that does not exist.
# Usage: test_docs.sh PORTWATCH SOURCE_ROOT
set -u
pw=$1
src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() { echo "FAIL: $*"; fail=$((fail + 1)); }
man1=$src/packaging/debian/portwatch.1
man5=$src/packaging/debian/portwatch.ini.5

# roff escapes '-' as '\-'
roff() { printf '%s' "$1" | sed 's/-/\\-/g'; }

# portwatch(1): every command in the synopsis and under COMMANDS, every option
commands=$("$pw" --help | sed -n '/^commands:/,/^$/s/^  \([a-z-]*\) .*/\1/p')
[ -n "$commands" ] || bad "no commands in 'portwatch --help'"
for c in $commands; do
    r=$(roff "$c")
    if grep -qxF ".B portwatch $r" "$man1" && grep -qxF ".B $r" "$man1"; then ok; else
        bad "portwatch.1 lacks the command $c (in SYNOPSIS as '.B portwatch $r' and under COMMANDS as '.B $r')"; fi
    for o in $("$pw" "$c" --help | sed -n '/^options:/,$s/^ *\(-[a-z], \)\{0,1\}--\([a-z-]*\).*/\2/p'); do
        if grep -qF -- "\\-\\-$(roff "$o")" "$man1"; then ok; else
            bad "portwatch.1 lacks the option --$o of $c"; fi
    done
done

# portwatch.ini(5): the key reference is the binary's, and nothing is left
# for a build to fill in
"$pw" config-check --keys >"$tmp/keys.md"
if python3 "$src/packaging/debian/keys2man.py" "$man5" "$tmp/keys.md" | cmp -s - "$man5"; then ok; else
    bad "portwatch.ini.5's key reference differs from 'portwatch config-check --keys'; regenerate it:"
    echo "  python3 packaging/debian/keys2man.py $man5 KEYS.md > new && mv new $man5"; fi
if grep -n '@[A-Z_]*@' "$man1" "$man5"; then bad "a manual page holds a build placeholder"; else ok; fi

# comments and docs cite only paths that exist (at the root, or beside the file)
if python3 - "$src" <<'PY'
import os, re, sys
root = sys.argv[1]
cite = re.compile(r"(?<![\w./-])((?:\.\./)*(?:config|probes|store|web|daemon|tests|packaging|bench)"
                  r"/[\w./-]*\.(?:md|c|h|py|sh|ini|js|css|html|txt|build))\b")
skip_dirs = {".git", "node_modules", "__pycache__"}
missing = []
for d, dirs, files in os.walk(root):
    dirs[:] = [x for x in dirs if x not in skip_dirs and not x.startswith("build")]
    for name in files:
        path = os.path.join(d, name)
        try:
            text = open(path, encoding="utf-8").read()
        except (UnicodeDecodeError, OSError):
            continue
        for m in cite.finditer(text):
            p = m.group(1)
            # a header windmc makes from a message table at build time counts
            made = os.path.splitext(p)[0] + ".mc"
            if not (os.path.exists(os.path.join(root, p)) or os.path.exists(os.path.join(d, p))
                    or os.path.exists(os.path.join(root, made))):
                missing.append(f"{os.path.relpath(path, root)}: {p}")
for m in missing:
    print("cites a missing file:", m)
sys.exit(1 if missing else 0)
PY
then ok; else bad "files cite paths that do not exist (above)"; fi

echo "docs: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
