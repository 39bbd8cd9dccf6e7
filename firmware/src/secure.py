"""TLS client context (named so as not to shadow MicroPython's own `tls`) from the certificate files ``ember flash`` copies to
the node (``certs/ca.pem``, ``certs/node.crt``, ``certs/node.key``)."""
import ssl


def context(broker):
    """An SSLContext for ``broker`` settings (keys ca, cert, key), or None
    when ``tls`` is off."""
    if not broker.get("tls"):
        return None
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if broker.get("cert") and broker.get("key"):
        ctx.load_cert_chain(broker["cert"], broker["key"])
    if broker.get("ca"):
        ctx.load_verify_locations(cafile=broker["ca"])
        ctx.verify_mode = ssl.CERT_REQUIRED
    else:
        ctx.verify_mode = ssl.CERT_NONE
    return ctx
