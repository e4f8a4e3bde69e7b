"""One report's rows (the report, its notes and messages, its attachments), read and written for the
reporter-facing (concerns), handler-facing (cases) and retention features."""
