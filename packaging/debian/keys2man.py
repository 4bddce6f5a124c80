#!/usr/bin/env python3
"""Fills the key reference of portwatch.ini(5) from the Markdown that
`portwatch config-check --keys` prints (the same text the README carries):
each "### [section]" becomes .SS, each table row a .TP entry. The manual
page is kept in the repository with the reference already filled in, so it
reads correctly without a package build; tests/cli keeps it in sync.

usage: keys2man.py portwatch.ini.5 KEYS.md > portwatch.ini.5.new
       (the lines between the BEGIN KEYS and END KEYS comments are replaced)
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


BEGIN = '.\\" BEGIN KEYS'
END = '.\\" END KEYS'


def main():
    page = open(sys.argv[1], encoding="utf-8").read().split("\n")
    keys = convert(open(sys.argv[2], encoding="utf-8").read())
    begin = [i for i, l in enumerate(page) if l.startswith(BEGIN)]
    end = [i for i, l in enumerate(page) if l.startswith(END)]
    if len(begin) != 1 or len(end) != 1 or begin[0] > end[0]:
        raise SystemExit("keys2man: the page needs one BEGIN KEYS and one END KEYS comment, in order")
    page[begin[0] + 1:end[0]] = keys.split("\n")
    sys.stdout.write("\n".join(page))


if __name__ == "__main__":
    main()
