"""Certificates for tests that speak TLS (nginx in front of rennet): a certificate authority of the test's own, and a
server certificate for 127.0.0.1 that it signed."""

from __future__ import annotations

import subprocess
from pathlib import Path


def certificate(directory: Path) -> tuple[Path, Path, Path]:
    """A certificate authority of the test's own, and a server certificate for 127.0.0.1 signed by it: (the
    authority's certificate, which clients are told to trust; the server's certificate; its key). uv (rustls)
    refuses a self-signed certificate as a server's own."""

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=directory)

    openssl(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=rennet tests CA",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
    )
    openssl(
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=127.0.0.1",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
    )
    (directory / "server.ext").write_text("subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n")
    openssl(
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        "server.ext",
        "-out",
        "server.pem",
    )
    return directory / "ca.pem", directory / "server.pem", directory / "server.key"
