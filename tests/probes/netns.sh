#!/bin/sh
# Runs a probe test binary inside a network namespace it creates, where
# nftables makes chosen ports on 127.0.0.1 drop or reject SYNs and the
# resolver points at a loopback port nothing answers on: no packet can
# leave the namespace. Exits 77 (skip) without root, `ip netns` or nft.
# Usage: netns.sh TEST-BINARY
set -u
bin=$1
if [ "$(id -u)" != 0 ]; then echo "skip: needs root"; exit 77; fi
if ! command -v ip >/dev/null 2>&1 || ! command -v nft >/dev/null 2>&1; then
    echo "skip: needs ip (iproute2) and nft"; exit 77
fi
ns=pwtest-$$
ip netns add "$ns" 2>/dev/null || { echo "skip: cannot create a network namespace"; exit 77; }
cleanup() {
    ip netns del "$ns" 2>/dev/null
    rm -rf "/etc/netns/$ns"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
# `ip netns exec` bind-mounts this over /etc/resolv.conf.
mkdir -p "/etc/netns/$ns" && echo "nameserver 127.0.0.1" > "/etc/netns/$ns/resolv.conf"
ip -n "$ns" link set lo up || exit 1
if ! ip netns exec "$ns" nft -f - <<'EOF'
table inet pwtest {
    chain in {
        type filter hook input priority 0; policy accept;
        tcp dport 2001 drop
        tcp dport 2002 reject with icmp type host-unreachable
        tcp dport 2003 reject with icmp type net-unreachable
        tcp dport 2004 reject with icmp type admin-prohibited
        tcp dport 2005 reject with icmpx type admin-prohibited
        tcp dport 2006 reject with icmp type host-prohibited
        tcp dport 2007 reject with icmp type net-prohibited
        tcp dport 2100-2139 drop
        ip daddr 127.0.0.50 tcp flags & (syn | ack) == syn drop
    }
    chain out {
        type filter hook output priority 0; policy accept;
        tcp dport 3002 reject with icmpx type admin-prohibited
    }
}
EOF
then
    echo "skip: nftables rules could not be loaded"; exit 77
fi
PW_NETNS="$ns" ip netns exec "$ns" "$bin"
