# The benchmarks' farm (sourced by bench/daemon/run.sh and
# bench/store/run.sh, which must describe the same targets): host i of
# HOSTS at 127.0.4.1..., ports 50001..50000+PORTS, expect reachable.

# The address of host i (1-based).
addr() { echo "127.0.$((4 + ($1 - 1) / 250)).$(( ($1 - 1) % 250 + 1 ))"; }

# The farm's [check farmN] sections, one per 100 hosts (a line holds at
# most 4,096 bytes): farm_checks HOSTS PORTS
farm_checks() {
    _hosts=
    for _i in $(seq 1 "$1"); do
        _hosts="$_hosts${_hosts:+, }$(addr "$_i")"
        if [ $((_i % 100)) = 0 ] || [ "$_i" = "$1" ]; then
            printf '[check farm%s]\nhosts = %s\nports = 50001-%s\nexpect = reachable\n\n' \
                "$_i" "$_hosts" $((50000 + $2))
            _hosts=
        fi
    done
}
