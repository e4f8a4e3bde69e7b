"""Four-eyes identity reveal (both officers in the audit stream) and the canary: no stored object and
no database column ever holds the plaintext."""

from __future__ import annotations

import asyncio
import base64

import pytest
from minio import Minio
from redis.asyncio import Redis

from deploy.local.children import S3Child
from shared.audit import reporter_pseudonym
from shared.crypto import DecryptionError
from tests.support.reports import CANARY, Api
from tests.support.reports_dump import contains, db_dump, redis_dump, stream_events

pytestmark = pytest.mark.integration

SG1, SG2 = "officer-1", "officer-2"


async def test_identity_reveal_needs_a_second_officer(api: Api, redis: Redis) -> None:
    rid = (await api.file(api.as_("mentee-1", "mentee")))["id"]
    sg1, sg2 = api.as_(SG1, "safeguarding"), api.as_(SG2, "safeguarding")
    assert (await api.client.post(f"/cases/{rid}/reveal-requests", json={"reason": "x"}, headers=sg1)
            ).status_code == 400  # a reason is required
    req = await api.client.post(f"/cases/{rid}/reveal-requests", json={"reason": "imminent safety risk"},
                                headers=sg1)
    assert req.status_code == 201
    qid = req.json()["id"]
    assert (await api.client.post(f"/cases/{rid}/reveal-requests", json={"reason": "again please"},
                                  headers=sg2)).status_code == 409  # one pending request at a time
    self_approval = await api.client.post(f"/cases/{rid}/reveal-requests/{qid}/approve",
                                          json={"reason": "I approve myself"}, headers=sg1)
    assert self_approval.status_code == 403
    hidden = (await api.client.get(f"/cases/{rid}", headers=sg2)).json()
    assert hidden["reporter"]["reporter_id"] is None and "mentee-1" not in str(hidden)

    approved = await api.client.post(f"/cases/{rid}/reveal-requests/{qid}/approve",
                                     json={"reason": "agreed: risk to life"}, headers=sg2)
    assert approved.status_code == 200 and approved.json()["approved_by"] == SG2
    assert (await api.client.post(f"/cases/{rid}/reveal-requests/{qid}/approve", json={"reason": "twice"},
                                  headers=api.as_("officer-3", "safeguarding"))).status_code == 409
    shown = (await api.client.get(f"/cases/{rid}", headers=sg1)).json()
    assert shown["reporter"] == {"anonymous": False, "revealed": True, "reporter_id": "mentee-1"}
    assert [(r["requested_by"], r["approved_by"], r["state"]) for r in shown["reveal_requests"]] == [
        (SG1, SG2, "approved")]

    audit = [e.payload() for e in await stream_events(redis, "tandem.audit")]
    trail = [(a.actor, a.action, a.outcome, a.reason) for a in audit if a.target == f"report:{rid}"]
    # The officers' reasons stay sealed in the reports database: the audit entry names the request.
    assert (SG1, "report.reveal_requested", "success", f"reveal-request:{qid}") in trail
    assert (SG1, "report.reveal_approved", "denied", "requester cannot approve their own reveal request") in trail
    assert (SG2, "report.reveal_approved", "success", f"reveal-request:{qid}") in trail
    # Reads are audited too, by whoever read.
    assert (SG2, "report.read", "success", None) in trail and (SG1, "report.read", "success", None) in trail
    # The reporter appears only by a keyed pseudonym, never by account id (the reveal needs two officers).
    filer = reporter_pseudonym(api.ctx.vault.tag, "mentee-1", f"report:{rid}")
    assert (filer, "report.filed", "success", None) in trail
    assert all("mentee-1" not in (a.actor, a.target, a.reason) for a in audit)


async def test_officers_reasons_never_cross_redis(api: Api, redis: Redis) -> None:
    """Guard: the reveal and legal-hold reasons are free text; only ids go on the bus."""
    rid = (await api.file(api.as_("mentee-1", "mentee")))["id"]
    sg1, sg2 = api.as_(SG1, "safeguarding"), api.as_(SG2, "safeguarding")
    req = await api.client.post(f"/cases/{rid}/reveal-requests", json={"reason": CANARY + " requested"},
                                headers=sg1)
    assert req.status_code == 201, req.text
    approved = await api.client.post(f"/cases/{rid}/reveal-requests/{req.json()['id']}/approve",
                                     json={"reason": CANARY + " approved"}, headers=sg2)
    assert approved.status_code == 200, approved.text
    for hold in (True, False):
        resp = await api.client.put(f"/cases/{rid}/legal-hold", json={"hold": hold, "reason": CANARY + " hold"},
                                    headers=sg1)
        assert resp.status_code == 200, resp.text
    audit = [e.payload() for e in await stream_events(redis, "tandem.audit")]
    actions = {a.action for a in audit if a.target == f"report:{rid}"}
    assert {"report.reveal_requested", "report.reveal_approved", "report.legal_hold.set",
            "report.legal_hold.released"} <= actions
    streams = [repr(f) for s in ("tandem.audit", "tandem.audit.dead") for _, f in await redis.xrange(s)]
    dumped = "\n".join([await redis_dump(redis), *streams])
    for needle in ("CANARY-7f3a", "Quentin"):
        assert needle not in dumped, needle
    # The hold's reason is kept, sealed, as a case note the officers read.
    notes = (await api.client.get(f"/cases/{rid}", headers=sg2)).json()["notes"]
    assert [n["author_id"] for n in notes if CANARY + " hold" in n["text"]] == [SG1, SG1]


async def test_plaintext_is_never_stored(api: Api, s3_server: S3Child) -> None:
    blob = b"%PDF-1.7 " + CANARY.encode() * 50
    sg = api.as_(SG1, "safeguarding")
    ident = await api.file(api.as_("mentee-1", "mentee"), person_id="mentor-canary-subject",
                           session_id="sess-canary", attachments=[
                               {"filename": "canary-statement.pdf", "media_type": "application/pdf",
                                "content": base64.b64encode(blob).decode()}])
    anon = await api.file(api.public(), text=CANARY + " anonymous")
    rid = ident["id"]
    await api.client.post(f"/cases/{rid}/notes", json={"text": CANARY + " note"}, headers=sg)
    await api.client.post(f"/cases/{rid}/messages", json={"text": CANARY + " message"}, headers=sg)
    await api.client.post("/receipt/messages", json={"text": CANARY + " reply"},
                          headers=api.public(**{api.settings.receipt_header: anon["receipt"]}))
    await api.client.post(f"/cases/{rid}/reveal-requests", json={"reason": CANARY + " reason"}, headers=sg)
    # Everything reads back...
    case = (await api.client.get(f"/cases/{rid}", headers=sg)).json()
    assert case["text"] == CANARY and case["attachments"][0]["filename"] == "canary-statement.pdf"
    got = await api.client.get(f"/cases/{rid}/attachments/{case['attachments'][0]['id']}", headers=sg)
    assert got.content == blob

    # ...but the database and the bucket only hold ciphertext.
    rows = await db_dump(api.settings.database_url)
    for needle in (CANARY, "CANARY-7f3a", "Quentin", "mentor-canary-subject", "sess-canary", "canary-statement",
                   "application/pdf"):
        assert contains(rows, needle) == [], needle
    client = Minio(s3_server.endpoint, access_key=s3_server.access_key, secret_key=s3_server.secret_key,
                   secure=False)

    def objects() -> list[tuple[str, bytes, dict[str, str]]]:
        out = []
        for obj in client.list_objects(api.settings.s3_bucket, recursive=True):
            resp = client.get_object(api.settings.s3_bucket, obj.object_name)
            try:
                data = resp.read()
            finally:
                resp.close()
                resp.release_conn()
            meta = client.stat_object(api.settings.s3_bucket, obj.object_name).metadata
            out.append((obj.object_name, data, dict(meta)))
        return out

    stored = await asyncio.to_thread(objects)
    assert len(stored) == 1
    key, data, meta = stored[0]
    assert len(key) == 32 and all(c in "0123456789abcdef" for c in key)  # random, says nothing
    assert CANARY.encode() not in data and b"%PDF" not in data
    assert not any(k.lower().startswith("x-amz-meta") for k in meta)


async def test_sealed_objects_only_open_as_what_they_were_sealed_as(api: Api) -> None:
    vault = api.ctx.vault
    sealed = vault.seal_json("report-a", "report.body", {"text": CANARY})
    assert vault.open_bytes("report-a", "report.body", sealed.kek_version, sealed.wrapped_dek, sealed.ciphertext)
    for object_id, kind in (("report-b", "report.body"), ("report-a", "report.note")):
        with pytest.raises(DecryptionError):
            vault.open_bytes(object_id, kind, sealed.kek_version, sealed.wrapped_dek, sealed.ciphertext)
    with pytest.raises(DecryptionError):  # shredded: the wrapped key is gone
        vault.open_bytes("report-a", "report.body", None, None, sealed.ciphertext)
    assert vault.tag("subject", "u1") == vault.tag("subject", "u1") != vault.tag("reporter", "u1")
