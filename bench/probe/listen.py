#!/usr/bin/env python3
"""Benchmark peer: listens on ADDR:PORT for every argument and keeps the
sockets open until stdin closes. Prints "ready" once everything is bound.
By default it never accepts (the kernel completes the handshakes: enough
for one sweep); with --accept it accepts and closes every connection, so
a daemon's sweeps do not fill the backlogs (bench/daemon)."""
import selectors
import socket
import sys

accept = sys.argv[1:2] == ["--accept"]
if accept:
    del sys.argv[1]

socks = []
for spec in sys.argv[1:]:
    addr, port = spec.rsplit(":", 1)
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, int(port)))
    s.listen(1024)
    socks.append(s)
print("ready", flush=True)
if not accept:
    sys.stdin.read()
    sys.exit(0)
sel = selectors.DefaultSelector()
sel.register(sys.stdin, selectors.EVENT_READ)
for s in socks:
    s.setblocking(False)
    sel.register(s, selectors.EVENT_READ)
while True:
    for key, _ in sel.select():
        if key.fileobj is sys.stdin:
            if not sys.stdin.read(1):
                sys.exit(0)
            continue
        try:
            key.fileobj.accept()[0].close()
        except BlockingIOError:
            pass
