"""Where the reports service keeps wrapped data keys (spec.py), for the shared key commands (shared/keyadmin)."""
