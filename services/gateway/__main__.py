from pathlib import Path

from services.gateway.app import create_app
from services.gateway.config import Settings
from shared.entrypoint import main

main("gateway", Settings, create_app, Path(__file__).parent / "migrations")
