"""``edge-ssl`` command line. Each module registers a thin command over one library call.

Modules are imported for their side effect of adding commands to ``app``; heavy libraries are imported
inside the commands so ``edge-ssl --help`` stays fast.
"""
from __future__ import annotations

import logging
import sys

from edge_ssl.cli.app import app
from edge_ssl.errors import EdgeSSLError

from edge_ssl.cli import commands  # noqa: F401,E402  (registers commands)


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                        datefmt="%H:%M:%S")
    try:
        app()
    except EdgeSSLError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
