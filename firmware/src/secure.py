"""TLS client context from the certificate files ``ember flash`` copies to
the node (``certs/ca.pem``, ``certs/node.crt``, ``certs/node.key``). Named
so as not to shadow MicroPython's own ``tls`` module.

MicroPython builds of mbedTLS often lack PEM parsing, so on MicroPython the
files are read and the first PEM block is decoded to DER here (DER files are
used as they are). CPython's ``ssl`` takes the file paths directly.
"""
import sys

import ssl
from binascii import a2b_base64

MICROPYTHON = sys.implementation.name == "micropython"


def der(data):
    """DER bytes of the first PEM block in ``data`` (DER input is returned as is)."""
    if not data.startswith(b"-----BEGIN"):
        return data
    lines = data.split(b"\n")
    body = b""
    for line in lines[1:]:
        line = line.strip()
        if line.startswith(b"-----END"):
            break
        body += line
    return a2b_base64(body)


def _read(path):
    with open(path, "rb") as f:
        return der(f.read())


def context(broker):
    """An SSLContext for ``broker`` settings (keys ca, cert, key), or None
    when ``tls`` is off."""
    if not broker.get("tls"):
        return None
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    cert, key, ca = broker.get("cert"), broker.get("key"), broker.get("ca")
    if cert and key:
        if MICROPYTHON:
            ctx.load_cert_chain(_read(cert), _read(key))
        else:
            ctx.load_cert_chain(cert, key)
    if ca:
        if MICROPYTHON:
            ctx.load_verify_locations(cadata=_read(ca))
        else:
            ctx.load_verify_locations(cafile=ca)
        ctx.verify_mode = ssl.CERT_REQUIRED
    else:
        if not MICROPYTHON:
            setattr(ctx, "check_hostname", False)  # CPython only (not in MicroPython)
        ctx.verify_mode = ssl.CERT_NONE
    return ctx
