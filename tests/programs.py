#!/usr/bin/env python3
"""Proves that every external program the tests and fuzzers run comes from
a package packaging/dev.sh installs, so `packaging/dev.sh test` passes on a
pristine Debian 12 and not only on a machine that happens to have more.

It reads the test harness (tests/, tests/fuzz/run.sh, packaging/dev.sh) and
takes as a candidate every word of a shell script outside its comments; in
the Python, C and JavaScript sources, the program a spawning call names
(subprocess, spawn, popen, which), the commands of a string literal that is
a command line, and every absolute path. A candidate that
is a program on this machine is looked up with `dpkg -S`; its package must
be one packaging/packages.txt lists, one those depend on (Depends and
Pre-Depends only: Recommends may be switched off), or part of Debian's base
system (Essential or Priority: required, what a minimal debootstrap has).
Prints the table of programs and packages; exits 1 naming every program
that comes from anywhere else, with the file that runs it.

Usage: tests/programs.py [--verbose]
"""
import os
import re
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# What the README's starting point has besides Debian's base system: the
# clone needs git, and dev.sh needs sudo when not run as root.
PREREQUISITES = {'git', 'sudo'}

# Words that are programs on some machines but that the tests use only as
# English or as names of other things. Each needs its reason.
NOT_RUN = {
    'GET': 'an HTTP method in request text (libwww-perl has a program of that name)',
    'HEAD': 'an HTTP method in request text',
    'POST': 'an HTTP method in request text',
    'file': 'English in expected messages ("file is UTF-16")',
    'write': 'English in expected messages ("write it low-high")',
    'time': "a Python module in inline scripts ('import socket, time')",
    'daemon': 'English in messages ("daemon exited"); the package comes with prometheus',
}

# A word, not a variable's name ($opt, ${opt}) nor a piece of a path.
WORD = re.compile(r'(?<![\w.$/-])(?<!\$\{)(/[\w./+-]+|[A-Za-z][\w.+-]*)')
STRING = re.compile(r'"(?:[^"\\\n]|\\.)*"|\'(?:[^\'\\\n]|\\.)*\'|`[^`]*`')


def harness_files():
    out = subprocess.run(['git', '-C', ROOT, 'ls-files', 'tests', 'packaging/dev.sh'],
                         capture_output=True, text=True, check=True).stdout.split()
    skip_dirs = ('tests/fuzz/', 'tests/config/data/')
    for path in out:
        if path.endswith(('package-lock.json', '.md', '.pyc')):
            continue
        if path.startswith(skip_dirs) and not path.endswith(('.sh', '.c', '.build')):
            continue  # seed corpora and data
        yield path


def is_shell(path, text):
    return path.endswith('.sh') or re.match(r'#!.*\b(ba)?sh\b', text) is not None


def commands(piece):
    """Words in command position of a command line: first, and after | ; && $(."""
    for part in re.split(r'\|\|?|;|&&|\$\(', piece):
        m = WORD.search(part.strip())
        if m and m.start() == 0:
            yield m.group(1)


# A string literal that is a command line: a word, then options or a pipe
# ("curl -sf URL | promtool check metrics", "openssl req -x509 ...").
COMMAND_LINE = re.compile(r'^[A-Za-z][\w.+-]*( [^ -][^ ]*)? -|\| ')
# A call that starts a program or looks one up, with the program first.
SPAWN = re.compile(r'(?:Popen|subprocess\.\w+|which|spawn|execFile|execvp|execlp|popen|system)'
                   r'\(\s*\[?\s*["\'`]([A-Za-z][\w.+-]*)')
ABS_PATH = re.compile(r'(?<![\w.])/(?:usr/)?(?:s?bin|lib|libexec)/[\w./+-]+')


def candidates(path, text):
    """(word, line) pairs that may name a program: in a shell script, every
    word outside comments, quoted text and here-documents (arguments too:
    `find_bin rpcclient`; the others hold messages, patterns and files);
    elsewhere,
    the program of a spawning call (subprocess, spawn, popen, which), the
    commands of a string that is a command line, and absolute paths. Plain
    words in other strings are messages, not programs."""
    shell = is_shell(path, text)
    heredoc = None  # the word that ends the here-document we are in
    for n, line in enumerate(text.splitlines(), 1):
        if shell and heredoc:  # a file's or a program's text, not commands
            heredoc = None if line.strip() == heredoc else heredoc
            continue
        if shell:
            m = re.search(r"<<-?\s*['\"]?(\w+)", line)
            heredoc = m.group(1) if m else None
            code = re.sub(r'(^|\s)#.*', '', line)
            code = re.sub(r'\bfor\s+\w+', 'for', code)  # a loop variable is no program
            code = re.sub(r'"[^"$]*"|\'[^\']*\'', ' ', code)  # messages, patterns
            words = [m.group(1) for m in WORD.finditer(code)]
        else:
            words = SPAWN.findall(line)
            for m in STRING.finditer(line):
                body = m.group(0)[1:-1]
                if COMMAND_LINE.search(body):
                    words += commands(body)
            words += ABS_PATH.findall(line)
        for word in words:
            yield word.rstrip('.'), n


SYSTEM_DIRS = ('/usr/sbin', '/usr/bin', '/sbin', '/bin')


def program_path(word):
    """Where a pristine Debian would find word: the system's own folders
    only (not /usr/local or a user's PATH, which dpkg knows nothing of)."""
    if word.startswith('/'):
        return word if os.path.isfile(word) and os.access(word, os.X_OK) else None
    if '/' in word or len(word) < 2:
        return None
    return shutil.which(word, path=os.pathsep.join(SYSTEM_DIRS))


def owners(paths):
    """{path: Debian package that ships it}, from one dpkg -S call."""
    tries = {}  # a path dpkg may know -> the programs it stands for
    for path in paths:
        for p in {path, os.path.realpath(path)}:  # usrmerge: /bin/x is /usr/bin/x
            for q in (p, p[4:] if p.startswith('/usr/') else '/usr' + p):
                tries.setdefault(q, set()).add(path)
    r = subprocess.run(['dpkg', '-S', *sorted(tries)], capture_output=True, text=True)
    out = {}
    for line in r.stdout.splitlines():
        pkgs, _, p = line.partition(': ')
        for path in tries.get(p, ()):
            out.setdefault(path, pkgs.split(',')[0].split(':')[0].strip())
    return out


def listed_packages():
    """The words of packaging/packages.txt's sets that `dev.sh test` installs,
    the '?' mark dropped ([bench] is installed only for the benchmarks)."""
    pkgs = set()
    on = True
    with open(os.path.join(ROOT, 'packaging', 'packages.txt'), encoding='utf-8') as f:
        for line in f:
            line = line.split('#')[0].strip()
            if line.startswith('['):
                on = line.split()[0] in ('[run]', '[test]')
            elif line and on:
                pkgs.update(w.rstrip('?') for w in line.split())
    return pkgs


def closure(pkgs):
    """pkgs and what they depend on, as installed here."""
    r = subprocess.run(['apt-cache', 'depends', '--recurse', '--installed', '--no-recommends',
                        '--no-suggests', '--no-conflicts', '--no-breaks', '--no-replaces',
                        '--no-enhances', *sorted(pkgs)], capture_output=True, text=True)
    out = set(pkgs)
    for line in r.stdout.splitlines():
        m = re.match(r'\s*(?:\|?(?:Pre)?Depends: )?<?([\w.+-]+)>?(?::\w+)?$', line)
        if m:
            out.add(m.group(1))
    return out


def base_system():
    r = subprocess.run(['dpkg-query', '-W', '-f', '${Package}\t${Essential}\t${Priority}\n'],
                       capture_output=True, text=True, check=True)
    rows = (line.split('\t') for line in r.stdout.splitlines())
    return {row[0] for row in rows if len(row) == 3 and (row[1] == 'yes' or row[2] == 'required')}


def main(argv):
    if not shutil.which('dpkg'):
        print('skip: not a Debian system (no dpkg)')
        return 77
    verbose = '--verbose' in argv
    listed = listed_packages()
    allowed = closure(listed)
    base = base_system()
    seen = {}  # program path -> (word, file:line)
    for path in harness_files():
        try:
            with open(os.path.join(ROOT, path), encoding='utf-8') as f:
                text = f.read()
        except (UnicodeDecodeError, FileNotFoundError):
            continue
        for word, n in candidates(path, text):
            if word in NOT_RUN:
                continue
            prog = program_path(word)
            if prog and prog not in seen:
                seen[prog] = (word, f'{path}:{n}')
    bad = 0
    pkg_of = owners(seen)
    for prog in sorted(seen):
        word, where = seen[prog]
        pkg = pkg_of.get(prog)
        if pkg in listed:
            how = 'listed'
        elif pkg in allowed:
            how = 'a dependency of a listed package'
        elif pkg in base:
            how = 'base system'
        elif pkg in PREREQUISITES:
            how = 'a prerequisite (README)'
        else:
            how = None
        if how is None:
            bad += 1
            print(f'NOT INSTALLED BY dev.sh: {word} ({prog}, package {pkg or "unknown"}), '
                  f'run at {where}: add its package to packaging/packages.txt'
                  ' (or, if the word there is not a program, to NOT_RUN in tests/programs.py)'
                  + ('' if pkg else ' (dpkg -S does not know it: install it from a package)'))
        elif verbose or how != 'base system':
            print(f'  {word:<20} {pkg:<24} {how}')
    print(f'programs: {len(seen) - bad} passed, {bad} failed')
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
