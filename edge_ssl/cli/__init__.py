"""``edge-ssl`` command line. Each module registers a thin command over one library call.

Modules are imported for their side effect of adding commands to ``app``; heavy libraries are imported
inside the commands so ``edge-ssl --help`` stays fast. The app's callback sets logging up (``-v``: also
third-party output, ``edge_ssl.logs``) before any command runs.
"""
from __future__ import annotations

import sys

from edge_ssl.cli.app import app
from edge_ssl.errors import EdgeSSLError

from edge_ssl.cli import commands  # noqa: F401,E402  (registers commands)


def main() -> None:
    try:
        app()
    except EdgeSSLError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
