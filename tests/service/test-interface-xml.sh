#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The installed interface description (share/dbus-1/interfaces/
# org.keyd.KeyBroker1.xml) is what the running keyd introspects: the same
# interfaces, methods with the same arguments (type, direction, name),
# properties with the same type, access and annotations, signals. The manager
# and a live session (held open by keyd-hold-session) are both compared.

# shellcheck source=tests/service/lib.sh
source "$(dirname "$0")/lib.sh"

: "${KEYD_DBUS_INTERFACESDIR:?}" "${HOLD_SESSION_BINARY:?}" "${PYTHON:?}"

dest=$tmp/dest
install_tree "$dest"
xml=$dest$KEYD_DBUS_INTERFACESDIR/org.keyd.KeyBroker1.xml
[[ -f $xml ]] || fail "no installed $xml"

start_open_bus
start_keyd

# A session to introspect: it lives as long as keyd-hold-session's stdin.
mkfifo "$tmp/hold.in"
# With a video decoder on it, when keyd can decode (-Ddecoder=).
hold_args=()
[[ -n ${KEYD_DECODER_BINARY:-} ]] && hold_args=(--decoder)
"$HOLD_SESSION_BINARY" "$address" "${hold_args[@]}" <"$tmp/hold.in" >"$tmp/hold.out" 2>"$tmp/hold.err" &
_pids+=("$!")
exec 8>"$tmp/hold.in"
for _ in $(seq 200); do
        [[ -s $tmp/hold.out ]] && break
        sleep 0.05
done
session=$(awk '{ print $1; exit }' "$tmp/hold.out")
[[ $session == "$KEYD_MANAGER_PATH"/session/* ]] || fail "no session held: $(cat "$tmp/hold.out" "$tmp/hold.err")"

introspect() {
        bctl --xml-interface introspect "$KEYD_BUS_NAME" "$1" >"$2" || fail "cannot introspect $1"
}
introspect "$KEYD_MANAGER_PATH" "$tmp/manager.xml"
introspect "$session" "$tmp/session.xml"
introspected=("$tmp/manager.xml" "$tmp/session.xml")
decoder=$(awk '{ print $3; exit }' "$tmp/hold.out")
if [[ -n ${KEYD_DECODER_BINARY:-} ]]; then
        [[ $decoder == "$session"/decoder/0 ]] || fail "no decoder held: $(cat "$tmp/hold.out" "$tmp/hold.err")"
        introspect "$decoder" "$tmp/decoder.xml"
        introspected+=("$tmp/decoder.xml")
fi
exec 8>&-

"$PYTHON" - "$xml" "${introspected[@]}" <<'EOF' || fail "the interface XML and the running keyd differ (above)"
import os
import sys
import xml.etree.ElementTree as ET

PREFIX = "org.keyd.KeyBroker1."
# Only in builds with -Dtest_hooks=true (daemon/test-hooks.h); never installed.
TEST_ONLY = {"org.keyd.KeyBroker1.Test"}
# A keyd built without decoding (-Ddecoder=disabled) serves no decoder to look at.
if not os.environ.get("KEYD_DECODER_BINARY"):
    TEST_ONLY.add("org.keyd.KeyBroker1.VideoDecoder")


def canon(elem):
    """An element as a comparable tuple; members sorted, arguments in order."""
    if elem.tag == "arg":
        return ("arg", elem.get("type"), elem.get("direction"), elem.get("name"))
    children = [canon(c) for c in elem if c.tag in ("method", "property", "signal", "annotation", "arg")]
    if elem.tag in ("interface",):
        children.sort()
    attrs = tuple(sorted((k, v) for k, v in elem.attrib.items()))
    return (elem.tag, attrs, tuple(children))


def keyd_interfaces(path):
    root = ET.parse(path).getroot()
    return {i.get("name"): i for i in root.iter("interface")
            if i.get("name").startswith(PREFIX) and i.get("name") not in TEST_ONLY}


def describe(t, depth=0):
    tag, attrs = t[0], t[1]
    if tag == "arg":
        return "  " * depth + "arg type=%s direction=%s name=%s" % t[1:]
    lines = ["  " * depth + "%s %s" % (tag, " ".join("%s=%s" % kv for kv in attrs))]
    for c in t[2]:
        lines.append(describe(c, depth + 1))
    return "\n".join(lines)


documented = keyd_interfaces(sys.argv[1])
live = {}
for path in sys.argv[2:]:
    live.update(keyd_interfaces(path))

failed = False
for name in sorted(set(documented) | set(live)):
    if name not in live:
        print("documented but not served by keyd: interface %s" % name)
        failed = True
        continue
    if name not in documented:
        print("served by keyd but not in the XML: interface %s" % name)
        failed = True
        continue
    d = {(c.tag, c.get("name")): canon(c) for c in documented[name]}
    l = {(c.tag, c.get("name")): canon(c) for c in live[name]}
    for key in sorted(set(d) | set(l)):
        if d.get(key) != l.get(key):
            failed = True
            print("%s %s.%s differs:" % (key[0], name, key[1]))
            print("  the XML says:\n%s" % (describe(d[key], 2) if key in d else "    (nothing)"))
            print("  keyd serves:\n%s" % (describe(l[key], 2) if key in l else "    (nothing)"))
    if not failed:
        print("ok: %s: %d members identical" % (name, len(d)))
sys.exit(1 if failed else 0)
EOF

ok "the installed interface XML matches what keyd introspects"
echo "PASS: interface XML"
