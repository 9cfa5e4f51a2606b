"""Imports every command module so each registers its commands on ``app``."""
from edge_ssl.cli import train  # noqa: F401
from edge_ssl.cli import prepare  # noqa: F401
from edge_ssl.cli import asr  # noqa: F401
from edge_ssl.cli import targets  # noqa: F401
from edge_ssl.cli import apps  # noqa: F401
from edge_ssl.cli import imports  # noqa: F401
from edge_ssl.cli import deploy  # noqa: F401
from edge_ssl.cli import demo  # noqa: F401
from edge_ssl.cli import vision  # noqa: F401
