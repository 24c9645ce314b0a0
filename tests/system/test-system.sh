#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# keyd under a real systemd: `meson install` of this build into a DESTDIR,
# then systemd booted as PID 1 of a container (systemd-nspawn
# --volatile=yes over the host's /usr, with that tree layered over it), with
# its own system bus: dbus-daemon first, then dbus-broker. Inside, through
# the installed files only, the checks below. Suite 'system'.
#
# Everything the boot makes is torn down by PID and cgroup on every way out:
# the container, the child cgroups it ran in, nspawn's /run/systemd leftovers
# and the temporary tree. The host's own system bus and /etc are never used.
#
# Timing: the installed unit says WatchdogSec=30s and --exit-idle-time=300.
# For the watchdog and idle checks only, a runtime drop-in shortens both to
# 2 s (the checks for them come last); every hardening line is the
# installed unit's.

set -euo pipefail

: "${KEYD_BUILD_ROOT:?set by meson}"
here=$(cd "$(dirname "$0")" && pwd)
# The container runs the host's /usr: its python3, not one found on $PATH.
CT_PYTHON=/usr/bin/python3
KEYD_BUS_NAME=org.keyd.KeyBroker1
SECURITY_MAX=1.5
# What `apt-get download dbus-broker` fetched, kept across runs.
BROKER_CACHE=${KEYD_BROKER_CACHE:-$KEYD_BUILD_ROOT/tests/system/dbus-broker}

skip() {
        echo "SKIP: $*"
        exit 77
}

[[ $(id -u) == 0 ]] || skip "booting systemd in a container needs root"
for p in systemd-nspawn nsenter setpriv "$CT_PYTHON" apt-get dpkg; do
        command -v "$p" >/dev/null || skip "$p is not installed (scripts/install-deps installs it)"
done

unset DBUS_SESSION_BUS_ADDRESS DBUS_SYSTEM_BUS_ADDRESS JOURNAL_STREAM NOTIFY_SOCKET

flavour=setup
START=$(date +%s.%N)
work=$(mktemp -d /tmp/keyd-system-XXXXXX)
chmod 0755 "$work"
nspawn_pid=
leader=
cgroups=()
run_before=$(ls -d /run/systemd/nspawn* 2>/dev/null || true)

# Where the cgroup v2 tree is, and the named v1 hierarchy of a hybrid host.
if [[ $(stat -f -c %T /sys/fs/cgroup) == cgroup2fs ]]; then
        CG_UNIFIED=/sys/fs/cgroup
        CG_NAMED=
else
        CG_UNIFIED=/sys/fs/cgroup/unified
        CG_NAMED=/sys/fs/cgroup/systemd
        [[ -d $CG_UNIFIED ]] || skip "no cgroup v2 tree at $CG_UNIFIED: DevicePolicy= and IPAddressDeny= cannot be enforced"
fi

# kill_cgroup DIR: SIGKILL everything in DIR and below, until it is empty.
kill_cgroup() {
        local dir=$1 i pids
        [[ -d $dir ]] || return 0
        for ((i = 0; i < 50; i++)); do
                pids=$(find "$dir" -name cgroup.procs -exec cat {} + 2>/dev/null || true)
                [[ -z $pids ]] && return 0
                if [[ -e $dir/cgroup.kill ]]; then
                        echo 1 >"$dir/cgroup.kill" 2>/dev/null || true
                else
                        # shellcheck disable=SC2086
                        kill -KILL $pids 2>/dev/null || true
                fi
                sleep 0.1
        done
        echo "test-system: processes left in $dir: $pids" >&2
        return 1
}

# stop_container: poweroff inside (a clean shutdown), then SIGKILL whatever
# is left, by nspawn's PID and by cgroup; remove the cgroups.
stop_container() {
        local i cg
        if [[ -n $leader ]]; then
                timeout 10 nsenter -t "$leader" -a systemctl poweroff --no-block >/dev/null 2>&1 || true
        fi
        if [[ -n $nspawn_pid ]]; then
                for ((i = 0; i < 100; i++)); do
                        kill -0 "$nspawn_pid" 2>/dev/null || break
                        sleep 0.1
                done
                kill -KILL "$nspawn_pid" 2>/dev/null || true
                wait "$nspawn_pid" 2>/dev/null || true
        fi
        for cg in "${cgroups[@]}"; do
                kill_cgroup "$cg" || true
                find "$cg" -depth -type d -exec rmdir {} \; 2>/dev/null || true
        done
        nspawn_pid=
        leader=
        cgroups=()
}

# teardown: on every way out, also after a failure.
teardown() {
        local rc=$?
        set +e
        stop_container
        # nspawn leaves /run/systemd/nspawn/propagate/NAME, nspawn-root and
        # their parents behind: remove what was not there before we ran.
        rm -rf /run/systemd/nspawn/propagate/keyd-system-$$-*
        if ! grep -qxF /run/systemd/nspawn <<<"$run_before"; then
                rmdir /run/systemd/nspawn/propagate /run/systemd/nspawn 2>/dev/null
        fi
        if ! grep -qxF /run/systemd/nspawn-root <<<"$run_before"; then
                rmdir /run/systemd/nspawn-root 2>/dev/null
        fi
        rm -rf "$work"
        exit "$rc"
}
trap teardown EXIT
trap 'exit 130' INT TERM HUP

log_tail() {
        if [[ -f $work/nspawn-$flavour.log ]]; then
                echo "---- systemd-nspawn's output (last 20 lines) ----" >&2
                tail -n 20 "$work/nspawn-$flavour.log" >&2
        fi
        [[ -n $leader ]] || return 0
        echo "---- journal of the container (last 60 lines) ----" >&2
        timeout 10 nsenter -t "$leader" -a journalctl -b --no-pager -n 60 -o short-monotonic >&2 || true
}

fail() {
        echo "FAIL [$flavour]: $*" >&2
        log_tail
        exit 1
}

ok() {
        echo "ok [$flavour]: $*"
}

# in_ct COMMAND...: run in the container (all its namespaces), 30 s at most.
in_ct() {
        timeout 30 nsenter -t "$leader" -a "$@"
}

prop() {
        in_ct systemctl show -P "$1" keyd.service
}

# wait_for WHAT SECONDS COMMAND...: until COMMAND succeeds.
wait_for() {
        local what=$1 tenths=$(($2 * 10)) i
        shift 2
        for ((i = 0; i < tenths; i++)); do
                "$@" >/dev/null 2>&1 && return 0
                sleep 0.1
        done
        fail "$what: not within $((tenths / 10)) s"
}

unit_state_is() {
        [[ $(prop ActiveState) == "$1" ]]
}

unit_state_is_not() {
        [[ $(prop ActiveState) != "$1" ]]
}

restarts_above() {
        [[ $(prop NRestarts) -gt $1 && $(prop ActiveState) == active && $(prop MainPID) != 0 ]]
}

# ---- the installed tree ----
dest=$work/dest
meson install -C "$KEYD_BUILD_ROOT" --no-rebuild --quiet --destdir "$dest" >"$work/install.log" 2>&1 ||
        { cat "$work/install.log" >&2; echo "FAIL: meson install --destdir failed" >&2; exit 1; }
unit_file=$(find "$dest" -path '*/systemd/system/keyd.service' | head -n1)
keyd_bin=$(find "$dest" -path '*/sbin/keyd' | head -n1)
libkeyd=$(find "$dest" -name libkeyd.so.0 | head -n1)
[[ -n $unit_file && -n $keyd_bin && -n $libkeyd ]] || { echo "FAIL: no keyd.service, sbin/keyd or libkeyd.so.0 in the installed tree" >&2; exit 1; }
case ${keyd_bin#"$dest"} in
/usr/*) ;;
*) skip "keyd is installed to ${keyd_bin#"$dest"}, outside /usr: configure with --prefix=/usr (or /usr/local)" ;;
esac
exec_start=$(grep '^ExecStart=' "$unit_file")
[[ $exec_start == "ExecStart=${keyd_bin#"$dest"} "* ]] ||
        { echo "FAIL: the installed unit runs '$exec_start', not the installed ${keyd_bin#"$dest"}" >&2; exit 1; }

# The timing drop-in (see the top of this file).
idle_arg=$(grep -o -e '--exit-idle-time=[0-9]*' <<<"$exec_start") ||
        { echo "FAIL: the installed unit's ExecStart= has no --exit-idle-time: $exec_start" >&2; exit 1; }
mkdir -p "$work/dropin"
printf '[Service]\nWatchdogSec=2s\nExecStart=\n%s\n' "${exec_start/"$idle_arg"/--exit-idle-time=2}" \
        >"$work/dropin/50-test-timing.conf"

# ---- dbus-broker: the Debian package unpacked, never installed ----
fetch_broker() {
        local deb
        if [[ ! -x $BROKER_CACHE/root/usr/bin/dbus-broker ]]; then
                rm -rf "$BROKER_CACHE"
                mkdir -p "$BROKER_CACHE/root"
                # Package lists may be missing or stale on a fresh machine: update once.
                (cd "$BROKER_CACHE" && { apt-get download -q dbus-broker || { apt-get update -qq &&
                        apt-get download -q dbus-broker; }; } >"$BROKER_CACHE/download.log" 2>&1) ||
                        { cat "$BROKER_CACHE/download.log" >&2; return 1; }
                deb=$(ls "$BROKER_CACHE"/dbus-broker_*.deb)
                dpkg -x "$deb" "$BROKER_CACHE/root"
        fi
        broker_unit=$(find "$BROKER_CACHE/root" -path '*/systemd/system/dbus-broker.service' | head -n1)
        [[ -n $broker_unit ]]
}

# ---- boot ----
# boot FLAVOUR: systemd as PID 1 with the installed tree, from child cgroups
# of our own (nspawn --keep-unit makes payload/ and supervisor/ in its
# cgroup); sets $nspawn_pid and $leader (the container's PID 1).
boot() {
        local name=keyd-system-$$-$1 cg lower=/usr extra=() i
        cgroups=("$CG_UNIFIED/$name")
        [[ -z $CG_NAMED ]] || cgroups+=("$CG_NAMED/$name")
        for cg in "${cgroups[@]}"; do
                mkdir "$cg"
        done
        if [[ $1 == dbus-broker ]]; then
                lower=$lower:$BROKER_CACHE/root/usr
                extra+=(--bind-ro="$broker_unit":/etc/systemd/system/dbus.service)
        fi
        # SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1, CAP_BPF and bpf() are what make
        # DevicePolicy= and IPAddressDeny= real on a hybrid host; CAP_IPC_LOCK
        # is keyd's one capability. --private-network: the container's
        # network is its own (with it, nspawn grants CAP_NET_ADMIN there,
        # which PrivateNetwork= needs for its loopback), never the host's.
        # basic.target: the bus and the journal, none of the host's other
        # services, which a volatile /etc presets to enabled.
        (
                for cg in "${cgroups[@]}"; do
                        echo "$BASHPID" >"$cg/cgroup.procs"
                done
                exec env SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1 systemd-nspawn -D / --volatile=yes \
                        --register=no --keep-unit -M "$name" --console=pipe \
                        --capability=CAP_IPC_LOCK,CAP_BPF --system-call-filter=bpf --private-network \
                        --overlay-ro="$lower:$dest/usr:/usr" \
                        --bind-ro="$unit_file":/etc/systemd/system/keyd.service \
                        "${extra[@]}" -b systemd.unit=basic.target
        ) </dev/null >"$work/nspawn-$1.log" 2>&1 &
        nspawn_pid=$!
        # The container's PID 1 is nspawn's child once it has exec'd systemd.
        # Not just any child: nspawn's short-lived outer child comes first,
        # and taking it made later nsenter calls fail once it had exited.
        for ((i = 0; i < 300; i++)); do
                leader=$(pgrep -x -P "$nspawn_pid" systemd | head -n1 || true)
                [[ -n $leader ]] && break
                sleep 0.1
        done
        [[ -n $leader ]] || { cat "$work/nspawn-$1.log" >&2; fail "systemd-nspawn started no container"; }
        # systemd-firstboot finds no tty: the system ends up 'degraded', which is fine.
        timeout 30 nsenter -t "$leader" -a systemctl is-system-running --wait >/dev/null 2>&1 || true
        # A wait for the container's boot, which keyd has no say in: generous,
        # as the machine may be busy (run-tests builds beside this suite).
        wait_for "the container's system bus" 60 in_ct busctl --system status org.freedesktop.DBus
}

# ---- the checks, run once per system bus ----
run_checks() {
        local out pid bus_pid exposure key_before key_after restarts old_pid render_gid

        boot "$flavour"
        ok "systemd $(in_ct systemctl --version | head -n1 | cut -d' ' -f2) booted as PID 1, bus: $(in_ct systemctl show -P ExecStart dbus.service | grep -o -E 'dbus-(daemon|broker-launch)' | head -n1)"

        # Bus activation: nothing started keyd; the activation file's Exec=
        # is /bin/false, so only SystemdService= can make the first call work.
        unit_state_is inactive || fail "keyd.service is $(prop ActiveState) before any call"
        out=$(in_ct keydctl caps 2>&1) || fail "keydctl caps: $out"
        [[ $out == *D3D11_KEY_EXCHANGE_RSAES_OAEP* ]] || fail "keydctl caps printed: $out"
        unit_state_is active || fail "keyd.service is $(prop ActiveState) after the first call"
        [[ $(prop Type) == dbus && $(prop BusName) == "$KEYD_BUS_NAME" ]] || fail "keyd.service is Type=$(prop Type)"
        pid=$(prop MainPID)
        bus_pid=$(in_ct busctl --system call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus \
                GetConnectionUnixProcessID s "$KEYD_BUS_NAME" | cut -d' ' -f2)
        [[ $pid == "$bus_pid" ]] || fail "$KEYD_BUS_NAME is owned by PID $bus_pid, keyd.service's main PID is $pid"
        ok "bus activation: the first keydctl call started keyd.service (Type=dbus, PID $pid owns $KEYD_BUS_NAME)"

        # Loading and starting the unit: no warning from systemd (a directive
        # it ignores or cannot apply here would say so at this point).
        out=$(in_ct journalctl -b -u keyd.service -p warning --no-pager -o cat)
        [[ -z $out ]] || fail "warnings about keyd.service: $out"
        ok "systemd loaded and started keyd.service without a warning"

        # systemd's own rating of the live unit.
        out=$(in_ct systemd-analyze security keyd.service --no-pager 2>&1) || true
        exposure=$(sed -n 's/.*Overall exposure level for keyd.service: \([0-9.]*\).*/\1/p' <<<"$out")
        [[ -n $exposure ]] || fail "systemd-analyze security printed no exposure level: $out"
        awk -v e="$exposure" -v max="$SECURITY_MAX" 'BEGIN { exit !(e <= max) }' ||
                fail "systemd-analyze security keyd.service rates $exposure, above $SECURITY_MAX"
        ok "systemd-analyze security keyd.service: $exposure (at most $SECURITY_MAX)"

        # Capabilities: CAP_IPC_LOCK (bit 14) and nothing else, in every set
        # that counts, and no way to gain more.
        out=$(in_ct cat "/proc/$pid/status")
        for set in CapEff CapPrm CapBnd; do
                [[ $(awk -v s="$set:" '$1 == s { print $2 }' <<<"$out") == 0000000000004000 ]] ||
                        fail "keyd's $set is $(awk -v s="$set:" '$1 == s { print $2 }' <<<"$out"), expected CAP_IPC_LOCK only (0000000000004000)"
        done
        [[ $(awk '$1 == "CapAmb:" { print $2 }' <<<"$out") == 0000000000000000 ]] || fail "keyd has ambient capabilities"
        [[ $(awk '$1 == "NoNewPrivs:" { print $2 }' <<<"$out") == 1 ]] || fail "keyd runs without NoNewPrivileges"
        # SupplementaryGroups=render, from the installed sysusers file.
        render_gid=$(in_ct getent group render | cut -d: -f3)
        [[ -n $render_gid && " $(awk '$1 == "Groups:" { $1 = ""; print }' <<<"$out") " == *" $render_gid "* ]] ||
                fail "keyd is not in the render group ($render_gid): $(grep Groups: <<<"$out")"
        ok "keyd's effective, permitted and bounding capabilities: CAP_IPC_LOCK only; no ambient ones; NoNewPrivs; in group render ($render_gid); $(in_ct grep 'Max locked memory' "/proc/$pid/limits" | tr -s ' ')"

        # DevicePolicy= and IPAddressDeny= are BPF programs on keyd's cgroup:
        # a probe moved into that cgroup must be refused what the same probe
        # outside may do. On a cgroup v1 system bpf() would not be used and
        # both would silently not apply.
        [[ $(in_ct stat -f -c %T /sys/fs/cgroup) == cgroup2fs ]] || fail "the container has no unified cgroup tree"
        out=$(in_ct "$CT_PYTHON" - <"$here/cgroup-probe.py")
        [[ $out == *device=open* && $out == *udp=sent* ]] || fail "outside keyd's cgroup the probe itself fails: $out"
        out=$(in_ct "$CT_PYTHON" - system.slice/keyd.service <"$here/cgroup-probe.py")
        [[ $out == *"device=Operation not permitted"* ]] || fail "DevicePolicy=closed not enforced: in keyd's cgroup: $out"
        [[ $out == *"udp=Operation not permitted"* ]] || fail "IPAddressDeny=any not enforced: in keyd's cgroup: $out"
        ok "DevicePolicy=closed and IPAddressDeny=any enforced in keyd's cgroup (/dev/net/tun and UDP to 127.0.0.1 refused there, allowed outside)"

        # nobody: may negotiate, may not own the name.
        out=$(in_ct setpriv --reuid=65534 --regid=65534 --clear-groups keydctl negotiate 2>&1) ||
                fail "keydctl negotiate as nobody: $out"
        [[ $out == *"Negotiate:             0x00000000 S_OK"* ]] || fail "keydctl negotiate as nobody printed: $out"
        ok "a client as nobody negotiates a key (S_OK)"
        out=$(in_ct setpriv --reuid=65534 --regid=65534 --clear-groups busctl --system call org.freedesktop.DBus \
                /org/freedesktop/DBus org.freedesktop.DBus RequestName su "$KEYD_BUS_NAME" 0 2>&1) &&
                fail "nobody could own $KEYD_BUS_NAME: $out"
        [[ $out == *"ccess denied"* || $out == *AccessDenied* ]] || fail "nobody's RequestName failed oddly: $out"
        ok "nobody cannot own $KEYD_BUS_NAME ($out)"

        # SIGKILL with a session open: the client's next call fails cleanly
        # and at once, Restart= brings keyd back with the same device key.
        key_before=$(in_ct sha256sum /var/lib/keyd/device-key.pem | cut -d' ' -f1)
        restarts=$(prop NRestarts)
        old_pid=$(prop MainPID)
        out=$(KEYD_LIBKEYD=${libkeyd#"$dest"} in_ct "$CT_PYTHON" - systemctl kill --kill-who=main --signal=SIGKILL keyd.service \
                <"$here/session-client.py" 2>&1) || fail "session client: $out"
        [[ $out == *negotiate=0x00000000* ]] || fail "the session client's key exchange failed: $out"
        [[ $out == *old_session=0x887A0005* ]] ||
                fail "a call on a session of the killed keyd: expected 0x887A0005 DXGI_ERROR_DEVICE_REMOVED: $out"
        awk -v s="$(sed -n 's/^old_seconds=//p' <<<"$out")" 'BEGIN { exit !(s != "" && s < 5) }' ||
                fail "the call on the dead session took too long: $out"
        wait_for "keyd restarted after SIGKILL" 10 restarts_above "$restarts"
        [[ $(prop MainPID) != "$old_pid" ]] || fail "keyd's PID did not change after SIGKILL"
        [[ $(sed -n 's/^cert_before=//p' <<<"$out") == "$(sed -n 's/^cert_after=//p' <<<"$out")" ]] ||
                fail "the certificate changed across the restart: $out"
        key_after=$(in_ct sha256sum /var/lib/keyd/device-key.pem | cut -d' ' -f1)
        [[ $key_before == "$key_after" ]] || fail "the device key file changed across the restart"
        ok "SIGKILL: the open session's next call returned 0x887A0005 in $(sed -n 's/^old_seconds=//p' <<<"$out") s; Restart= brought keyd back (NRestarts=$(prop NRestarts)) with the same device key and certificate"

        # SIGTERM: a clean stop (exit 0), which Restart=on-failure leaves
        # stopped. (systemd resets NRestarts when a unit goes inactive.)
        in_ct systemctl kill --kill-who=main --signal=SIGTERM keyd.service
        wait_for "keyd gone after SIGTERM" 10 unit_state_is inactive
        [[ $(prop Result) == success ]] || fail "after SIGTERM: Result=$(prop Result)"
        in_ct journalctl -u keyd.service --no-pager -o cat | tail -n 3 | grep -q 'keyd.service: Deactivated successfully' ||
                fail "systemd did not log a successful stop after SIGTERM"
        sleep 0.5
        unit_state_is inactive || fail "keyd.service is $(prop ActiveState) again after a clean SIGTERM"
        ok "SIGTERM: keyd exited 0 (Result=success) and stayed stopped"

        # ---- with the timing drop-in: watchdog, then idle exit ----
        in_ct mkdir -p /run/systemd/system/keyd.service.d
        in_ct sh -c 'cat > /run/systemd/system/keyd.service.d/50-test-timing.conf' <"$work/dropin/50-test-timing.conf"
        in_ct systemctl daemon-reload
        in_ct keydctl caps >/dev/null || fail "keydctl caps after the drop-in"
        [[ $(prop WatchdogUSec) == 2s ]] || fail "the drop-in did not apply: WatchdogUSec=$(prop WatchdogUSec)"
        restarts=$(prop NRestarts)
        old_pid=$(prop MainPID)
        in_ct kill -STOP "$old_pid"
        wait_for "the watchdog restarting a stopped keyd" 15 restarts_above "$restarts"
        [[ $(prop MainPID) != "$old_pid" ]] || fail "keyd's PID did not change after the watchdog"
        in_ct journalctl -u keyd.service --no-pager -o cat | grep -q 'Watchdog timeout' ||
                fail "systemd logged no watchdog timeout"
        ok "WatchdogSec=: a SIGSTOPped keyd was killed and restarted (NRestarts=$(prop NRestarts))"

        # No session open: the restarted keyd leaves after --exit-idle-time.
        wait_for "keyd exiting on idle" 15 unit_state_is inactive
        [[ $(prop Result) == success ]] || fail "idle exit: Result=$(prop Result)"
        in_ct journalctl -u keyd.service --no-pager -o cat | grep -q 'No crypto session open for 2 s; exiting' ||
                fail "no idle exit line in the journal"
        in_ct keydctl caps >/dev/null || fail "keydctl caps after the idle exit (activation again)"
        unit_state_is active || fail "keyd not activated again after its idle exit"
        ok "idle exit after --exit-idle-time with no session, and activated again by the next call"

        # An error of keyd's own under the unit: a bad option in a second
        # drop-in makes keyd exit at once with a priority-3 line.
        in_ct systemctl stop keyd.service
        printf '[Service]\nExecStart=\n%s --rsa-bits=1000\n' "$exec_start" |
                in_ct sh -c 'cat > /run/systemd/system/keyd.service.d/60-test-bad-option.conf'
        in_ct systemctl daemon-reload
        in_ct systemctl start keyd.service 2>/dev/null && fail "keyd.service started with --rsa-bits=1000"
        in_ct systemctl stop keyd.service
        in_ct rm /run/systemd/system/keyd.service.d/60-test-bad-option.conf
        in_ct systemctl daemon-reload
        in_ct systemctl reset-failed keyd.service 2>/dev/null || true

        # The journal: keyd's own lines, with their syslog priorities.
        out=$(in_ct journalctl -u keyd.service -o json --no-pager | "$CT_PYTHON" -c '
import json, sys
for line in sys.stdin:
    e = json.loads(line)
    if e.get("SYSLOG_IDENTIFIER") == "keyd":
        print(e.get("PRIORITY"), e.get("MESSAGE"))')
        grep -q -E "^6 keyd [0-9.]+ serving $KEYD_BUS_NAME on the system bus" <<<"$out" ||
                fail "no priority-6 start line of keyd in the journal: $out"
        grep -q -E '^6 Received SIGTERM; closing [0-9]+ session\(s\) and exiting\.' <<<"$out" ||
                fail "no priority-6 SIGTERM line of keyd in the journal: $out"
        grep -q -E '^6 keyd stopped; all session keys wiped\.' <<<"$out" || fail "no stop line in the journal: $out"
        grep -q -E '^3 Invalid --rsa-bits=1000: expected a whole number from 2048 to 4096\.' <<<"$out" ||
                fail "no priority-3 line of keyd's for its bad option in the journal: $out"
        grep -q -E '^[0-7] <' <<<"$out" && fail "journal lines with a literal <N> prefix: $out"
        ok "journalctl -u keyd: $(wc -l <<<"$out") lines of keyd's, priorities $(cut -d' ' -f1 <<<"$out" | sort -u | tr '\n' ' ')"

        stop_container
        ok "container stopped, its cgroups removed"
}

flavour=dbus-daemon
run_checks
boot_one=$(date +%s.%N)

flavour=dbus-broker
fetch_broker || fail "cannot fetch dbus-broker with apt-get download (see above)"
run_checks

# Nothing left behind by either boot.
flavour=host
leftover=$(find "$CG_UNIFIED" ${CG_NAMED:+"$CG_NAMED"} -maxdepth 1 -name "keyd-system-$$-*" 2>/dev/null || true)
[[ -z $leftover ]] || fail "cgroups left behind: $leftover"
grep -q "$work" /proc/self/mountinfo && fail "mounts left behind under $work"
pgrep -f "systemd-nspawn.*keyd-system-$$-" >/dev/null && fail "systemd-nspawn still running"
ok "no cgroup, mount or process of the containers left"
echo "test-system: $(awk -v a="$START" -v b="$boot_one" -v c="$(date +%s.%N)" \
        'BEGIN { printf "%.1f s with dbus-daemon (install included), %.1f s with dbus-broker", b - a, c - b }')"
