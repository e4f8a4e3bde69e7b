from services.gateway.all_tables import metadata
from shared.db import run_env

run_env(metadata)
