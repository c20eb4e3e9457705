"""Local HTTPS EST (RFC 7030) test server shipped with Certline: real TLS, real CA, faults.

Used by the test-suite, the demo and ``certline est-server``. Never imports Qt.

    with EstTestServer(passcode="pc") as server:        # or state_dir=... to persist the CA
        server.est_url("simpleenroll", "cps/IOT_<uuid>", "<device-group>")
        server.est_base("cps/IOT_<uuid>", clientauth=True)
        server.ca_pem, server.ca_file, server.ca_fingerprint
        server.faults.add_spec("pending=2:1@simpleenroll")
        server.issued, server.requests                    # what happened, for assertions
"""

from certline.app.estserver.ca import CertificateAuthority, cert_fingerprint, spki_sha256
from certline.app.estserver.config import PASSCODE_ONLY, USER_PASSWORD, ServerConfig
from certline.app.estserver.faults import (
    Encoding,
    Fault,
    FaultConfig,
    FaultKind,
    FaultSpecError,
    MalformedVariant,
    parse_fault_spec,
)
from certline.app.estserver.records import IssuedRecord, RequestRecord
from certline.app.estserver.routes import Operation, Route, build_path, parse_path
from certline.app.estserver.server import EstTestServer

__all__ = [
    "PASSCODE_ONLY",
    "USER_PASSWORD",
    "CertificateAuthority",
    "Encoding",
    "EstTestServer",
    "Fault",
    "FaultConfig",
    "FaultKind",
    "FaultSpecError",
    "IssuedRecord",
    "MalformedVariant",
    "Operation",
    "RequestRecord",
    "Route",
    "ServerConfig",
    "build_path",
    "cert_fingerprint",
    "parse_fault_spec",
    "parse_path",
    "spki_sha256",
]
