"""KEK rotation through the operator CLI: rotate, rewrap every data key (reports, notes, messages,
attachments, reveal reasons, the blind-index key), retire the old version; everything still opens."""

from __future__ import annotations

import asyncio
import base64
import io

import pytest

from services.reports.cli import main
from tests.support.reports import CANARY, Api

pytestmark = pytest.mark.integration


async def _cli(api: Api, *argv: str) -> tuple[int, str]:
    out = io.StringIO()
    code = await asyncio.to_thread(main, list(argv), settings=api.settings, out=out)
    return code, out.getvalue()


async def test_rotate_rewrap_retire(api: Api) -> None:
    sg1, sg2 = api.as_("officer-1", "safeguarding"), api.as_("officer-2", "safeguarding")
    rid = (await api.file(api.as_("mentee-1", "mentee"), person_id="mentor-7", attachments=[
        {"filename": "a.txt", "media_type": "text/plain", "content": base64.b64encode(b"evidence").decode()}]))["id"]
    receipt = (await api.file(api.public()))["receipt"]
    await api.client.post(f"/cases/{rid}/notes", json={"text": "note"}, headers=sg1)
    await api.client.post(f"/cases/{rid}/messages", json={"text": "message"}, headers=sg1)
    qid = (await api.client.post(f"/cases/{rid}/reveal-requests", json={"reason": "risk"}, headers=sg1)).json()["id"]

    assert (await _cli(api, "keys", "rotate"))[0] == 0
    code, text = await _cli(api, "keys", "retire", "1")
    assert code == 1 and "still wraps" in text
    code, text = await _cli(api, "keys", "rewrap")
    # 2 reports + 2 entries + 1 attachment + 1 reveal request + the index key
    assert code == 0 and "7 data keys re-wrapped under KEK version 2" in text
    assert (await _cli(api, "keys", "rewrap"))[1].startswith("rewrap: done, 0 data keys")  # idempotent
    code, text = await _cli(api, "keys", "retire", "1")
    assert code == 0, text
    code, text = await _cli(api, "keys", "list")
    assert code == 0 and any(line.split()[:2] == ["1", "retired"] for line in text.splitlines())

    # Everything still opens under the new KEK, and the blind indexes still match.
    case = (await api.client.get(f"/cases/{rid}", headers=sg2)).json()
    assert case["text"] == CANARY and case["notes"][0]["text"] == "note"
    att = await api.client.get(f"/cases/{rid}/attachments/{case['attachments'][0]['id']}", headers=sg2)
    assert att.content == b"evidence"
    assert (await api.client.post(f"/cases/{rid}/reveal-requests/{qid}/approve", json={"reason": "agreed"},
                                  headers=sg2)).status_code == 200
    assert (await api.client.get(f"/mine/{rid}", headers=api.as_("mentee-1", "mentee"))).status_code == 200
    assert (await api.client.get(f"/cases/{rid}", headers=api.as_("mentor-7", "safeguarding"))).status_code == 404
    assert (await api.client.get("/receipt", headers=api.public(**{api.settings.receipt_header: receipt}))
            ).status_code == 200
    await api.file(api.as_("mentee-2", "mentee"))
    assert (await _cli(api, "keys", "bogus"))[0] == 2
