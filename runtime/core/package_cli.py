"""`ember keygen`, `ember package`, `ember deploy` (also runnable as
`python -m runtime.core.package_cli ...`).

Interface for runtime/cli.py:
    from runtime.core import package_cli
    package_cli.add_commands(subparsers)   # adds keygen/package/deploy; each sets args.func
    rc = args.func(args)                   # 0 ok, 1 rejected/failed (message on stderr)

    ember keygen KEY [--force]                               -> KEY (private, 0600), KEY.pub
    ember package MODEL --name N --version V --key KEY [--labels a,b | --labels-file F]
                  [--sample-input x.npy] [--seed S] [--out PATH]      -> N-V.ember
    ember deploy PACKAGE --to CORE [--broker HOST:PORT] [--prefix ember] [--timeout S]
                 [--cafile CA --certfile CRT --keyfile KEY]
    ember deploy --rollback NAME --to CORE ...
"""
from __future__ import annotations

import argparse
import json
import os
import sys

from runtime.errors import EmberError

LOADER = None   # model loader for `ember package`; None means runtime.load (tests may replace it)


def _parse_broker(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host:
        return text, 1883
    try:
        return host, int(port)
    except ValueError:
        raise EmberError(f"--broker must be HOST:PORT, got {text!r}") from None


def _tls_context(args):
    if not args.cafile:
        return None
    import ssl
    ctx = ssl.create_default_context(cafile=args.cafile)
    if args.certfile:
        ctx.load_cert_chain(args.certfile, args.keyfile)
    return ctx


def cmd_keygen(args) -> int:
    from .package import write_keypair
    priv, pub = write_keypair(args.key, overwrite=args.force)
    print(f"private key: {priv}\npublic key:  {pub}  (copy it to the cores' trusted keys)")
    return 0


def cmd_package(args) -> int:
    import numpy as np

    from .package import load_private_key, package_id, package_model
    try:
        with open(args.model, "rb") as f:
            model = f.read()
    except OSError as e:
        raise EmberError(f"cannot read model {args.model}: {e.strerror}") from None
    labels = None
    if args.labels_file:
        with open(args.labels_file, encoding="utf-8") as f:
            labels = [line.strip() for line in f if line.strip()]
    elif args.labels:
        labels = [s.strip() for s in args.labels.split(",")]
    sample = np.load(args.sample_input) if args.sample_input else None
    blob = package_model(model, args.name, args.version, load_private_key(args.key),
                         labels=labels, sample_input=sample, seed=args.seed, loader=LOADER)
    out = args.out or f"{args.name}-{args.version}.ember"
    with open(out, "wb") as f:
        f.write(blob)
    print(f"{out}: {args.name} {args.version}, {len(blob)} bytes, package id {package_id(blob)}")
    return 0


def cmd_deploy(args) -> int:
    from .deploy import deploy_package, request_rollback
    host, port = _parse_broker(args.broker)
    tls = _tls_context(args)
    if args.rollback:
        st = request_rollback(args.rollback, args.to, host, port, prefix=args.prefix,
                              timeout_s=args.timeout, tls=tls)
    else:
        if not args.package:
            raise EmberError("ember deploy needs a PACKAGE (or --rollback NAME)")
        try:
            with open(args.package, "rb") as f:
                blob = f.read()
        except OSError as e:
            raise EmberError(f"cannot read package {args.package}: {e.strerror}") from None
        show = (lambda st: print(f"  {st['state']}", file=sys.stderr)) if not args.json else None
        st = deploy_package(blob, args.to, host, port, prefix=args.prefix, timeout_s=args.timeout,
                            tls=tls, on_status=show)
    if args.json:
        print(json.dumps(st))
    else:
        line = f"{args.to}: {st['name']} {st['version']} {st['state']}"
        print(line + (f" ({st['reason']})" if st.get("reason") else ""))
    return 0 if st["state"] in ("active", "rolled_back") else 1


def add_commands(sub) -> None:
    p = sub.add_parser("keygen", help="make an ed25519 key pair for signing model packages")
    p.add_argument("key", help="path of the private key; the public key goes to KEY.pub")
    p.add_argument("--force", action="store_true", help="overwrite existing key files")
    p.set_defaults(func=cmd_keygen)

    p = sub.add_parser("package", help="make a signed model package (.tflite + manifest + signature)")
    p.add_argument("model", help=".tflite file")
    p.add_argument("--name", required=True)
    p.add_argument("--version", required=True, help="semantic version, e.g. 1.2.0")
    p.add_argument("--key", required=True, help="ed25519 private key (ember keygen)")
    p.add_argument("--labels", help="comma-separated output labels")
    p.add_argument("--labels-file", help="file with one label per line")
    p.add_argument("--sample-input", help=".npy sample input (default: seeded random)")
    p.add_argument("--seed", type=int, default=0, help="seed of the random sample input")
    p.add_argument("--out", help="output path (default NAME-VERSION.ember)")
    p.set_defaults(func=cmd_package)

    p = sub.add_parser("deploy", help="deploy a model package to a core over MQTT")
    p.add_argument("package", nargs="?", help="package file (ember package)")
    p.add_argument("--to", required=True, metavar="CORE", help="core id")
    p.add_argument("--rollback", metavar="NAME", help="roll model NAME back to its previous version")
    p.add_argument("--broker", default=os.environ.get("EMBER_BROKER", "127.0.0.1:1883"), help="HOST:PORT")
    p.add_argument("--prefix", default="ember", help="topic prefix")
    p.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for the final status")
    p.add_argument("--cafile"), p.add_argument("--certfile"), p.add_argument("--keyfile")
    p.add_argument("--json", action="store_true", help="print the final status as JSON")
    p.set_defaults(func=cmd_deploy)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="ember")
    add_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except EmberError as e:
        print(f"ember {args.command}: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
