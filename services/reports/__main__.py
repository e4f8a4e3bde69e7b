from pathlib import Path

from services.reports.app import create_app
from services.reports.config import Settings
from shared.entrypoint import main

main("reports", Settings, create_app, Path(__file__).parent / "migrations")
