"""The one error family the CLI turns into a clear message and a non-zero exit (no traceback)."""


class EdgeSSLError(Exception):
    """A user-facing error: bad input, a missing file or dependency. The message names the culprit."""
