# bench/probe/farm.sh (sourced): the 4,100-target farm of bench/probe and
# bench/daemon/blackbox.sh. farm_up NS WORK [--accept] makes network
# namespace NS with hosts 127.0.1.1-20 on its lo, of which 18-20 drop every
# SYN (nftables), and 14 listening ports a host (135, 445, 1164, 1433 and
# 10 of 50000-50200; bench/probe/listen.py, --accept passed on); the other
# ports refuse. Sets $hosts (the farm's host list) and $lpid (the
# listener); the listener lives while fd 3 (its stdin) stays open.
farm_ports="135, 445, 1164, 1433, 50000-50200"
farm_up() {
    ip netns add "$1"
    ip -n "$1" link set lo up
    ip netns exec "$1" nft -f - <<'NFT'
table inet pwbench {
    chain in {
        type filter hook input priority 0; policy accept;
        ip daddr 127.0.1.18-127.0.1.20 tcp flags & (syn | ack) == syn drop
    }
}
NFT
    hosts=
    _specs=
    for _i in $(seq 1 20); do
        hosts="$hosts${hosts:+, }127.0.1.$_i"
        for _p in 135 445 1164 1433 50000 50020 50040 50060 50080 50100 50120 50140 50160 50180; do
            _specs="$_specs 127.0.1.$_i:$_p"
        done
    done
    mkfifo "$2/hold"
    ip netns exec "$1" python3 "$root/bench/probe/listen.py" ${3:-} $_specs \
        <"$2/hold" >"$2/ready" &
    lpid=$!
    exec 3>"$2/hold"
    for _ in $(seq 100); do grep -q ready "$2/ready" 2>/dev/null && break; sleep 0.1; done
}
