"""A TCP proxy that adds latency in front of the benchmark's upstream, like a far-away index would have.

    python bench/latency_proxy.py --listen 127.0.0.1:PORT --target 127.0.0.1:UPSTREAM_PORT --delay-ms 20

Each new connection waits one delay before it is connected (the TCP handshake's round trip), and every chunk the
client sends reaches the upstream one delay after it arrived (chunks keep their order and their spacing: the delay
is a fixed one-way delay, like `tc netem delay`, not a per-chunk queue). Responses flow back at once, so a request
costs one delay and a large download is not throttled. Only this proxy's own clients are slowed: loopback-wide
netem would slow the load generators as well.

With --log FILE it appends `<time> <connection> CONNECT` for each connection and `<time> <connection> <request
line>` for each chunk that starts a request, so a run can count what each server asked of its upstream.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import time
from collections.abc import Callable
from typing import TextIO

_METHODS = (b"GET ", b"HEAD ", b"POST ", b"PUT ", b"DELETE ", b"OPTIONS ", b"PATCH ")


async def _delayed_pump(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay: float, note: Callable[[bytes], None]
) -> None:
    queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

    async def read() -> None:
        while True:
            data = await reader.read(65536)
            if data.startswith(_METHODS):
                note(data.split(b"\r\n", 1)[0])
            queue.put_nowait((time.monotonic() + delay, data))
            if not data:
                return

    async def write() -> None:
        while True:
            due, data = await queue.get()
            wait = due - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            if not data:
                _end(writer)
                return
            writer.write(data)
            await writer.drain()

    reading = asyncio.ensure_future(read())
    try:
        await write()
    finally:
        reading.cancel()


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while True:
        data = await reader.read(262144)
        if not data:
            _end(writer)
            return
        writer.write(data)
        await writer.drain()


def _end(writer: asyncio.StreamWriter) -> None:
    """Pass the end of one direction on (a half close), as the other side may still be sending."""
    with contextlib.suppress(OSError):
        if writer.can_write_eof():
            writer.write_eof()


async def _serve(listen: tuple[str, int], target: tuple[str, int], delay: float, log: TextIO | None) -> None:
    connections = 0

    async def handle(client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        number = connections

        def note(line: bytes) -> None:
            if log is not None:
                log.write(f"{time.time():.6f} {number} {line.decode('latin-1')}\n")

        if log is not None:
            log.write(f"{time.time():.6f} {number} CONNECT\n")
        upstream_writer = None
        try:
            await asyncio.sleep(delay)
            upstream_reader, upstream_writer = await asyncio.open_connection(*target)
            await asyncio.gather(
                _delayed_pump(client_reader, upstream_writer, delay, note), _pump(upstream_reader, client_writer)
            )
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            for writer in (client_writer, upstream_writer):
                if writer is not None:
                    writer.close()

    server = await asyncio.start_server(handle, *listen, backlog=1024)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print(f"latency proxy: {listen[0]}:{listen[1]} -> {target[0]}:{target[1]} (+{delay * 1000:.0f} ms)", flush=True)
    async with server:
        await stop.wait()


def _address(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    return host or "127.0.0.1", int(port)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--listen", required=True, type=_address)
    parser.add_argument("--target", required=True, type=_address)
    parser.add_argument("--delay-ms", type=float, default=20.0)
    parser.add_argument("--log", help="append one line per connection and per request line seen to this file")
    args = parser.parse_args()
    log = open(args.log, "a", buffering=1) if args.log else None  # noqa: SIM115
    asyncio.run(_serve(args.listen, args.target, args.delay_ms / 1000, log))


if __name__ == "__main__":
    main()
