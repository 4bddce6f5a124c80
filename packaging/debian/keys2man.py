#!/usr/bin/env python3
"""Fills the key reference of portwatch.ini(5) from the Markdown that
`portwatch config-check --keys` prints (the same text the README carries):
each "### [section]" becomes .SS, each table row a .TP entry.

usage: keys2man.py TEMPLATE KEYS.md > portwatch.ini.5   (@KEYS@ is replaced)
"""
import re
import sys


def roff(text):
    text = text.replace("\\", "\\e").replace("`", "")
    text = text.replace("-", "\\-")
    return re.sub(r"^([.'])", r"\\&\1", text)


def convert(md):
    out = []
    for line in md.splitlines():
        m = re.match(r"^#+\s*(\[.*\])\s*$", line)
        if m:
            out.append(f".SS {roff(m.group(1))}")
            continue
        if not line.startswith("|") or line.startswith("|---") or line.startswith("| key"):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 5:
            raise SystemExit(f"keys2man: unexpected row: {line}")
        key, typ, default, allowed, meaning = cells
        facts = [typ]
        if default:
            facts.append(f"default {default}")
        if allowed:
            facts.append(allowed)
        out.append(".TP")
        out.append(f".BR {roff(key.strip('`'))} \" ({roff(', '.join(facts))})\"")
        out.append(roff(meaning))
    if not any(l.startswith(".TP") for l in out):
        raise SystemExit("keys2man: no keys found")
    return "\n".join(out)


def main():
    template = open(sys.argv[1], encoding="utf-8").read()
    keys = convert(open(sys.argv[2], encoding="utf-8").read())
    if "@KEYS@" not in template:
        raise SystemExit("keys2man: template has no @KEYS@")
    sys.stdout.write(template.replace("@KEYS@", keys))


if __name__ == "__main__":
    main()
