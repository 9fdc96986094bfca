"""
The ``loginsvc`` command: one subcommand per operation.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from loginsvc import __version__, cli_eventlog
from loginsvc.config import ConfigError, Settings

logger = logging.getLogger(__name__)

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s[%(process)d] %(message)s"


class _OneLineFormatter(logging.Formatter):
    """
    Keeps each record on one line, tracebacks included, for line-based tools.
    """

    def format(self, record: logging.LogRecord) -> str:
        return super().format(record).replace("\n", "\\n")


def configure_logging() -> None:
    """
    Log INFO and above to stderr, one line per record.
    """
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_OneLineFormatter(LOG_FORMAT))
    logging.basicConfig(level=logging.INFO, handlers=[handler], force=True)


def build_parser() -> argparse.ArgumentParser:
    """
    The argument parser, with a subparser per command.
    """
    parser = argparse.ArgumentParser(
        prog="loginsvc",
        description="A FusionAuth-compatible login service, event-sourced on Redis.",
    )
    parser.add_argument("--version", action="version", version=__version__)
    commands = parser.add_subparsers(title="commands", dest="command", required=True)

    serve = commands.add_parser(
        "serve",
        help="run the HTTP service",
        description=(
            "Run the HTTP service. Without LOGINSVC_REDIS_URL it starts and "
            "manages its own redis-server, with its data under --data-dir."
        ),
    )
    serve.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)"
    )
    serve.add_argument(
        "--port", type=_port, default=9011, help="TCP port (default: 9011)"
    )
    serve.add_argument(
        "--data-dir",
        type=Path,
        default=Path("data"),
        help="directory of the embedded Redis (default: ./data)",
    )
    serve.add_argument(
        "--kickstart",
        type=Path,
        metavar="FILE",
        help=(
            "FusionAuth kickstart file, run once on an empty store (default: "
            "LOGINSVC_KICKSTART_FILE or FUSIONAUTH_APP_KICKSTART_FILE)"
        ),
    )
    serve.add_argument(
        "--workers",
        type=_positive,
        default=os.cpu_count() or 1,
        help="worker processes (default: one per CPU)",
    )
    serve.set_defaults(handler=_serve)
    cli_eventlog.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """
    Run the ``loginsvc`` command; return its exit status.
    """
    args = build_parser().parse_args(argv)
    configure_logging()
    # The composition root: the only place that hands the environment down.
    status: int = args.handler(args, os.environ)
    return status


def _serve(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    from loginsvc.kickstart import KickstartError, load_kickstart
    from loginsvc.serve import ServeOptions, serve

    try:
        settings = Settings.from_env(environ)
        path = args.kickstart or settings.kickstart_file
        kickstart = load_kickstart(Path(path), environ) if path else None
    except (ConfigError, KickstartError) as exc:
        logger.error("serve_failed reason=%s", exc)
        return 1

    options = ServeOptions(
        host=args.host, port=args.port, data_dir=args.data_dir, workers=args.workers
    )
    return serve(options, settings, kickstart, log_setup=configure_logging)


def _port(raw: str) -> int:
    value = int(raw)
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{raw} is not a TCP port")
    return value


def _positive(raw: str) -> int:
    value = int(raw)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{raw} is not at least 1")
    return value
