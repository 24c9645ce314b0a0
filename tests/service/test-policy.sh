#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The installed bus policy on a system-style bus: a private dbus-daemon
# configured like Debian's system bus (deny by default) that includes the
# org.keyd.KeyBroker1.conf `meson install` produced, keyd running as root on
# it, and a client running as nobody: it may call keyd's interfaces and read
# properties, but may not own the name, set properties or call anything else.

# shellcheck source=tests/service/lib.sh
source "$(dirname "$0")/lib.sh"

: "${KEYD_DBUS_POLICYDIR:?}" "${KEYD_DBUS_SERVICESDIR:?}"
[[ $(id -u) -eq 0 ]] || {
        echo "SKIP: needs root (keyd owns its name as root; the client drops to nobody)"
        exit 77
}
command -v setpriv >/dev/null || fail "setpriv (util-linux) is needed"

dest=$tmp/dest
install_tree "$dest"
policy=$dest$KEYD_DBUS_POLICYDIR/org.keyd.KeyBroker1.conf
[[ -f $policy ]] || fail "no installed policy at $KEYD_DBUS_POLICYDIR"
# The tree must be readable by dbus-daemon's config loader whoever runs it.
chmod -R a+rX "$dest"

# Debian's /usr/share/dbus-1/system.conf, less the parts that need the real
# system (the messagebus user, the pid file, syslog, the system's include dirs).
start_bus "  <type>system</type>
  <auth>EXTERNAL</auth>
  <servicedir>$dest$KEYD_DBUS_SERVICESDIR</servicedir>
  <policy context=\"default\">
    <allow user=\"*\"/>
    <deny own=\"*\"/>
    <deny send_type=\"method_call\"/>
    <allow send_type=\"signal\"/>
    <allow send_requested_reply=\"true\" send_type=\"method_return\"/>
    <allow send_requested_reply=\"true\" send_type=\"error\"/>
    <allow receive_type=\"method_call\"/>
    <allow receive_type=\"method_return\"/>
    <allow receive_type=\"error\"/>
    <allow receive_type=\"signal\"/>
    <allow send_destination=\"org.freedesktop.DBus\" send_interface=\"org.freedesktop.DBus\"/>
    <allow send_destination=\"org.freedesktop.DBus\" send_interface=\"org.freedesktop.DBus.Introspectable\"/>
    <allow send_destination=\"org.freedesktop.DBus\" send_interface=\"org.freedesktop.DBus.Properties\"/>
    <deny send_destination=\"org.freedesktop.DBus\" send_interface=\"org.freedesktop.DBus\"
          send_member=\"UpdateActivationEnvironment\"/>
    <deny send_destination=\"org.freedesktop.DBus\" send_interface=\"org.freedesktop.DBus.Debug.Stats\"/>
    <deny send_destination=\"org.freedesktop.DBus\" send_interface=\"org.freedesktop.systemd1.Activator\"/>
  </policy>
  <policy user=\"root\">
    <allow send_destination=\"org.freedesktop.DBus\" send_interface=\"org.freedesktop.DBus.Monitoring\"/>
  </policy>
  <include>$policy</include>"

# The bus read the installed activation file (dbus-daemon insists that a
# system service file's name matches its Name=).
out=$(bctl call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus ListActivatableNames)
expect_contains "the installed activation file is valid" "$out" "\"$KEYD_BUS_NAME\""

start_keyd
ok "keyd, as root, owns $KEYD_BUS_NAME under the installed policy"

AES=9b6bd711-4f74-41c9-9e7b-0be2d7d93b4f
OAEP=c1949895-d72a-4a1d-8e5d-ed857d171520

# as_nobody BUSCTL-ARGS...: busctl as nobody/nogroup, no supplementary groups.
as_nobody() {
        setpriv --reuid=nobody --regid=nogroup --clear-groups -- "$BUSCTL" --address="$address" "$@"
}

# expect_denied_by_bus WHAT DEST PATH IFACE.METHOD [ARGS...]: nobody's call is
# refused by the bus itself (dbus-send prints the error's name, busctl only
# its text): org.freedesktop.DBus.Error.AccessDenied, not keyd's own.
expect_denied_by_bus() {
        local what=$1 out
        shift
        if out=$(setpriv --reuid=nobody --regid=nogroup --clear-groups -- \
                dbus-send --bus="$address" --print-reply --dest="$1" "$2" "${@:3}" 2>&1); then
                fail "$what: nobody was allowed: $out"
        fi
        if [[ $out != "Error org.freedesktop.DBus.Error.AccessDenied: "* ]] ||
                [[ $out != *"Rejected send message"* && $out != *"is not allowed to own"* ]]; then
                fail "$what: refused, but not by the bus policy: $out"
        fi
        ok "$what: denied by the bus (${out:0:100}...)"
}

# ---- the socket is reachable for other users ----
out=$(as_nobody call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus GetId) ||
        fail "nobody cannot reach the bus socket (mode of $tmp/run?): $out"
ok "nobody reaches the bus"
out=$(setpriv --reuid=nobody --regid=nogroup --clear-groups id -u)
expect_eq "the client really runs as nobody" "$out" "$(id -u nobody)"

# ---- allowed: keyd's interfaces, Introspectable, Peer, Properties.Get/GetAll ----
out=$(as_nobody call "$KEYD_BUS_NAME" "$KEYD_MANAGER_PATH" "$KEYD_MANAGER_IFACE" \
        GetContentProtectionCaps ss "$AES" "") || fail "nobody cannot call GetContentProtectionCaps: $out"
expect_contains "nobody calls Manager.GetContentProtectionCaps" "$out" "uuut "
out=$(as_nobody call "$KEYD_BUS_NAME" "$KEYD_MANAGER_PATH" "$KEYD_MANAGER_IFACE" \
        CreateCryptoSession sss "$AES" "" "$OAEP") || fail "nobody cannot create a session: $out"
expect_contains "nobody calls Manager.CreateCryptoSession" "$out" "o \"/org/keyd/KeyBroker1/session/"
grep -q "created for .*(uid $(id -u nobody), " "$tmp/keyd.log" || fail "keyd did not see nobody's uid"
ok "keyd saw the session's owner as nobody"
out=$(as_nobody get-property "$KEYD_BUS_NAME" "$KEYD_MANAGER_PATH" "$KEYD_MANAGER_IFACE" Backend) ||
        fail "nobody cannot read a property: $out"
expect_eq "nobody reads Manager.Backend (Properties.Get)" "$out" 's "software"'
out=$(as_nobody call "$KEYD_BUS_NAME" "$KEYD_MANAGER_PATH" org.freedesktop.DBus.Properties GetAll s \
        "$KEYD_MANAGER_IFACE") || fail "nobody cannot call Properties.GetAll: $out"
expect_contains "nobody calls Properties.GetAll" "$out" "SessionCount"
out=$(as_nobody introspect "$KEYD_BUS_NAME" "$KEYD_MANAGER_PATH") || fail "nobody cannot introspect: $out"
expect_contains "nobody introspects" "$out" "$KEYD_MANAGER_IFACE"
as_nobody call "$KEYD_BUS_NAME" "$KEYD_MANAGER_PATH" org.freedesktop.DBus.Peer Ping ||
        fail "nobody cannot ping keyd"
ok "nobody calls Peer.Ping"

# ---- denied: owning the name, Properties.Set, anything else ----
expect_denied_by_bus "nobody owns $KEYD_BUS_NAME" \
        org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus.RequestName \
        string:"$KEYD_BUS_NAME" uint32:0
expect_denied_by_bus "nobody calls Properties.Set" \
        "$KEYD_BUS_NAME" "$KEYD_MANAGER_PATH" org.freedesktop.DBus.Properties.Set \
        string:"$KEYD_MANAGER_IFACE" string:MaxSessionsPerClient variant:uint32:1
expect_denied_by_bus "nobody calls a made-up interface" \
        "$KEYD_BUS_NAME" "$KEYD_MANAGER_PATH" org.keyd.KeyBroker1.Debug.DumpKeys
expect_denied_by_bus "nobody calls org.freedesktop.DBus.ObjectManager" \
        "$KEYD_BUS_NAME" "$KEYD_MANAGER_PATH" org.freedesktop.DBus.ObjectManager.GetManagedObjects
# Allowed interfaces do not open the door to keyd's other objects' members
# of other interfaces either: a session path, the same made-up interface.
expect_denied_by_bus "nobody calls a made-up interface on a session" \
        "$KEYD_BUS_NAME" "$KEYD_MANAGER_PATH/session/1" org.keyd.KeyBroker1.Debug.DumpKeys

# The same calls as root reach keyd, which answers for itself: the denials
# above came from the policy, not from keyd.
as_root() {
        dbus-send --bus="$address" --print-reply --dest="$1" "$2" "${@:3}" 2>&1
}
out=$(as_root "$KEYD_BUS_NAME" "$KEYD_MANAGER_PATH" org.keyd.KeyBroker1.Debug.DumpKeys || true)
[[ $out == Error* && $out != *org.freedesktop.DBus.Error.AccessDenied* ]] ||
        fail "root's call of a made-up interface: $out"
ok "root's call of a made-up interface reaches keyd: $out"
out=$(as_root "$KEYD_BUS_NAME" "$KEYD_MANAGER_PATH" org.freedesktop.DBus.Properties.Set \
        string:"$KEYD_MANAGER_IFACE" string:MaxSessionsPerClient variant:uint32:1 || true)
[[ $out == Error* && $out != *org.freedesktop.DBus.Error.AccessDenied* ]] || fail "root's Properties.Set: $out"
ok "root's Properties.Set reaches keyd, which refuses it: $out"
out=$(bctl get-property "$KEYD_BUS_NAME" "$KEYD_MANAGER_PATH" "$KEYD_MANAGER_IFACE" MaxSessionsPerClient)
expect_eq "MaxSessionsPerClient unchanged" "$out" "u 256"

# And a keyd not run as root cannot take the name.
kill -TERM "$keyd_pid"
wait "$keyd_pid" || true
chown -R nobody "$tmp/state"
if out=$(DBUS_SYSTEM_BUS_ADDRESS=$address setpriv --reuid=nobody --regid=nogroup --clear-groups -- \
        "$KEYD_BINARY" --bus=system --backend=software --state-dir="$tmp/state" 2>&1); then
        fail "keyd as nobody ran: $out"
fi
expect_contains "keyd as nobody cannot own the name" "$out" "Failed to own $KEYD_BUS_NAME"

echo "PASS: installed bus policy"
