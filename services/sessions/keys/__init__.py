"""Where the sessions service keeps wrapped agenda keys (spec.py), for the shared key commands (shared/keyadmin)."""
