#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The unit `meson install` produced: `systemd-analyze verify` has nothing to
# say about it, and `systemd-analyze security --offline=yes` rates its
# exposure at most KEYD_MAX_EXPOSURE (1.5). Both look at the installed tree
# (--root), where the unit's ExecStart binary and Documentation= pages are.

# shellcheck source=tests/service/lib.sh
source "$(dirname "$0")/lib.sh"

: "${KEYD_UNITDIR:?}" "${KEYD_MANDIR:?}" "${KEYD_SBINDIR:?}"
max_exposure=${KEYD_MAX_EXPOSURE:-1.5}
unit=keyd.service

root=$tmp/root
install_tree "$root"
[[ -f $root$KEYD_UNITDIR/$unit ]] || fail "meson install did not put $unit in $KEYD_UNITDIR"

# The units keyd.service depends on (dbus.socket, sysinit.target, ...) come
# from this system, as they would on a real one; keyd's own files from the
# installed tree only.
host_units=$(pkg-config --variable=systemdsystemunitdir systemd 2>/dev/null || echo /lib/systemd/system)
mkdir -p "$root/usr/lib/systemd/system"
cp -r -n "$host_units/." "$root/usr/lib/systemd/system/"
rm -f "$root/usr/lib/systemd/system/$unit"
[[ -f $root$KEYD_UNITDIR/$unit ]] || fail "the host's units replaced the installed $unit"

# ---- verify: no output at all, not just a zero exit ----
# Documentation= man pages are looked up in the installed tree.
man_opt=--man=yes
command -v man >/dev/null || man_opt=--man=no
status=0
out=$(MANPATH=$root$KEYD_MANDIR systemd-analyze verify --root="$root" "$man_opt" "$unit" 2>&1) || status=$?
[[ $status -eq 0 && -z $out ]] || fail "systemd-analyze verify $unit (status $status):
$out"
ok "systemd-analyze verify $unit: clean ($man_opt)"

# ...and it would say so: a unit with an unknown setting is not clean.
cp "$root$KEYD_UNITDIR/$unit" "$tmp/good.service"
sed -i 's/^\[Service\]$/[Service]\nProtectEverything=yes/' "$root$KEYD_UNITDIR/$unit"
out=$(systemd-analyze verify --root="$root" --man=no "$unit" 2>&1 || true)
[[ $out == *ProtectEverything* ]] || fail "verify did not notice an unknown setting; the check above proves nothing"
cp "$tmp/good.service" "$root$KEYD_UNITDIR/$unit"

# ---- security ----
out=$(systemd-analyze security --offline=yes --root="$root" "$unit" 2>&1) ||
        fail "systemd-analyze security failed: $out"
exposure=$(sed -n -E 's/.*Overall exposure level for [^:]*: ([0-9]+\.[0-9]+).*/\1/p' <<<"$out")
[[ -n $exposure ]] || fail "no 'Overall exposure level' in systemd-analyze security's output:
$out"
echo "$out" | grep -E '✗|Overall' || true
awk -v e="$exposure" -v max="$max_exposure" 'BEGIN { exit !(e <= max) }' ||
        fail "exposure $exposure is above $max_exposure"
ok "systemd-analyze security --offline=yes $unit: exposure $exposure (at most $max_exposure)"

# The unit's own claim in its header comment stays true.
claim=$(sed -n -E 's/^# .*rates this ([0-9]+\.[0-9]+).*/\1/p' "$root$KEYD_UNITDIR/$unit")
expect_eq "exposure stated in the unit's comment" "$claim" "$exposure"
claim=$(sed -n -E 's/.*rates it ([0-9]+\.[0-9]+).*/\1/p' "$root$KEYD_MANDIR/man8/keyd.8")
expect_eq "exposure stated in keyd(8)" "$claim" "$exposure"

echo "PASS: unit verify and security"
