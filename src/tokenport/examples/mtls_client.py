#!/usr/bin/env python3
"""Mutual TLS from Python with the device key inside tokenport.

The route: Python's ``ssl`` module takes a private key only as a file, and the device key
never leaves the token, so this example drives the system's OpenSSL (libssl 3) through
``ctypes`` and lets the libp11 engine (Debian package ``libengine-pkcs11-openssl``) reach
the key by its ``pkcs11:`` URI. The socket is an ordinary Python socket; OpenSSL runs the
handshake on it and asks the engine for the CertificateVerify signature, which tokenport
computes inside the token. The client certificate comes from the token too ("Device Cert"),
unless ``--cert`` names a file. Only the server's CA certificate is a file.

Other routes, and why not here: a pure-Python TLS stack with a pluggable signer
(tlslite-ng, signing through python-pkcs11) works but is another dependency and another TLS
implementation; OpenSSL 3's pkcs11-provider would let ``ssl.SSLContext.load_cert_chain``
read a key "file" that only holds a URI, but Debian 12 does not package it.

    python3 -m tokenport.examples.mtls_client --connect 127.0.0.1:8443 --servername localhost --ca ca.pem \\
        --token dev --send 'GET / HTTP/1.0\\r\\n\\r\\n'

The PIN comes from $TOKENPORT_PIN (or --pin-env VAR). Exit status 0 when the handshake
succeeded and the exchange completed; the reply is printed on stdout.
"""

from __future__ import annotations

import argparse
import ctypes
import ctypes.util
import os
import socket
import struct
import sys
from urllib.parse import quote

ENGINE_ID = b"pkcs11"
SSL_VERIFY_PEER = 0x01
SSL_CTRL_SET_TLSEXT_HOSTNAME = 55
SSL_CTRL_SET_MIN_PROTO_VERSION = 123
SSL_CTRL_SET_MAX_PROTO_VERSION = 124
TLSEXT_NAMETYPE_HOST_NAME = 0
SSL_ERROR_ZERO_RETURN = 6
TLS_VERSIONS = {"1.2": 0x0303, "1.3": 0x0304}
TIMEOUT = 30

P = ctypes.c_void_p


class TlsError(Exception):
    """A step of the handshake or the exchange failed (with OpenSSL's reason)."""


class _CertParams(ctypes.Structure):
    """The argument of libp11's LOAD_CERT_CTRL engine command."""

    _fields_ = [("uri", ctypes.c_char_p), ("cert", P)]


def _library(name: str, fallback: str) -> ctypes.CDLL:
    return ctypes.CDLL(ctypes.util.find_library(name) or fallback)


def _declare(lib: ctypes.CDLL, name: str, restype: object, *argtypes: object) -> None:
    function = getattr(lib, name)
    function.restype = restype
    function.argtypes = list(argtypes)


class OpenSSL:
    """The few libssl / libcrypto functions this example calls, with their C types."""

    def __init__(self) -> None:
        self.ssl = _library("ssl", "libssl.so.3")
        self.crypto = _library("crypto", "libcrypto.so.3")
        c_int, c_long, c_char_p = ctypes.c_int, ctypes.c_long, ctypes.c_char_p
        c_ulong = ctypes.c_ulong
        s, c = self.ssl, self.crypto
        _declare(s, "TLS_client_method", P)
        _declare(s, "SSL_CTX_new", P, P)
        _declare(s, "SSL_CTX_free", None, P)
        _declare(s, "SSL_CTX_ctrl", c_long, P, c_int, c_long, P)
        _declare(s, "SSL_CTX_load_verify_locations", c_int, P, c_char_p, c_char_p)
        _declare(s, "SSL_CTX_set_verify", None, P, c_int, P)
        _declare(s, "SSL_CTX_use_certificate_chain_file", c_int, P, c_char_p)
        _declare(s, "SSL_CTX_use_certificate", c_int, P, P)
        _declare(s, "SSL_CTX_use_PrivateKey", c_int, P, P)
        _declare(s, "SSL_CTX_check_private_key", c_int, P)
        _declare(s, "SSL_new", P, P)
        _declare(s, "SSL_free", None, P)
        _declare(s, "SSL_ctrl", c_long, P, c_int, c_long, P)
        _declare(s, "SSL_set1_host", c_int, P, c_char_p)
        _declare(s, "SSL_set_fd", c_int, P, c_int)
        _declare(s, "SSL_connect", c_int, P)
        _declare(s, "SSL_get_version", c_char_p, P)
        _declare(s, "SSL_write", c_int, P, c_char_p, c_int)
        _declare(s, "SSL_read", c_int, P, ctypes.c_char_p, c_int)
        _declare(s, "SSL_get_error", c_int, P, c_int)
        _declare(s, "SSL_shutdown", c_int, P)
        _declare(c, "ENGINE_by_id", P, c_char_p)
        _declare(c, "ENGINE_ctrl_cmd_string", c_int, P, c_char_p, c_char_p, c_int)
        _declare(c, "ENGINE_ctrl_cmd", c_int, P, c_char_p, c_long, P, P, c_int)
        _declare(c, "ENGINE_init", c_int, P)
        _declare(c, "ENGINE_finish", c_int, P)
        _declare(c, "ENGINE_free", c_int, P)
        _declare(c, "ENGINE_load_private_key", P, P, c_char_p, P, P)
        _declare(c, "EVP_PKEY_free", None, P)
        _declare(c, "X509_free", None, P)
        _declare(c, "ERR_get_error", c_ulong)
        _declare(c, "ERR_error_string_n", None, c_ulong, c_char_p, ctypes.c_size_t)

    def errors(self) -> str:
        """OpenSSL's queued error reasons, oldest first (the queue is emptied)."""
        reasons = []
        while code := self.crypto.ERR_get_error():
            buffer = ctypes.create_string_buffer(256)
            self.crypto.ERR_error_string_n(code, buffer, len(buffer))
            reasons.append(buffer.value.decode(errors="replace"))
        return "; ".join(reasons) or "no details"

    def check(self, result: int | None, what: str) -> int:
        """``result`` (a pointer, or a return code that is 1 on success); TlsError with
        OpenSSL's reasons if it is NULL or 0 (or, for a return code, anything but 1)."""
        if not result or result < 0:
            raise TlsError(f"{what} failed: {self.errors()}")
        return result

    def ok(self, code: int, what: str) -> None:
        """Raise TlsError with OpenSSL's reasons unless the return ``code`` is 1."""
        if code != 1:
            raise TlsError(f"{what} failed: {self.errors()}")


def object_uri(token: str, label: str, kind: str) -> str:
    """The pkcs11: URI of an object on ``token`` (values percent-encoded, RFC 7512)."""
    return f"pkcs11:token={quote(token, safe='')};object={quote(label, safe='')};type={kind}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connect", required=True, metavar="HOST:PORT")
    parser.add_argument("--servername", help="Name the server certificate must carry "
                        "(default: the host).")
    parser.add_argument("--ca", required=True, help="CA certificate(s) the server chains to.")
    parser.add_argument("--token", required=True, help="Label of the tokenport token.")
    parser.add_argument("--key-label", default="Device Priv TLS Key")
    parser.add_argument("--cert-label", default="Device Cert")
    parser.add_argument("--cert", help="Client certificate file (default: from the token).")
    parser.add_argument("--module", help="PKCS #11 module (default: tokenport's).")
    parser.add_argument("--pin-env", default="TOKENPORT_PIN")
    parser.add_argument("--tls", choices=sorted(TLS_VERSIONS), help="Only this TLS version.")
    parser.add_argument("--send", default="", help="Text to send after the handshake "
                        "(\\r and \\n escapes allowed); the reply is printed.")
    args = parser.parse_args(argv)
    host, _, port = args.connect.rpartition(":")
    pin = os.environ.get(args.pin_env, "")
    if args.module is None:
        from tokenport.abi import module_path

        args.module = module_path()
    try:
        reply, version = connect(args, host, int(port), pin)
    except (TlsError, OSError) as exc:
        print(f"mtls_client: {exc}", file=sys.stderr)
        return 1
    print(f"handshake OK ({version})", file=sys.stderr)
    sys.stdout.write(reply.decode("utf-8", "replace"))
    return 0


def connect(args: argparse.Namespace, host: str, port: int, pin: str) -> tuple[bytes, str]:
    """Handshake with the token's key, send ``args.send``, return (reply, TLS version)."""
    lib = OpenSSL()
    s, c = lib.ssl, lib.crypto
    engine = c.ENGINE_by_id(ENGINE_ID)
    lib.check(engine, "loading the pkcs11 engine (apt install libengine-pkcs11-openssl)")
    ctx = ssl = key = cert = None
    try:
        lib.ok(c.ENGINE_ctrl_cmd_string(engine, b"MODULE_PATH", args.module.encode(), 0),
                  "setting the engine's MODULE_PATH")
        if pin:
            lib.ok(c.ENGINE_ctrl_cmd_string(engine, b"PIN", pin.encode(), 0), "setting the PIN")
        lib.ok(c.ENGINE_init(engine), "starting the engine")
        ctx = s.SSL_CTX_new(s.TLS_client_method())
        lib.check(ctx, "SSL_CTX_new")
        if args.tls:
            for control in (SSL_CTRL_SET_MIN_PROTO_VERSION, SSL_CTRL_SET_MAX_PROTO_VERSION):
                s.SSL_CTX_ctrl(ctx, control, TLS_VERSIONS[args.tls], None)
        lib.ok(s.SSL_CTX_load_verify_locations(ctx, args.ca.encode(), None), "loading --ca")
        s.SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, None)
        if args.cert:
            lib.ok(s.SSL_CTX_use_certificate_chain_file(ctx, args.cert.encode()),
                      "loading --cert")
        else:
            params = _CertParams(object_uri(args.token, args.cert_label, "cert").encode(), None)
            lib.ok(c.ENGINE_ctrl_cmd(engine, b"LOAD_CERT_CTRL", 0, ctypes.byref(params),
                                        None, 1), "reading the certificate from the token")
            cert = params.cert
            lib.ok(s.SSL_CTX_use_certificate(ctx, cert), "using the certificate")
        key_uri = object_uri(args.token, args.key_label, "private")
        key = c.ENGINE_load_private_key(engine, key_uri.encode(), None, None)
        lib.check(key, f"finding the key {key_uri}")
        lib.ok(s.SSL_CTX_use_PrivateKey(ctx, key), "using the token key")
        lib.ok(s.SSL_CTX_check_private_key(ctx), "matching certificate and key")
        with socket.create_connection((host, port), timeout=TIMEOUT) as sock:
            # OpenSSL needs a blocking descriptor (a Python timeout makes it non-blocking);
            # the kernel's receive / send timeouts keep a dead peer from hanging us
            sock.settimeout(None)
            for option in (socket.SO_RCVTIMEO, socket.SO_SNDTIMEO):
                sock.setsockopt(socket.SOL_SOCKET, option, struct.pack("ll", TIMEOUT, 0))
            ssl = s.SSL_new(ctx)
            lib.check(ssl, "SSL_new")
            name = (args.servername or host).encode()
            s.SSL_ctrl(ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_HOST_NAME,
                       ctypes.c_char_p(name))
            lib.ok(s.SSL_set1_host(ssl, name), "setting the expected server name")
            lib.ok(s.SSL_set_fd(ssl, sock.fileno()), "SSL_set_fd")
            result = s.SSL_connect(ssl)
            if result != 1:
                raise TlsError(f"the TLS handshake failed (SSL error "
                               f"{s.SSL_get_error(ssl, result)}): {lib.errors()}")
            version = (s.SSL_get_version(ssl) or b"?").decode()
            return _exchange(lib, ssl, args.send), version
    finally:
        if ssl:
            s.SSL_free(ssl)
        if ctx:
            s.SSL_CTX_free(ctx)
        if key:
            c.EVP_PKEY_free(key)
        if cert:
            c.X509_free(cert)
        c.ENGINE_finish(engine)
        c.ENGINE_free(engine)


def _exchange(lib: OpenSSL, ssl: int, text: str) -> bytes:
    s = lib.ssl
    data = text.encode().decode("unicode_escape").encode("latin-1")
    if data and s.SSL_write(ssl, data, len(data)) != len(data):
        raise TlsError(f"sending failed: {lib.errors()}")
    reply = bytearray()
    buffer = ctypes.create_string_buffer(16384)
    while True:
        count = s.SSL_read(ssl, buffer, len(buffer))
        if count <= 0 and not reply and s.SSL_get_error(ssl, count) != SSL_ERROR_ZERO_RETURN:
            raise TlsError(f"reading the reply failed: {lib.errors()}")
        if count <= 0:  # the server closed the connection
            break
        reply += buffer.raw[:count]
    s.SSL_shutdown(ssl)
    return bytes(reply)


if __name__ == "__main__":
    sys.exit(main())
