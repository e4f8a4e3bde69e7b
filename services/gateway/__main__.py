import sys
from pathlib import Path

from services.gateway.app import create_app
from services.gateway.cli import COMMANDS
from services.gateway.cli import main as cli_main
from services.gateway.config import Settings
from shared.entrypoint import main

if len(sys.argv) > 1 and sys.argv[1] in COMMANDS:
    raise SystemExit(cli_main(sys.argv[1:]))
main("gateway", Settings, create_app, Path(__file__).parent / "migrations")
