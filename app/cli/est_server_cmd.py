"""``certline est-server``: run the bundled EST test server until Ctrl-C / SIGTERM.

For demos and manual testing against a real TLS endpoint on 127.0.0.1. The
passcode is read from the environment variable named by ``--passcode-env``
(never from argv, which other users can read in the process list).
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import Any

from certline.app.estserver import EstTestServer, FaultSpecError, ServerConfig, parse_fault_spec
from certline.app.estserver.csrattrs import PRESETS as CSRATTRS_PRESETS
from certline.app.estserver.routes import Operation
from certline.app.pki import KeyAlgorithm
from certline.app.station.credential_source import SecretFromEnvError, secret_from_env


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "est-server",
        help="run the local EST test server (HTTPS on 127.0.0.1)",
        description=(
            "Serve RFC 7030 EST over TLS on loopback with a throwaway CA: a passcode listener "
            "and a client-certificate listener (like DigiCert DTM's clientauth host)."
        ),
    )
    parser.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="passcode listener port (0 = any)")
    parser.add_argument(
        "--clientauth-port", type=int, default=0, help="client-certificate listener port (0 = any)"
    )
    parser.add_argument(
        "--state-dir",
        type=Path,
        help="keep the CA and issued.jsonl here across restarts (default: temporary, removed on exit)",
    )
    parser.add_argument(
        "--passcode-env",
        metavar="VAR",
        help="environment variable holding the enrollment passcode (without it, "
        "passcode authentication is off and only client certificates work)",
    )
    parser.add_argument(
        "--label",
        action="append",
        default=[],
        help="accept only this label, e.g. cps/IOT_<uuid> (repeatable; default any)",
    )
    parser.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="SPEC",
        help="inject a fault, KIND[=ARGS][@OP][*TIMES], e.g. pending=2:1 or error5xx=3:503:2 (repeatable)",
    )
    parser.add_argument(
        "--key-algorithm",
        choices=[k.value for k in KeyAlgorithm],
        default=KeyAlgorithm.EC_P256.value,
        help="CA key type for a new CA (default ec-p256)",
    )
    parser.add_argument("--no-intermediate", action="store_true", help="issue leaves directly from the root")
    parser.add_argument(
        "--validity-days", type=float, default=365.0, help="lifetime of the certificates it issues, in days"
    )
    parser.add_argument(
        "--csrattrs",
        choices=sorted(CSRATTRS_PRESETS),
        default="none",
        help="what /csrattrs answers (default none = 204 No Content)",
    )
    parser.add_argument(
        "--every-post-issues",
        action="store_true",
        help="issue a new certificate for every POST, also for a CSR sent again (no "
        "retransmission cache), as many CAs do",
    )
    parser.add_argument(
        "--require-pop",
        action="store_true",
        help="require tls-unique in the CSR challengePassword (RFC 7030 3.5; TLS 1.2 only)",
    )
    parser.add_argument(
        "--serverkeygen-key",
        choices=("ec-p256", "ec-p384", "rsa-2048", "rsa-3072", "rsa-4096"),
        default=None,
        help="/serverkeygen makes this key type whatever the CSR carries, like some real servers "
        "(default: the CSR's key type, RFC 7030 4.4.1)",
    )
    parser.add_argument(
        "--passcode-uses",
        type=int,
        metavar="N",
        help="after N certificates issued on a passcode, refuse it with 401, like a DTM passcode's "
        "usage limit (default: unlimited)",
    )
    parser.add_argument(
        "--throttle",
        type=int,
        metavar="R",
        help="answer 429 with Retry-After to enrollment requests beyond R per minute (default: never)",
    )
    parser.add_argument(
        "--throttle-window",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="the throttle's sliding window (default 60: R per minute)",
    )
    parser.add_argument(
        "--throttle-date",
        action="store_true",
        help="send the throttle's Retry-After as an HTTP-date instead of seconds",
    )
    parser.set_defaults(func=run)


def _print(line: str = "") -> None:
    print(line, flush=True)


def run(args: argparse.Namespace) -> int:
    passcode: str | None = None
    if args.passcode_env:
        try:
            passcode = secret_from_env(args.passcode_env)
        except SecretFromEnvError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    faults = []
    for spec in args.fault:
        try:
            faults.append(parse_fault_spec(spec))
        except FaultSpecError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    config = ServerConfig(
        key_algorithm=KeyAlgorithm(args.key_algorithm),
        intermediate=not args.no_intermediate,
        validity_days=args.validity_days,
        labels=frozenset(args.label) if args.label else None,
        csrattrs=CSRATTRS_PRESETS[args.csrattrs](),
        require_pop=args.require_pop,
        serverkeygen_key=args.serverkeygen_key,
        answer_retransmissions=not args.every_post_issues,
        passcode_max_uses=args.passcode_uses,
        throttle_limit=args.throttle,
        throttle_window=args.throttle_window,
        throttle_retry_after_date=args.throttle_date,
    )
    server = EstTestServer(
        state_dir=args.state_dir,
        host=args.host,
        port=args.port,
        clientauth_port=args.clientauth_port,
        passcode=passcode,
        config=config,
        auto_passcode=False,
    )
    for fault in faults:
        server.faults.add_fault(fault)

    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        server.start()
        _print("Certline EST test server")
        _print(f"  passcode listener:   {server.url}")
        _print(f"  clientauth listener: {server.clientauth_url}")
        for label in args.label or [None]:
            _print(f"  EST base:            {server.est_base(label)}")
            _print(f"  enroll URL:          {server.est_url(Operation.SIMPLEENROLL, label)}")
            _print(
                f"  re-enroll URL:       {server.est_url(Operation.SIMPLEREENROLL, label, clientauth=True)}"
            )
        _print(f"  CA certificate:      {server.ca_file}")
        _print(f"  CA SHA-256:          {server.ca_fingerprint}")
        if passcode is not None:
            _print(f"  passcode:            from ${args.passcode_env}")
        else:
            _print("  passcode:            none (client-certificate authentication only)")
        if args.passcode_uses is not None:
            _print(f"  passcode uses:       {args.passcode_uses} per passcode, then 401")
        if args.throttle is not None:
            _print(
                f"  throttle:            {args.throttle} enrollments per {args.throttle_window:g} s, then 429"
            )
        for fault in server.faults.active():
            _print(f"  fault:               {fault.spec()}")
        if args.state_dir:
            _print(f"  issued log:          {Path(args.state_dir) / 'issued.jsonl'}")
        _print("Serving; Ctrl-C to stop.")
        stop.wait()
        _print("Stopping.")
    finally:
        server.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0
