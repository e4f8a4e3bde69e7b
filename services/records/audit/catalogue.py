"""Who reads which audit entries: every action the services emit, with the audience of each field.

The ledger stores every entry; what a reader gets back depends on this catalogue and nothing else.
Each action names, for each audience that may see the entry at all, how it sees each field:

    clear      the value (an id as stored; the reason decrypted)
    pseudonym  a keyed pseudonym of the value (stable within the ledger, not the id itself, and
               not reversible without the ledger key): who did it many times, not who it was
    withheld   not shown; the entry says the field is there and its hash in the chain covers it
               (auditor-only-by-hash: someone who already holds the value can prove it to an auditor)

The envelope (seq, event id, times, source, action, chain hash) goes with the entry to everyone who
may see it. An action missing from the catalogue is shown to no one: operators see it as a problem
(`uncatalogued-action`), and tests/records/audit/test_catalogue.py makes it impossible to ship one.

Reports' entries are for safeguarding officers only; the reporter's side (filing, reading one's own
report, writing to the team) never shows its actor, not even to safeguarding: the reveal of an
identified reporter needs two officers (services/reports), and the ledger must not shortcut it.
The reasons of reports' entries are ids, not text: `reveal-request:<id>` for a reveal, `note:<id>`
(the sealed case note holding the officer's reason) for a legal hold. An entry about a report is also
hidden from the report's subject (`hidden_from`, applied by the search, not by this catalogue).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

from shared.identity import Identity

Audience = Literal["admin", "safeguarding", "operator"]
Level = Literal["clear", "pseudonym", "withheld"]

AUDIENCES: tuple[Audience, ...] = ("admin", "safeguarding", "operator")
LEVELS: tuple[Level, ...] = ("withheld", "pseudonym", "clear")  # least to most revealing
# The role that makes a caller part of each audience; every other role (mentee, mentor, service) has none.
ROLE_AUDIENCE: Mapping[str, Audience] = {"admin": "admin", "safeguarding": "safeguarding", "operator": "operator"}

# Per-action fields (each has a level per audience) and the envelope every reader of an entry gets.
FIELDS: tuple[str, ...] = ("actor", "target", "outcome", "reason")
ENVELOPE: tuple[str, ...] = ("seq", "event_id", "occurred_at", "recorded_at", "source", "action", "hash")
UNCATALOGUED = "uncatalogued-action"


@dataclass(frozen=True)
class View:
    actor: Level
    target: Level
    outcome: Level
    reason: Level

    def level(self, field: str) -> Level:
        value: Level = getattr(self, field)
        return value


@dataclass(frozen=True)
class Policy:
    """Who sees an action, and how each of them sees each field."""

    views: Mapping[Audience, View]
    note: str  # why this audience: the catalogue is read by people deciding who sees what


ALL_CLEAR = View(actor="clear", target="clear", outcome="clear", reason="clear")
# Operators watch the system, not the people: every programme entry, nobody's id, no free text.
OPERATOR = View(actor="pseudonym", target="pseudonym", outcome="clear", reason="withheld")
# A reporter's own actions: the team sees that the report was filed or read, never by whom.
REPORTER_SIDE = View(actor="withheld", target="clear", outcome="clear", reason="withheld")

PROGRAMME = Policy({"admin": ALL_CLEAR, "operator": OPERATOR},
                   "programme administration: admins in clear, operators by pseudonym")
SECURITY = Policy({"admin": ALL_CLEAR, "operator": OPERATOR},
                  "sign-in and token security: admins in clear, operators by pseudonym")
OFFICER = Policy({"safeguarding": ALL_CLEAR},
                 "a safeguarding officer's handling of a report: for the safeguarding team only")
REPORTER = Policy({"safeguarding": REPORTER_SIDE},
                  "the reporter's side of a report: safeguarding only, and never who the reporter is")
LEDGER = Policy({"admin": ALL_CLEAR, "safeguarding": ALL_CLEAR, "operator": OPERATOR},
                "who searched the ledger: everyone who can search it")

REPORT_STATES = ("received", "acknowledged", "investigating", "resolved", "closed")

# Actions built at run time from a value (f"report.transition.{to}"): the template and every value
# it can take. tests/records/audit/test_catalogue.py requires each dynamic emitter to be declared here.
TEMPLATES: Mapping[str, tuple[str, ...]] = {
    "report.transition.*": REPORT_STATES,
}


def _expand(template: str, policy: Policy) -> dict[str, Policy]:
    return {template.replace("*", value): policy for value in TEMPLATES[template]}


CATALOGUE: Mapping[str, Policy] = {
    # -- gateway: sign-in, tokens, keys ----------------------------------------------------------------
    **dict.fromkeys(("auth.login", "auth.mfa", "auth.logout", "auth.logout_everywhere", "auth.mfa_enrolment",
                     "auth.recovery_codes_regenerate"), SECURITY),
    **dict.fromkeys(("oauth.client_auth", "oauth.code_issue", "oauth.code_replay", "oauth.pkce",
                     "oauth.token_issue", "oauth.token_refresh", "oauth.refresh_reuse_detected",
                     "oauth.token_revoke", "oauth.client_create", "keys.rotate"), SECURITY),
    # -- gateway: people and agreements ----------------------------------------------------------------
    **dict.fromkeys(("user.create", "user.invitation_issue", "user.invitation_accept", "user.roles_change",
                     "user.suspend", "user.reactivate", "user.erasure_request", "user.vetting_change",
                     "user.privileged_role_grant", "agreement.publish", "agreement.accept",
                     "user.time_zone_change", "user.language_change"), PROGRAMME),
    # -- sessions --------------------------------------------------------------------------------------
    **dict.fromkeys(("session.join", "pairing.propose", "pairing.accept", "pairing.decline", "pairing.end",
                     "pairing.extension_propose", "pairing.extension_accept", "pairing.extension_decline",
                     "pairing.term_end"), PROGRAMME),
    # -- sessions: the programme's workflow (ids only: what a member wrote or answered is never here) -----
    **dict.fromkeys(("profile.save", "resource.publish", "resource.change", "resource.withdraw",
                     "questionnaire.publish", "questionnaire.answer", "questionnaire.special.withdraw",
                     "questionnaire.answers.read", "matching.preferences", "matching.conflict.declare",
                     "matching.weights", "matching.suggestions", "matching.round.run", "matching.round.send",
                     "matching.round.discard", "mentoring_agreement.template_publish", "mentoring_agreement.edit",
                     "mentoring_agreement.accept", "checkins.settings_change", "checkin_plan.create",
                     "checkin_plan.change", "checkin_plan.delete", "checkin.answer", "checkin.acknowledge",
                     "evaluation.reflection_write", "evaluation.reflection_erase", "evaluation.survey_publish",
                     "evaluation.response_submit", "evaluation.results_read", "evaluation.results_export"),
                    PROGRAMME),
    # -- records: records, notes, recordings, disputes -------------------------------------------------
    **dict.fromkeys(("note.create", "note.update", "recording.ingest", "record.retention", "record.erasure",
                     "record.legal_hold.placed", "record.legal_hold.lifted"), PROGRAMME),
    **dict.fromkeys(("dispute.open", "dispute.break_glass", "dispute.request_access", "dispute.approve",
                     "dispute.reject", "dispute.close", "dispute.review", "dispute.read", "dispute.record.read"),
                    PROGRAMME),
    "audit.search": LEDGER,
    # -- reports: the reporter's side ------------------------------------------------------------------
    **dict.fromkeys(("report.filed", "report.list_own", "report.read_own", "report.message_from_reporter",
                     "report.read_by_receipt", "report.receipt_rejected"), REPORTER),
    # -- reports: the safeguarding team's handling -----------------------------------------------------
    **dict.fromkeys(("report.list", "report.read", "report.assign", "report.note", "report.message",
                     "report.attachment_read", "report.reveal_requested", "report.reveal_approved",
                     "report.legal_hold", "report.legal_hold.set", "report.legal_hold.released",
                     "report.transition", "report.expired"), OFFICER),
    **_expand("report.transition.*", OFFICER),
}


def audiences_of(identity: Identity) -> frozenset[Audience]:
    return frozenset(ROLE_AUDIENCE[r] for r in identity.roles if r in ROLE_AUDIENCE)


def _rank(level: Level) -> int:
    return LEVELS.index(level)


def view_for(action: str, audiences: Iterable[Audience]) -> View | None:
    """The most revealing view any of the caller's audiences has of this action, field by field;
    None when none of them may see it (or the action is not catalogued)."""
    policy = CATALOGUE.get(action)
    if policy is None:
        return None
    views = [policy.views[a] for a in audiences if a in policy.views]
    if not views:
        return None
    best = {f: max((v.level(f) for v in views), key=_rank) for f in FIELDS}
    return View(**best)


def visible_actions(audiences: Iterable[Audience]) -> list[str]:
    chosen = frozenset(audiences)
    return sorted(a for a, p in CATALOGUE.items() if chosen & p.views.keys())


def searchable_actions(audiences: Iterable[Audience], field: str) -> list[str]:
    """Actions whose `field` the caller reads in clear: only those may be searched by its exact value
    (otherwise a search would tie a withheld or pseudonymous value to its entries)."""
    chosen = frozenset(audiences)
    return sorted(a for a in CATALOGUE if (v := view_for(a, chosen)) is not None and v.level(field) == "clear")


# Output fields derived from a per-action field: each is governed by that field's level.
DERIVED: Mapping[str, str] = {
    "actor_view": "actor", "actor_protected": "actor", "target_view": "target", "target_protected": "target",
    "reason_view": "reason", "reason_unreadable": "reason",
}
# Output fields about the entry as a whole: only ever set for operators, on an uncatalogued entry.
PROBLEM_FIELDS: tuple[str, ...] = ("problem",)
