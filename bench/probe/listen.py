#!/usr/bin/env python3
"""Benchmark peer: listens on ADDR:PORT for every argument and keeps the
sockets open (never accepting: the kernel completes the handshakes) until
stdin closes. Prints "ready" once everything is bound."""
import socket
import sys

socks = []
for spec in sys.argv[1:]:
    addr, port = spec.rsplit(":", 1)
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, int(port)))
    s.listen(64)
    socks.append(s)
print("ready", flush=True)
sys.stdin.read()
