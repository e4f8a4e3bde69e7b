from services.sessions.adapters.db import metadata
from shared.db import run_env

run_env(metadata)
