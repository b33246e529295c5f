"""`memstall exporter`: serve /metrics for Prometheus from this host or a capture (docs/exporter.md).

Wiring only: the root is opened here (outputs may not import sources), the Sampler is
handed to the collector (outputs/exporter.py), and a stdlib ThreadingHTTPServer serves
`/` (a small page), `/metrics` (prometheus_client's text exposition) and 404 elsewhere.
Loopback by default: another address is the user's explicit choice (TLS and basic auth
belong to a reverse proxy in front, docs/exporter.md).
"""

from __future__ import annotations

import argparse
import ipaddress
import logging
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

from memstall.errors import UsageError

DEFAULT_LISTEN = "127.0.0.1:9648"
INDEX = (b"<!DOCTYPE html>\n<html><head><title>memstall exporter</title></head><body>\n"
         b"<h1>memstall exporter</h1>\n<p><a href=\"/metrics\">Metrics</a></p>\n</body></html>\n")


def listen_address(text: str) -> tuple[str, int]:
    """'HOST:PORT' (IPv6 as '[::1]:9648') -> (host, port); argparse's type for --listen."""
    host, sep, port = text.rpartition(":")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT (port 0-65535), got {text!r}")
    return host, int(port)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def register(subparsers: Any, common: argparse.ArgumentParser) -> None:
    p = subparsers.add_parser(
        "exporter", parents=[common], help="serve /metrics for Prometheus (needs memstall[exporter])",
        description="Serve this host's (or a --root capture's) memory state, fragmentation and "
                    "findings as Prometheus metrics on /metrics. Needs the prometheus_client "
                    "package: pip install 'memstall[exporter]'.")
    p.add_argument("--listen", type=listen_address, default=DEFAULT_LISTEN, metavar="HOST:PORT",
                   help=f"address to serve on (default: {DEFAULT_LISTEN}, loopback only; "
                        "another address exposes the host's memory state: put TLS and auth in front)")
    p.add_argument("--no-per-order", dest="per_order", action="store_false",
                   help="leave out the per-order families (free blocks, unusable and fragmentation "
                        "index): 11 series per zone fewer, for very large fleets")
    p.add_argument("--trace", action="store_true",
                   help="also trace direct reclaim and compaction in the background (as memstall "
                        "trace, root) and export their latency histograms by order")
    p.add_argument("--kmsg", metavar="PATH", default=None,
                   help="count the allocation reports the kernel logs from now on, read from PATH "
                        "(/dev/kmsg records; a regular file is followed from its end). Default: "
                        "/dev/kmsg for the live root (needs root), nothing for a capture")
    p.add_argument("--once", action="store_true",
                   help="print one scrape's exposition to stdout and exit (no server)")
    p.set_defaults(handler=run)


def _prometheus() -> Any:
    try:
        import prometheus_client
    except ImportError as err:
        raise UsageError("memstall exporter needs the prometheus_client package, which is not "
                         "installed", hint="pip install 'memstall[exporter]'") from err
    return prometheus_client


def make_handler(scrape: Callable[[], bytes], content_type: str) -> type[BaseHTTPRequestHandler]:
    """The request handler: GET/HEAD of / and /metrics; any other path is 404."""

    class Handler(BaseHTTPRequestHandler):
        server_version = "memstall-exporter"
        # HTTP/1.1: the connection stays open between scrapes, as Prometheus keeps it
        # (HTTP/1.0 closed it after each reply: a new connection and thread per scrape).
        # Every reply sends Content-Length, which keep-alive needs. TCP_NODELAY: the headers
        # and the body are two writes, which Nagle + delayed ACK would hold ~40 ms.
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def _reply(self, send_body: bool) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                status, ctype, body = 200, content_type, scrape()
            elif path == "/":
                status, ctype, body = 200, "text/html; charset=utf-8", INDEX
            else:
                status, ctype, body = 404, "text/plain; charset=utf-8", b"404 not found: try /metrics\n"
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if send_body:
                self.wfile.write(body)

        def do_GET(self) -> None:
            self._reply(send_body=True)

        def do_HEAD(self) -> None:
            self._reply(send_body=False)

        def log_message(self, format: str, *args: Any) -> None:
            logging.getLogger("memstall.exporter").debug(format, *args)

    return Handler


def make_server(listen: tuple[str, int], scrape: Callable[[], bytes],
                content_type: str) -> ThreadingHTTPServer:
    """A threading server bound to `listen` (port 0: a free port, see server_address)."""
    import socket

    class Server(ThreadingHTTPServer):
        # socketserver's default backlog is 5: a burst of scrapers (a Prometheus HA pair, a
        # federation, a dashboard refresh) saw connections dropped and retried for seconds.
        request_queue_size = 128
        address_family = socket.AF_INET6 if ":" in listen[0] else socket.AF_INET

    server = Server(listen, make_handler(scrape, content_type))
    server.daemon_threads = True
    return server


def make_sampler(source: Any) -> Any:
    """The exporter's Sampler of `source`. On the live root it leaves out the per-node
    vmstat and meminfo (outputs.exporter.UNREAD_FIELDS: no family and no rule reads them;
    for a capture they stay, as the stand-in for a missing proc/vmstat or meminfo)."""
    from memstall.outputs.exporter import UNREAD_FIELDS
    from memstall.pipeline import Sampler

    return Sampler(source, skip=UNREAD_FIELDS if source.is_live else ())


def build(root: str, per_order: bool, kmsg_path: str | None = None,
          trace: Any = None) -> tuple[Callable[[], bytes], str]:
    """(scrape, content type) for `root`: one Sampler behind a SharedSample, one registry.

    `kmsg_path`: where allocation reports are read from (None: /dev/kmsg for a live root,
    none for a capture). `trace` (a started BackgroundTrace): its histograms too
    (outputs/exporter_trace.py)."""
    prometheus_client = _prometheus()
    from memstall.outputs.exporter import MemstallCollector, SharedSample, registry_for
    from memstall.outputs.exposition import text_exposition
    from memstall.pipeline import SYSTEM_CLOCK
    from memstall.sources import open_root

    source = open_root(root)
    sampler = make_sampler(source)
    events, kmsg_up = None, None
    if kmsg_path is None and source.is_live:
        kmsg_path = "/dev/kmsg"
    if kmsg_path is not None:  # a capture has no kernel log stream: no event family (docs/exporter.md)
        from memstall.outputs.exporter import AllocEventCounts
        from memstall.pipeline.kmsg_events import open_kmsg

        kmsg, why = open_kmsg(kmsg_path)
        kmsg_up = kmsg is not None
        if kmsg is None:
            logging.getLogger("memstall.exporter").warning("no allocation events: %s", why)
        else:
            events = AllocEventCounts(kmsg.poll)
    registry = registry_for(MemstallCollector(SharedSample(sampler.sample, SYSTEM_CLOCK),
                                              per_order=per_order, events=events, kmsg_up=kmsg_up))
    if trace is not None:
        from memstall.outputs.exporter_trace import StallTraceCollector
        registry.register(StallTraceCollector(trace.current, trace.tracer.method,
                                              trace.tracer.lost_so_far))

    def scrape() -> bytes:
        return text_exposition(registry)

    return scrape, str(prometheus_client.CONTENT_TYPE_LATEST)


def run(args: argparse.Namespace, io: Any) -> int:
    if not args.trace:
        return serve(args, io, None)
    if args.root != "/":
        raise UsageError("--trace traces this host: not with --root")
    import signal

    from memstall.pipeline.stall_tracer import BackgroundTrace, StallTracer

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt(signal.Signals(signum).name)

    _prometheus()
    old = signal.signal(signal.SIGTERM, interrupt)  # so the tracer cleans up on SIGTERM
    trace = BackgroundTrace(StallTracer("auto"))
    try:
        trace.start()
        return serve(args, io, trace)
    finally:
        trace.close()
        signal.signal(signal.SIGTERM, old)


def serve(args: argparse.Namespace, io: Any, trace: Any) -> int:
    scrape, content_type = build(args.root, args.per_order, args.kmsg, trace)
    if args.once:
        io.stdout.write(scrape().decode("utf-8", "backslashreplace"))
        return 0
    logging.basicConfig(stream=sys.stderr, level=logging.DEBUG if args.debug else logging.INFO,
                        format="memstall exporter: %(levelname)s: %(message)s")
    host, port = args.listen
    if not is_loopback(host):
        io.stderr.write(f"memstall: note: listening on {host}, not loopback: anyone who can reach "
                        "it reads this host's memory state (docs/exporter.md: TLS and auth)\n")
    try:
        server = make_server(args.listen, scrape, content_type)
    except OSError as err:
        raise UsageError(f"cannot listen on {host}:{port}: {err.strerror or err}",
                         hint="choose another --listen HOST:PORT") from err
    io.stderr.write(f"memstall: serving http://{host}:{server.server_address[1]}/metrics "
                    f"for {args.root}\n")
    io.stderr.flush()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0
