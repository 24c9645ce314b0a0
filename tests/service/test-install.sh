#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# `meson install --destdir` lays out exactly the expected files, each where
# its consumer looks (systemd, dbus-daemon, man, the compiler), and a small
# program builds against the installed keyd.pc alone and runs on the
# installed libkeyd.

# shellcheck source=tests/service/lib.sh
source "$(dirname "$0")/lib.sh"

: "${KEYD_VERSION:?}" "${KEYD_SBINDIR:?}" "${KEYD_BINDIR:?}" "${KEYD_LIBDIR:?}" "${KEYD_INCLUDEDIR:?}"
: "${KEYD_MANDIR:?}" "${KEYD_UNITDIR:?}" "${KEYD_SYSUSERSDIR:?}" "${KEYD_DBUS_POLICYDIR:?}"
: "${KEYD_DBUS_SERVICESDIR:?}" "${KEYD_DBUS_INTERFACESDIR:?}" "${KEYD_PREFIX:?}"

dest=$tmp/dest
install_tree "$dest"

soversion=0
expected=(
        "$KEYD_SBINDIR/keyd"
        "$KEYD_BINDIR/keydctl"
        "$KEYD_LIBDIR/libkeyd.so"
        "$KEYD_LIBDIR/libkeyd.so.$soversion"
        "$KEYD_LIBDIR/libkeyd.so.$KEYD_VERSION"
        "$KEYD_LIBDIR/pkgconfig/keyd.pc"
        "$KEYD_INCLUDEDIR/keyd/keyd.h"
        "$KEYD_UNITDIR/keyd.service"
        "$KEYD_SYSUSERSDIR/keyd.conf"
        "$KEYD_DBUS_POLICYDIR/org.keyd.KeyBroker1.conf"
        "$KEYD_DBUS_SERVICESDIR/org.keyd.KeyBroker1.service"
        "$KEYD_DBUS_INTERFACESDIR/org.keyd.KeyBroker1.xml"
        "$KEYD_MANDIR/man1/keydctl.1"
        "$KEYD_MANDIR/man3/libkeyd.3"
        "$KEYD_MANDIR/man5/org.keyd.KeyBroker1.5"
        "$KEYD_MANDIR/man8/keyd.8"
)
# -Dbashcompletiondir=no installs no completion.
if [[ -n ${KEYD_BASHCOMPLETIONDIR:-} ]]; then
        expected+=("$KEYD_BASHCOMPLETIONDIR/keydctl")
fi
# The sandboxed decoder helper, when meson built it (-Ddecoder).
if [[ -n ${KEYD_DECODER_BINARY:-} ]]; then
        expected+=("$KEYD_LIBEXECDIR/keyd-decoder")
fi
# The Direct3D 11 bridge for Wine, when meson built it (-Dwine).
if [[ -n ${KEYD_WINE_DIR:-} ]]; then
        expected+=("$KEYD_WINE_DIR/d3d11.dll" "$KEYD_WINE_DIR/keydwine.dll.so")
fi

# ---- file by file: nothing missing, nothing extra ----
(cd "$dest" && find . \( -type f -o -type l \) -printf '/%P\n' | sort) >"$tmp/got"
printf '%s\n' "${expected[@]}" | sort >"$tmp/want"
if ! diff -u "$tmp/want" "$tmp/got" >"$tmp/diff"; then
        fail "the installed tree differs from the expected one (- missing, + unexpected):
$(cat "$tmp/diff")"
fi
ok "installed tree: ${#expected[@]} files, each where expected"

# bash-completion loads completionsdir/COMMAND on first use of COMMAND.
if [[ -n ${KEYD_BASHCOMPLETIONDIR:-} ]]; then
        if pc_dir=$(pkg-config --variable=completionsdir bash-completion 2>/dev/null); then
                expect_eq "bash completion in bash-completion's completionsdir" "$KEYD_BASHCOMPLETIONDIR" "$pc_dir"
        fi
        got=$(bash -c 'source "$1" && complete -p keydctl' _ "$dest$KEYD_BASHCOMPLETIONDIR/keydctl")
        expect_eq "the installed bash completion completes keydctl" "$got" "complete -F _keydctl keydctl"
fi

# ---- kinds and modes ----
mode() { stat -c '%a' "$dest$1"; }
expect_eq "keyd is an executable" "$(mode "$KEYD_SBINDIR/keyd")" 755
expect_eq "keydctl is an executable" "$(mode "$KEYD_BINDIR/keydctl")" 755
[[ -L $dest$KEYD_LIBDIR/libkeyd.so && -L $dest$KEYD_LIBDIR/libkeyd.so.$soversion ]] ||
        fail "libkeyd.so and libkeyd.so.$soversion must be symbolic links"
expect_eq "libkeyd.so -> soname" "$(readlink "$dest$KEYD_LIBDIR/libkeyd.so")" "libkeyd.so.$soversion"
expect_eq "soname -> library" "$(readlink "$dest$KEYD_LIBDIR/libkeyd.so.$soversion")" "libkeyd.so.$KEYD_VERSION"
soname=$(objdump -p "$dest$KEYD_LIBDIR/libkeyd.so.$KEYD_VERSION" | awk '$1 == "SONAME" { print $2 }')
expect_eq "SONAME" "$soname" "libkeyd.so.$soversion"
for f in "${expected[@]}"; do
        case $f in
        */keyd | */keydctl | */libkeyd.so*) ;;
        */keyd-decoder) expect_eq "keyd-decoder is an executable" "$(mode "$f")" 755 ;;
        *) expect_eq "$f is 0644" "$(mode "$f")" 644 ;;
        esac
done

# ---- libkeyd exports its API and nothing else ----
exports=$(nm -D --defined-only "$dest$KEYD_LIBDIR/libkeyd.so.$KEYD_VERSION" | awk '$2 != "A" { print $3 }' |
        sed 's/@.*//' | sort -u)
stray=$(grep -v -E '^(keyd_|KEYD_)' <<<"$exports" || true)
[[ -z $stray ]] || fail "libkeyd exports symbols outside its API: $stray"
for fn in $(grep -o -E '\bkeyd_[a-z0-9_]+ *\(' "$KEYD_SOURCE_ROOT/include/keyd/keyd.h" | tr -d ' (' | sort -u); do
        grep -qx "$fn" <<<"$exports" || fail "keyd.h declares $fn but libkeyd does not export it"
done
ok "libkeyd exports every function of keyd.h and only keyd_*/KEYD_*"

# ---- contents that point at each other ----
unit=$dest$KEYD_UNITDIR/keyd.service
expect_contains "unit starts the installed keyd" "$(grep '^ExecStart=' "$unit")" "ExecStart=$KEYD_SBINDIR/keyd "
expect_contains "unit waits for the bus name" "$(cat "$unit")" "Type=dbus" "BusName=$KEYD_BUS_NAME"
activation=$dest$KEYD_DBUS_SERVICESDIR/org.keyd.KeyBroker1.service
expect_eq "activation Name=" "$(sed -n 's/^Name=//p' "$activation")" "$KEYD_BUS_NAME"
expect_eq "activation SystemdService=" "$(sed -n 's/^SystemdService=//p' "$activation")" keyd.service
expect_eq "activation User=" "$(sed -n 's/^User=//p' "$activation")" root
xmllint --noout "$dest$KEYD_DBUS_POLICYDIR/org.keyd.KeyBroker1.conf" "$dest$KEYD_DBUS_INTERFACESDIR/org.keyd.KeyBroker1.xml" ||
        fail "installed policy or interface XML is not well-formed"
ok "policy and interface XML are well-formed"
for page in "${expected[@]}"; do
        [[ $page == "$KEYD_MANDIR"/* ]] || continue
        warnings=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$dest$page" 2>&1 >/dev/null) ||
                fail "man cannot format $page"
        [[ -z $warnings ]] || fail "man $page warns: $warnings"
done
ok "man pages format without warnings"

# ---- where the system looks, when installed to /usr ----
if [[ $KEYD_PREFIX == /usr ]]; then
        expect_eq "unit dir is systemd's" "$KEYD_UNITDIR" "$(pkg-config --variable=systemdsystemunitdir systemd)"
        expect_eq "activation dir is dbus's" "$KEYD_DBUS_SERVICESDIR" \
                "$(pkg-config --variable=system_bus_services_dir dbus-1)"
        expect_eq "policy dir is the one dbus-daemon reads" "$KEYD_DBUS_POLICYDIR" /usr/share/dbus-1/system.d
        # <includedir> may be relative to the configuration file's directory.
        sed -n 's|.*<includedir>\(.*\)</includedir>.*|\1|p' /usr/share/dbus-1/system.conf |
                sed 's|^\([^/]\)|/usr/share/dbus-1/\1|' | grep -q -x -F /usr/share/dbus-1/system.d ||
                fail "this dbus-daemon does not read /usr/share/dbus-1/system.d"
fi

# ---- the bus policy goes where the bus reads it, whatever the prefix ----
if [[ -z ${KEYD_DBUS_POLICYDIR_OPTION:-} ]]; then
        expect_eq "policy dir with prefix $KEYD_PREFIX" "$KEYD_DBUS_POLICYDIR" /usr/share/dbus-1/system.d
fi

# ---- a program built against the installed keyd.pc alone ----
pcdir=$dest$KEYD_LIBDIR/pkgconfig
export PKG_CONFIG_PATH=$pcdir PKG_CONFIG_SYSROOT_DIR=$dest
expect_eq "keyd.pc version" "$(pkg-config --modversion keyd)" "$KEYD_VERSION"
cflags=$(pkg-config --cflags keyd)
libs=$(pkg-config --libs keyd)
unset PKG_CONFIG_PATH PKG_CONFIG_SYSROOT_DIR
# pkg-config leaves out -I/usr/include; then the header is found through the sysroot's own copy.
[[ $cflags == *"-I$dest"* ]] || cflags="$cflags -I$dest$KEYD_INCLUDEDIR"
expect_contains "keyd.pc links libkeyd from the tree" "$libs" "-L$dest$KEYD_LIBDIR" "-lkeyd"

cat >"$tmp/hello.c" <<'EOF'
#include <stdio.h>
#include <string.h>
#include <keyd/keyd.h>

int main(void) {
        char guid[KEYD_GUID_STRING_SIZE];
        keyd_client *c = NULL;
        HRESULT hr;

        if (strcmp(keyd_hresult_to_string(KEYD_E_INVALIDARG), "E_INVALIDARG") != 0)
                return 1;
        /* exported data, not only functions */
        if (KEYD_FAILED(keyd_guid_to_string(&KEYD_CRYPTO_TYPE_AES128_CTR, guid, sizeof(guid))))
                return 2;
        /* nobody listens there: a failure HRESULT, not a crash */
        hr = keyd_client_open_address("unix:path=/nonexistent/keyd-test-bus", &c);
        if (KEYD_SUCCEEDED(hr))
                return 3;
        printf("%s %s %s\n", keyd_hresult_to_string(KEYD_DXGI_ERROR_INVALID_CALL), guid,
               keyd_hresult_to_string(hr));
        return 0;
}
EOF
# shellcheck disable=SC2086 # word splitting of pkg-config's output is intended
cc -Wall -Werror -o "$tmp/hello" "$tmp/hello.c" $cflags $libs || fail "cannot build against keyd.pc"
resolved=$(LD_LIBRARY_PATH=$dest$KEYD_LIBDIR ldd "$tmp/hello" | awk '$1 == "libkeyd.so.0" { print $3 }')
expect_eq "hello uses the installed libkeyd" "$resolved" "$dest$KEYD_LIBDIR/libkeyd.so.$soversion"
out=$(LD_LIBRARY_PATH=$dest$KEYD_LIBDIR "$tmp/hello") || fail "hello failed with status $?"
expect_contains "hello ran on the installed libkeyd" "$out" \
        "DXGI_ERROR_INVALID_CALL 9b6bd711-4f74-41c9-9e7b-0be2d7d93b4f "

echo "PASS: install layout"
