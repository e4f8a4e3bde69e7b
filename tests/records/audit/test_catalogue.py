"""Guard: every audit action the code can emit, and every field of it, has a declared audience.

The code is walked statically (tests/support/audit_emitters.py), so a new emitter, a new wrapper
around one, or a new action built at run time fails here until the catalogue says who reads it."""

from __future__ import annotations

from pathlib import Path

import msgspec

from services.records.audit import catalogue as cat
from services.records.audit.schemas import AuditEntryOut
from tests.support.audit_emitters import walk

ROOT = Path(__file__).resolve().parents[3]
WALK = walk([ROOT / "services", ROOT / "shared"], ROOT)


def test_every_emitted_action_is_catalogued() -> None:
    missing = []
    for site in WALK.sites:
        if "*" in site.action:
            known = site.action in cat.TEMPLATES and all(
                site.action.replace("*", v) in cat.CATALOGUE for v in cat.TEMPLATES[site.action])
        else:
            known = site.action in cat.CATALOGUE
        if not known:
            missing.append(f"{site.path}:{site.line} {site.action}")
    assert not missing, "audit actions without a declared audience (add them to catalogue.py):\n" + "\n".join(missing)


def test_the_walk_reaches_every_service() -> None:
    services = {s.path.split("/")[1] for s in WALK.sites if s.path.startswith("services/")}
    assert services >= {"gateway", "sessions", "records", "reports"}
    # Known emitters of each kind (direct Auditor call, outbox AuditEntry, wrapper, fail-closed helper,
    # default argument, run-time value): if one of these is lost the walk has gone blind.
    assert {"auth.login", "pairing.propose", "note.create", "dispute.open", "dispute.record.read", "record.retention",
            "report.filed", "report.note", "report.legal_hold.set", "report.transition.*"} <= WALK.actions


def test_no_catalogue_entry_is_stale() -> None:
    emitted = set(WALK.actions)
    for template, values in cat.TEMPLATES.items():
        if template in emitted:
            emitted |= {template.replace("*", v) for v in values}
    assert set(cat.CATALOGUE) - emitted == set(), "catalogued actions nothing emits"


def test_every_action_declares_every_field_for_each_audience() -> None:
    for action, policy in cat.CATALOGUE.items():
        assert policy.views, f"{action}: nobody may read it"
        assert policy.note.strip(), action
        for audience, view in policy.views.items():
            assert audience in cat.AUDIENCES, (action, audience)
            for field in cat.FIELDS:
                assert view.level(field) in cat.LEVELS, (action, audience, field)


def test_every_output_field_has_a_declared_audience() -> None:
    declared = set(cat.ENVELOPE) | set(cat.FIELDS) | set(cat.DERIVED) | set(cat.PROBLEM_FIELDS)
    out = {f.name for f in msgspec.structs.fields(AuditEntryOut)}
    assert out - declared == set(), "fields of the auditor view no catalogue level governs"
    assert set(cat.DERIVED.values()) <= set(cat.FIELDS)


def test_reports_entries_are_for_safeguarding_only() -> None:
    for action, policy in cat.CATALOGUE.items():
        if action.startswith("report."):
            assert set(policy.views) == {"safeguarding"}, action
        else:
            assert "safeguarding" not in policy.views or action == "audit.search", action
    for action in ("report.filed", "report.read_own", "report.list_own", "report.message_from_reporter"):
        view = cat.CATALOGUE[action].views["safeguarding"]
        assert view.actor == "withheld", action  # the reporter is revealed by two officers, not by the ledger


def test_operators_never_read_an_id_or_free_text() -> None:
    for action, policy in cat.CATALOGUE.items():
        view = policy.views.get("operator")
        if view is not None:
            assert (view.actor, view.target, view.reason) != ("clear",) * 3, action
            assert view.actor != "clear" and view.target != "clear" and view.reason == "withheld", action


def test_the_walk_catches_new_emitters(tmp_path: Path) -> None:
    pkg = tmp_path / "services" / "newsvc"
    pkg.mkdir(parents=True)
    (pkg / "mod.py").write_text(
        "async def _log(runtime, what):\n"
        "    await runtime.auditor('u', what, 't', 'success')\n"
        "async def handler(runtime, kind, data):\n"
        "    await _log(runtime, 'newsvc.did')\n"
        "    await runtime.auditor('u', f'newsvc.{kind}.{data.x}', 't', 'success')\n"
        "    await outbox.add(conn, AuditEntry(actor='u', action='newsvc.staged', target='t', outcome='success'))\n"
        "async def caller(runtime):\n"
        "    await handler(runtime, 'thing', None)\n")
    found = walk([tmp_path / "services"], tmp_path)
    assert found.actions == {"newsvc.did", "newsvc.thing.*", "newsvc.staged"}
    assert not found.actions & set(cat.CATALOGUE)
