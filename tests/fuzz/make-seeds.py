#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Write the hand-made seeds of tests/fuzz/corpus/.

Each seed spells out, byte by byte, the choices the harness reads (see the
harnesses and bus-message-builder.c), so that a short fuzzing run starts
from inputs that reach deep: a session with a negotiated key and its whole
data path, a HW_PROTECTION session, OAEP ciphertexts that decode. Any bytes
are a valid input; these are just good starting points. Run it after
changing how a harness reads its input:

    tests/fuzz/make-seeds.py tests/fuzz/corpus
"""

import os
import sys

# ---- fuzz-bus-methods: the builder's method table and string table ----

METHODS = [
    "GetContentProtectionCaps", "CheckCryptoKeyExchange", "GetCryptoSessionPrivateDataSize",
    "CreateCryptoSession", "GetCertificate", "NegotiateCryptoSessionKeyExchange",
    "ExecuteHWProtectionFunction", "StartSessionKeyRefresh", "FinishSessionKeyRefresh",
    "GetEncryptionBltKey", "CreateSurface", "DestroySurface", "DecryptionBlt", "DecryptionBltFd",
    "EncryptionBlt", "EncryptionBltToFd", "CheckCryptoSessionStatus", "Close", "Get", "GetAll", "Set",
    "Introspect", "Ping", "GetMachineId", "GetManagedObjects",
]
MANAGER_METHODS = METHODS[:4]
SESSION_METHODS = METHODS[4:18]
# Indexes into the builder's string table.
S_AES128_CTR, S_OAEP, S_HW, S_H264 = 0, 1, 2, 5
S_EMPTY, S_MANAGER_IFACE, S_SESSION_IFACE = 18, 19, 20
S_SESSION_COUNT = 23
ARRAY_SIZES = [0, 16, 256, 255, 257, 15, 17, 1, 512, 384, 4096]


def u(value):
    """A number argument: a choice byte, then 8 bytes taken as the value when
    the choice is 160 or more (little-endian)."""
    return bytes([200]) + value.to_bytes(8, "little")


def s(index):
    return bytes([index])


def ay(size, fill=0x5a):
    return bytes([ARRAY_SIZES.index(size)]) + bytes([fill]) * min(size, 512)


def call(method, args, session=0, client=0):
    """op_random_call with the method's own path, interface, member and signature."""
    out = bytes([0, METHODS.index(method)])
    out += bytes([0])                       # the natural path
    if method in SESSION_METHODS:
        out += bytes([session])             # which of the sessions created so far
    elif method not in MANAGER_METHODS:
        out += bytes([0])                   # pick_path: first fixed path, the manager
    out += bytes([0, 0, 0])                 # natural interface, member, signature
    out += args
    return out + bytes([0, client])         # a sender, and which client


def create_session(exchange=0, client=0):
    return bytes([10, exchange, 0, client])


def negotiate(session=0, hash_index=0, client=0):
    hlen = [64, 32, 20][hash_index]
    return bytes([12, session]) + bytes(range(1, 17)) + bytes([hash_index]) + bytes([7]) * hlen + bytes([0, client])


def disconnect(client=0):
    return bytes([13, client])


def bus_methods_seeds():
    data_path = (create_session(0) + negotiate(0, 0)
                 + call("CreateSurface", u(64))
                 + call("DecryptionBlt", u(1) + ay(16) + u(0) + u(0) + u(0) + ay(0) + ay(16))
                 + call("DecryptionBlt", u(1) + ay(16) + u(16) + u(16) + u(16) + ay(16) + ay(16))
                 + call("GetEncryptionBltKey", u(16))
                 + call("EncryptionBlt", u(1))
                 # h: a 64-byte memfd written through, sealed against shrink and grow
                 + call("EncryptionBltToFd", u(1) + bytes([0x83, 5]))
                 + call("EncryptionBlt", u(1))
                 + call("StartSessionKeyRefresh", u(16))
                 + call("FinishSessionKeyRefresh", b"")
                 + call("GetEncryptionBltKey", u(16))
                 + call("CheckCryptoSessionStatus", b"")
                 + call("GetCertificate", b"")
                 + call("DestroySurface", u(1))
                 + call("Close", b""))
    memfd = (create_session(1) + negotiate(0, 1)
             + call("CreateSurface", u(64))
             # h: a sealed memfd of 16 bytes, holes; then written through
             + call("DecryptionBltFd", u(1) + bytes([0, 1]) + u(0) + u(0) + u(0) + ay(0) + ay(16))
             + call("DecryptionBltFd", u(1) + bytes([0x80, 1]) + u(0) + u(0) + u(0) + ay(0) + ay(16))
             # a hugetlbfs memfd, then a destination with holes
             + call("EncryptionBltToFd", u(1) + bytes([4, 3]))
             + call("EncryptionBltToFd", u(1) + bytes([3, 5])))
    hw = (create_session(3)
          + call("ExecuteHWProtectionFunction", u(1) + u(0) + ay(16) + u(256))
          + call("ExecuteHWProtectionFunction", u(2) + u(0) + ay(16) + u(256))
          + call("ExecuteHWProtectionFunction", u(1) + u(0) + ay(256) + u(16))
          + call("ExecuteHWProtectionFunction", u(7) + u(0) + ay(0) + u(16))
          + call("GetCertificate", b""))
    # (Get and friends before any session exists go to the manager's path.)
    manager = (call("Get", s(S_MANAGER_IFACE) + s(S_SESSION_COUNT))
               + call("GetAll", s(S_MANAGER_IFACE))
               + call("Introspect", b"")
               + call("GetManagedObjects", b"")
               + call("GetContentProtectionCaps", s(S_AES128_CTR) + s(S_H264))
               + call("GetContentProtectionCaps", s(S_EMPTY) + s(S_EMPTY))
               + call("CheckCryptoKeyExchange", s(S_AES128_CTR) + s(S_EMPTY) + u(3))
               + call("GetCryptoSessionPrivateDataSize", s(S_AES128_CTR) + s(S_H264) + s(S_HW))
               + call("CreateCryptoSession", s(S_AES128_CTR) + s(S_H264) + s(S_OAEP))
               + call("Get", s(S_SESSION_IFACE) + s(S_SESSION_COUNT))
               + call("GetAll", s(S_SESSION_IFACE)))
    two_clients = (create_session(0, client=0) + create_session(2, client=1)
                   + negotiate(1, 2, client=1)
                   + call("CreateSurface", u(64), session=1, client=1)
                   + call("CreateSurface", u(64), session=0, client=1)       # another's session
                   + call("Close", b"", session=1, client=0)                 # another's session
                   + disconnect(1)
                   + call("CheckCryptoSessionStatus", b"", session=1, client=1)
                   + create_session(0, client=0) + create_session(0, client=0) + create_session(0, client=0))
    return {"data-path": data_path, "memfd": memfd, "hw-protection": hw, "manager": manager,
            "two-clients": two_clients}


# ---- fuzz-rsa-oaep: control byte = hash | mgf1 << 2 | mode << 4 | key << 6 ----

def oaep_seeds():
    seeds = {}
    for h in range(3):
        # structured: flags 0 (all valid), ps, message filling the rest
        seeds[f"structured-valid-{h}"] = bytes([h | h << 2 | 2 << 4, 0, 16, 0]) + bytes([3, 0]) + bytes(range(200))
        seeds[f"structured-bad-separator-{h}"] = bytes([h | h << 2 | 2 << 4, 0, 16, 8, 5, 0, 2]) + bytes(200)
        seeds[f"round-trip-{h}"] = bytes([h | h << 2 | 3 << 4, 3, 1, 2, 3, 64, 16, 0]) + bytes(range(16)) + bytes(64)
    seeds["structured-small-key"] = bytes([1 | 1 << 2 | 2 << 4 | 1 << 6, 0, 64, 0, 1, 0]) + bytes(range(100))
    seeds["raw-256"] = bytes([0x00, 0, 16]) + bytes(range(256))
    seeds["raw-255"] = bytes([0x00, 0, 16]) + bytes(range(255))
    seeds["raw-all-ff"] = bytes([0x02, 0, 16]) + b"\xff" * 256
    seeds["chosen-em"] = bytes([0x10, 0, 16, 0]) + bytes(256)
    seeds["bad-params"] = bytes([0x80, 0, 16]) + bytes(256)
    return seeds


# ---- fuzz-hw-protection ----

def hw_seeds():
    def size(n):                            # fuzz_size(): choice 3, then a u16 (mod 512)
        return bytes([3]) + n.to_bytes(2, "little")

    def call(function_id, in_private, in_hw, out_private, out_max, flags=0):
        return (bytes([flags]) + size(in_private) + size(in_hw) + out_private.to_bytes(2, "little")
                + out_max.to_bytes(2, "little") + function_id.to_bytes(4, "little")
                + bytes(range(in_private + in_hw)))

    def reply(private, hw, output_size=None, choice=1):
        out = output_size if output_size is not None else private + hw
        return (bytes(8) + bytes([choice]) + size(private) + size(hw) + (1000).to_bytes(8, "little")
                + (0).to_bytes(4, "little") + bytes(range(out)))

    return {
        "pass-through": call(1, 0, 16, 0, 256) + reply(0, 16),
        "private-data": call(1, 8, 16, 8, 256) + reply(8, 16),
        "too-long": call(1, 0, 16, 0, 8) + reply(0, 16),
        "sizes-lie": call(1, 0, 16, 0, 256) + reply(0, 16, choice=3) + (20).to_bytes(2, "little"),
        "wrong-type": call(1, 0, 16, 0, 256) + bytes(8) + bytes([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
        "null-output": call(1, 0, 16, 0, 256, flags=4),
        "over-limit": bytes([0, 2]) + (0x800000).to_bytes(3, "little") + bytes([2, 1]) + bytes(8),
    }


# ---- fuzz-guid ----

def guid_seeds():
    return {
        "lower": b"c1949895-d72a-4a1d-8e5d-ed857d171520",
        "upper-braced": b"{9B6BD711-4F74-41C9-9E7B-0BE2D7D93B4F}",
        "short": b"9b6bd711-4f74-41c9-9e7b-0be2d7d93b4",
        "bad-dash": b"9b6bd711x4f74-41c9-9e7b-0be2d7d93b4f",
        "one-brace": b"{9b6bd711-4f74-41c9-9e7b-0be2d7d93b4f",
        "nul-inside": b"9b6bd711-4f74\x0041c9-9e7b-0be2d7d93b4f",
        "empty": b"",
    }


def write(corpus, name, seeds):
    d = os.path.join(corpus, name)
    os.makedirs(d, exist_ok=True)
    for seed, data in seeds.items():
        with open(os.path.join(d, seed), "wb") as f:
            f.write(data)


def main():
    corpus = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "corpus")
    write(corpus, "fuzz-bus-methods", bus_methods_seeds())
    write(corpus, "fuzz-rsa-oaep", oaep_seeds())
    write(corpus, "fuzz-guid", guid_seeds())
    write(corpus, "fuzz-hw-protection", hw_seeds())


if __name__ == "__main__":
    main()
