"""Generated parts of the documentation: the configuration tables (from the settings classes) and the
event catalogue (from shared/events/catalogue.py). `python -m deploy.docs` rewrites every block between
`<!-- BEGIN:name -->` and `<!-- END:name -->` markers; `python -m deploy.docs --check` fails when a
document is out of date (the test suite runs the check)."""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from services.gateway.config import Settings as GatewaySettings
from services.records.config import Settings as RecordsSettings
from services.reports.config import Settings as ReportsSettings
from services.sessions.config import Settings as SessionsSettings
from shared.config import describe
from shared.events.catalogue import STREAMS

ROOT = Path(__file__).resolve().parent.parent
DOCUMENTS = [ROOT / "README.md", ROOT / "docs" / "architecture.md", ROOT / "docs" / "operations.md"]
SETTINGS = {"gateway": GatewaySettings, "sessions": SessionsSettings, "records": RecordsSettings,
            "reports": ReportsSettings}


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def config_table(service: str) -> str:
    cls = SETTINGS[service]
    lines = ["| Variable | Default | Meaning |", "| --- | --- | --- |"]
    for name, default, help_text in describe(cls, cls.PREFIX):
        lines.append(f"| `{name}` | `{_cell(default)}` | {_cell(help_text)} |")
    lines.append("")
    lines.append(f"Any `{cls.PREFIX}_X` may instead be given as `{cls.PREFIX}_X_FILE`, a path to a file holding "
                 "the value (secrets mounted as files).")
    return "\n".join(lines)


def event_catalogue() -> str:
    lines = ["| Stream | Producer | Consumer groups | Event types (version 1) |", "| --- | --- | --- | --- |"]
    for spec in STREAMS.values():
        groups = ", ".join(f"`{g}`" for g in spec.groups)
        events = ", ".join(f"`{e.TYPE}`" for e in spec.events)
        lines.append(f"| `{spec.name}` | {spec.producer} | {groups} | {events} |")
    lines.append("")
    lines.append("Each stream has a dead-letter stream `<stream>.dead` holding entries that failed "
                 "`*_BUS_MAX_DELIVERIES` times, with their last error.")
    return "\n".join(lines)


def blocks() -> dict[str, str]:
    out = {f"config:{name}": config_table(name) for name in SETTINGS}
    out["events"] = event_catalogue()
    return out


_BLOCK = re.compile(r"(<!-- BEGIN:(?P<name>[\w:-]+) -->\n)(?P<body>.*?)(<!-- END:(?P=name) -->)", re.S)


def render(text: str, generated: dict[str, str]) -> str:
    def _sub(m: re.Match[str]) -> str:
        name = m.group("name")
        if name not in generated:
            return m.group(0)
        return f"{m.group(1)}{generated[name]}\n{m.group(4)}"

    return _BLOCK.sub(_sub, text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy.docs")
    parser.add_argument("--check", action="store_true", help="fail if a document is out of date")
    args = parser.parse_args(argv)
    generated = blocks()
    stale = []
    for path in DOCUMENTS:
        if not path.exists():
            continue
        text = path.read_text()
        new = render(text, generated)
        if new != text:
            stale.append(path)
            if not args.check:
                path.write_text(new)
    if args.check and stale:
        print("out of date (run `python -m deploy.docs`): " + ", ".join(str(p.relative_to(ROOT)) for p in stale),
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
