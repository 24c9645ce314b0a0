# SPDX-License-Identifier: LGPL-2.1-or-later
"""A crypto session through the installed libkeyd (ctypes), across a kill.

Run inside the booted system as `python3 - COMMAND...` (the script on
stdin): opens a session on the system bus, reads the certificate, wraps a
random key to it and negotiates it, then runs COMMAND (which kills keyd),
calls the old session again, and finally opens a new session and reads the
certificate once more. Prints key=value lines for the test to judge:
  cert_before, cert_after   SHA-256 of the certificate
  negotiate                 HRESULT of the first key exchange
  old_session, old_seconds  HRESULT of CheckCryptoSessionStatus on the old
                            session after the kill, and how long it took
  error                     keyd_last_error_message() after that call
"""

import ctypes
import hashlib
import os
import subprocess
import sys
import time

# The installed library, by path: under a /usr/local prefix it is not in
# the container's (empty) linker cache.
lib = ctypes.CDLL(os.environ.get("KEYD_LIBKEYD", "libkeyd.so.0"))
lib.keyd_last_error_message.restype = ctypes.c_char_p
lib.keyd_client_close.restype = ctypes.c_void_p
lib.keyd_crypto_session_release.restype = ctypes.c_void_p
GUID = ctypes.c_ubyte * 16
AES128_CTR = GUID.in_dll(lib, "KEYD_CRYPTO_TYPE_AES128_CTR")
RSAES_OAEP = GUID.in_dll(lib, "KEYD_KEY_EXCHANGE_RSAES_OAEP")


def hx(hr):
    return "0x%08X" % (hr & 0xFFFFFFFF)


def check(hr, what):
    if hr < 0:
        sys.exit("session-client: %s: %s %s" % (what, hx(hr), lib.keyd_last_error_message().decode()))


def open_session():
    client = ctypes.c_void_p()
    session = ctypes.c_void_p()
    check(lib.keyd_client_open(ctypes.byref(client)), "keyd_client_open")
    check(lib.keyd_create_crypto_session(client, ctypes.byref(AES128_CTR), None, ctypes.byref(RSAES_OAEP),
                                         ctypes.byref(session)), "CreateCryptoSession")
    size = ctypes.c_uint32()
    check(lib.keyd_crypto_session_get_certificate_size(session, ctypes.byref(size)), "GetCertificateSize")
    cert = (ctypes.c_ubyte * size.value)()
    check(lib.keyd_crypto_session_get_certificate(session, size, cert), "GetCertificate")
    return client, session, bytes(cert)


client, session, cert = open_session()
print("cert_before=" + hashlib.sha256(cert).hexdigest())
key = (ctypes.c_ubyte * 16)(*os.urandom(16))
wrapped = (ctypes.c_ubyte * 512)()
modulus_bytes = 256  # a 2048-bit device key: what keyd makes by default
check(lib.keyd_wrap_session_key(cert, len(cert), ctypes.byref(RSAES_OAEP), key, 16, modulus_bytes, wrapped),
      "keyd_wrap_session_key")
print("negotiate=" + hx(lib.keyd_negotiate_crypto_session_key_exchange(session, modulus_bytes, wrapped)))
sys.stdout.flush()

subprocess.run(sys.argv[1:], check=True)

# CheckCryptoSessionStatus always asks keyd (the certificate size, say,
# libkeyd knows already).
status = ctypes.c_int32()
start = time.monotonic()
hr = lib.keyd_check_crypto_session_status(session, ctypes.byref(status))
print("old_session=" + hx(hr))
print("old_seconds=%.2f" % (time.monotonic() - start))
print("error=" + (lib.keyd_last_error_message() or b"").decode())
lib.keyd_crypto_session_release(session)
lib.keyd_client_close(client)

client, session, cert = open_session()
print("cert_after=" + hashlib.sha256(cert).hexdigest())
lib.keyd_crypto_session_release(session)
lib.keyd_client_close(client)
