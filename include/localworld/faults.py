"""Faults for drills and tests in the local world, on loopback only.

This kernel has no netem, so latency comes from a small userspace TCP proxy (``DelayProxy``) put in
front of a region's serving at its own address (``slow_serving``); a broken network path is an
nftables rule in a table of our own that drops one loopback source address (``blocked_source``).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator

import httpx

from localworld import controller
from localworld.secrets import load_or_create_secrets
from localworld.services import build_services
from localworld.settings import WorldSettings


class DelayProxy:
    """TCP proxy on ``listen`` -> ``upstream`` that holds every chunk from the client ``delay``
    seconds before passing it on (each HTTP request answers that much later). ``delay`` can be
    changed while it runs."""

    def __init__(self, listen: tuple[str, int], upstream: tuple[str, int], delay: float = 0.0) -> None:
        self.listen, self.upstream, self.delay = listen, upstream, delay
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="delay-proxy", daemon=True)
        self._server: asyncio.base_events.Server | None = None

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delayed: bool) -> None:
        try:
            while data := await reader.read(65536):
                if delayed and self.delay > 0:
                    await asyncio.sleep(self.delay)
                writer.write(data)
                await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    async def _handle(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        try:
            up_r, up_w = await asyncio.open_connection(*self.upstream)
        except OSError:
            client_w.close()
            return
        with contextlib.suppress(asyncio.CancelledError):  # stop(): the connection just ends
            await asyncio.gather(self._pipe(client_r, up_w, True), self._pipe(up_r, client_w, False))

    def start(self) -> DelayProxy:
        self._thread.start()
        started = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._handle, *self.listen, reuse_address=True), self._loop
        )
        self._server = started.result(timeout=10)
        return self

    def stop(self) -> None:
        async def close() -> None:
            self._server.close()
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for t in tasks:  # the open connections' pipes
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self._server.wait_closed()

        if self._server is not None:
            asyncio.run_coroutine_threadsafe(close(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_http(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"{url} not answering within {timeout:.0f}s")
        time.sleep(0.3)


@contextlib.contextmanager
def slow_serving(settings: WorldSettings, region: str, delay: float) -> Iterator[DelayProxy]:
    """The region's serving, answering ``delay`` seconds late at its usual address: the serving
    process moves to a spare port (same command and environment) behind a ``DelayProxy``. The
    supervisor's own process is back when the block ends."""
    name = f"serving-{region}"
    service = {s.name: s for s in build_services(settings, load_or_create_secrets(settings.state_dir))}[name]
    port = int(service.argv[service.argv.index("--port") + 1])
    spare = free_port()
    argv = [*service.argv[: service.argv.index("--port") + 1], str(spare)]
    controller.stop_service(settings, name)
    moved = subprocess.Popen(argv, env={**os.environ, **service.env}, cwd=service.cwd,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    proxy = None
    try:
        _wait_http(f"http://127.0.0.1:{spare}/health")
        proxy = DelayProxy(("127.0.0.1", port), ("127.0.0.1", spare), delay).start()
        yield proxy
    finally:
        if proxy is not None:
            proxy.stop()
        moved.terminate()
        moved.wait(timeout=30)
        controller.start_service(settings, name)


@contextlib.contextmanager
def blocked_source(address: str, ports: list[int]) -> Iterator[str]:
    """Drop every TCP packet from loopback source ``address`` to ``ports`` (an nftables table of
    our own, deleted on exit): that vantage point's path to those servers is broken."""
    nft = shutil.which("nft")
    if nft is None:
        raise RuntimeError("nft not found: scripts/setup.sh installs Debian's nftables")
    table = f"mr_fault_{uuid.uuid4().hex[:8]}"
    ruleset = (
        f"table ip {table} {{\n chain out {{\n  type filter hook output priority 0; policy accept;\n"
        f"  ip saddr {address} tcp dport {{ {', '.join(map(str, ports))} }} drop\n }}\n}}\n"
    )
    subprocess.run([nft, "-f", "-"], input=ruleset, text=True, check=True, capture_output=True)
    try:
        yield table
    finally:
        subprocess.run([nft, "delete", "table", "ip", table], check=True, capture_output=True)
