#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Turn a Wycheproof RSAES-OAEP decryption test file (JSON) into the line
format tests/unit/test-rsa-oaep.c reads, so that the C test needs no JSON
parser. One record per line, fields separated by single spaces, "-" for an
empty byte string:

  file <numberOfTests>
  group <keySize> <sha> <mgfSha> <n> <e> <d> <p> <q>
  test <tcId> <result> <flags> <ct> <label> <msg>

numberOfTests is copied from the JSON header, not counted here: the C test
counts the "test" lines itself and compares, so nothing can be skipped
silently on either side.
"""

import json
import re
import sys

HEX = re.compile(r'^[0-9a-fA-F]*$')


def field(value):
    if not isinstance(value, str) or not HEX.match(value) or len(value) % 2:
        sys.exit(f'not an even-length hex string: {value!r}')
    return value.lower() if value else '-'


def word(value):
    if not value or any(c.isspace() for c in value):
        sys.exit(f'unexpected value: {value!r}')
    return value


def main():
    if len(sys.argv) != 3:
        sys.exit(f'usage: {sys.argv[0]} INPUT.json OUTPUT.txt')

    with open(sys.argv[1], encoding='utf-8') as f:
        doc = json.load(f)

    if doc.get('algorithm') != 'RSAES-OAEP':
        sys.exit(f'{sys.argv[1]}: algorithm is {doc.get("algorithm")!r}, expected RSAES-OAEP')

    lines = [f'file {int(doc["numberOfTests"])}']
    for group in doc['testGroups']:
        if group.get('mgf') != 'MGF1':
            sys.exit(f'{sys.argv[1]}: mask generation {group.get("mgf")!r}, expected MGF1')
        key = group['privateKey']
        lines.append(' '.join(['group', str(int(group['keySize'])), word(group['sha']), word(group['mgfSha']),
                               field(key['modulus']), field(key['publicExponent']),
                               field(key['privateExponent']), field(key['prime1']), field(key['prime2'])]))
        for test in group['tests']:
            flags = ','.join(word(f) for f in test['flags']) or '-'
            lines.append(' '.join(['test', str(int(test['tcId'])), word(test['result']), flags,
                                   field(test['ct']), field(test['label']), field(test['msg'])]))

    with open(sys.argv[2], 'w', encoding='ascii') as f:
        f.write('\n'.join(lines) + '\n')


if __name__ == '__main__':
    main()
