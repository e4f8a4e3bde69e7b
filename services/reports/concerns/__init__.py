"""Filing a concern, and the reporter's own view of it (by account or by receipt)."""
