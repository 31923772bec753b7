"""docs/deploy.md's cluster as the tests and bench/run.py run it: the nodes' configuration file, the names of their
environment variables, and nginx as the load balancer, read from the guide with loopback addresses, the bucket,
the nodes' ports and the certificate substituted. Standard library only, so that bench/run.py can use it too."""

from __future__ import annotations

from pathlib import Path

from tests.support.readme import DEPLOY, doc_block

__all__ = ["balancer_config", "node_config", "node_variables"]


def node_config(bucket: str) -> str:
    """docs/deploy.md's configuration file, on loopback, with this bucket and the balancer on this host."""
    config = doc_block(DEPLOY, "toml", "### The nodes")
    replaced = (
        config.replace('host = "0.0.0.0"', 'host = "127.0.0.1"')
        .replace('"s3://packages/rennet"', f'"s3://{bucket}/rennet"')
        .replace('["10.0.0.10"]', '["127.0.0.1"]')
    )
    assert replaced.count("127.0.0.1") == 2 and bucket in replaced, config
    return replaced


def node_variables() -> set[str]:
    """The names of the variables of docs/deploy.md's environment file."""
    block = doc_block(DEPLOY, "sh", "The secrets, `/etc/rennet/env`")
    return {line.split("=", 1)[0] for line in block.splitlines() if line.strip()}


def balancer_config(ports: list[int], certificate: Path, key: Path) -> str:
    """docs/deploy.md's nginx configuration (a `server` block in which LISTEN_PORT stands for its port, as
    tests/support/nginx.py takes it), with the nodes on loopback at these ports and this certificate. Fewer ports
    than the guide has nodes leave its other nodes out (one node behind the same balancer)."""
    block = doc_block(DEPLOY, "nginx", "### The load balancer")
    nodes = [line for line in block.splitlines() if line.strip().startswith("server 10.0.0.")]
    assert len(ports) <= len(nodes), (ports, nodes)
    for number, port in enumerate(ports, start=11):
        block = block.replace(f"server 10.0.0.{number}:4040 ", f"server 127.0.0.1:{port} ")
    for unused in nodes[len(ports) :]:
        block = block.replace(unused + "\n", "")
    block = (
        block.replace("listen 443 ssl;", "listen 127.0.0.1:LISTEN_PORT ssl;")
        .replace("/etc/ssl/certs/packages.example.com.pem", str(certificate))
        .replace("/etc/ssl/private/packages.example.com.key", str(key))
    )
    assert "10.0.0." not in block and "LISTEN_PORT" in block and str(key) in block, block
    return block
