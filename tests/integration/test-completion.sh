#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# keydctl's bash completion, sourced as bash-completion would and asked
# what it offers for the words of a command line: the commands and options
# of keydctl's own --help, and values keydctl accepts.

# The temporary directory, fail and ok of the service tests (no bus here).
# shellcheck source=tests/service/lib.sh
source "$(dirname "$0")/../service/lib.sh"

: "${KEYDCTL_BINARY:?}" "${KEYD_BASH_COMPLETION:?}"

# shellcheck source=shell-completion/bash/keydctl
source "$KEYD_BASH_COMPLETION"
[[ $(complete -p keydctl) == "complete -F _keydctl keydctl" ]] || fail "complete -p keydctl: $(complete -p keydctl)"
ok "complete -p keydctl"

# offered WORD...: what completing the last word offers, sorted, one line.
# The words are split as bash splits them (COMP_WORDBREAKS: "=" is a word).
offered() {
        COMP_WORDS=("$@")
        COMP_CWORD=$(($# - 1))
        COMP_LINE="$*"
        COMP_POINT=${#COMP_LINE}
        COMPREPLY=()
        _keydctl keydctl "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
        printf '%s\n' "${COMPREPLY[@]}" | sed '/^$/d' | sort | tr '\n' ' ' | sed 's/ $//'
}

# expect_offered EXPECTED WORD...
expect_offered() {
        local expected=$1 got
        shift
        got=$(offered "$@")
        [[ $got == "$expected" ]] || fail "completing '$*': got '$got', expected '$expected'"
        ok "completing '$*' offers '$expected'"
}

help_commands=$("$KEYDCTL_BINARY" --help | sed -n '/^Commands:/,/^$/p' | awk '/^  [a-z]/ { print $1 }' | sort |
        tr '\n' ' ' | sed 's/ $//')
[[ -n $help_commands ]] || fail "no commands in keydctl --help"
expect_offered "$help_commands" keydctl ""
expect_offered "$help_commands" keydctl --timeout 5 ""
expect_offered "negotiate" keydctl ne
expect_offered "caps certificate" keydctl c
expect_offered "" keydctl status ""

# Each command's options: those of its --help (with --version), no more.
for verb in $help_commands; do
        want=$( ("$KEYDCTL_BINARY" "$verb" --help | grep -o -E -- '--[a-z][a-z-]*'; echo --version) | sort -u |
                tr '\n' ' ' | sed 's/ $//')
        got=$(offered keydctl "$verb" -- | tr ' ' '\n' | sed 's/=$//' | sort -u | tr '\n' ' ' | sed 's/ $//')
        [[ $got == "$want" ]] || fail "completing 'keydctl $verb --': got '$got', expected '$want'"
        ok "keydctl $verb -- offers the options of keydctl $verb --help"
done
expect_offered "--key-exchange=" keydctl negotiate --key
expect_offered "--profile=" keydctl --timeout 5 caps --pro

expect_offered "sha1 sha256 sha512" keydctl negotiate --key-exchange =
expect_offered "sha256" keydctl roundtrip --key-exchange = sha2
expect_offered "hevc hevc10" keydctl caps --profile = hevc
expect_offered "av1 h264 hevc hevc10 none vp9" keydctl negotiate --profile ""
expect_offered "" keydctl roundtrip --size =

touch "$tmp/ciphertext.bin" "$tmp/other"
expect_offered "$tmp/ciphertext.bin" keydctl negotiate --data = "$tmp/ci"

# keydctl play FILE: MP4 files and directories, not other files; --png any file.
mkdir "$tmp/clips"
touch "$tmp/clips/enc.mp4" "$tmp/clips/notes.txt"
expect_offered "$tmp/clips/enc.mp4" keydctl play "$tmp/clips/"
expect_offered "$tmp/clips" keydctl play --key = 00 "$tmp/cl"
expect_offered "$tmp/clips/enc.mp4 $tmp/clips/notes.txt" keydctl play x.mp4 --png = "$tmp/clips/"
expect_offered "" keydctl play x.mp4 --frame =

# What it offers, keydctl takes: a usage error would exit 2; with no bus at
# the address, a value that parses gets as far as "not reachable" (7).
for value in $(offered keydctl negotiate --key-exchange =); do
        status=0
        "$KEYDCTL_BINARY" --address="unix:path=$tmp/no-bus" negotiate --key-exchange="$value" >/dev/null 2>&1 ||
                status=$?
        [[ $status == 7 ]] || fail "keydctl negotiate --key-exchange=$value: exit $status, expected 7"
done
for value in $(offered keydctl caps --profile =); do
        status=0
        "$KEYDCTL_BINARY" --address="unix:path=$tmp/no-bus" caps --profile="$value" >/dev/null 2>&1 || status=$?
        [[ $status == 7 ]] || fail "keydctl caps --profile=$value: exit $status, expected 7"
done
ok "keydctl accepts every value the completion offers"

echo "PASS: bash completion"
