"""The recorder's production path: its service account gets a token from the real gateway (client
credentials, Authlib) and streams the WebM through the gateway's proxy into the real records service."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from redis.asyncio import Redis

from deploy.local.children import S3Child, free_port
from services.gateway.app import create_app as gateway_app
from services.records.app import create_app as records_app
from services.records.config import Settings as RecordsSettings
from services.records.lifecycle.tables import records as records_table
from services.sessions.adapters.sink import ClientCredentials, HttpRecordingSink, SinkError
from services.sessions.recorder.manager import Recorders
from services.sessions.signalling import messages as msg
from shared.db import create_engine
from tests.support.calls import (
    Member,
    ask_and_grant,
    join_and_call,
    loopback_host_addresses,
    open_session,
    recorder_connected,
    serve,
)
from tests.support.databases import Databases
from tests.support.gateway import insecure_fast_argon2_settings
from tests.support.identity import TestIssuer
from tests.support.servers import serve as serve_app
from tests.support.sessions import (
    MEDIA_ONLY,
    MENTEE,
    MENTOR,
    OTHER_MENTOR,
    publish_users,
    sessions_settings,
    wait_projected,
)

pytestmark = pytest.mark.integration


@pytest.mark.sqlite_pass_only(reason=MEDIA_ONLY)
async def test_recording_goes_through_the_gateway_with_client_credentials(
        tmp_path: Path, redis_url: str, redis: Redis, issuer: TestIssuer, s3_server: S3Child,
        gateway_db: Callable[..., str], database_url: Databases) -> None:
    await publish_users(redis)
    gw_port, rec_port = free_port(), free_port()
    gw_url = f"http://127.0.0.1:{gw_port}"
    gw_settings = insecure_fast_argon2_settings(gateway_db(), redis_url, records_url=f"http://127.0.0.1:{rec_port}",
                                                sessions_url="http://127.0.0.1:9", reports_url="http://127.0.0.1:9",
                                                issuer=gw_url)
    gateway = gateway_app(gw_settings, run_consumers=False)
    rsettings = RecordsSettings(
        database_url=database_url("records"), redis_url=redis_url,
        jwks_url=f"{gw_url}/internal/assertion-jwks", s3_endpoint=s3_server.endpoint,
        s3_access_key=s3_server.access_key, s3_secret_key=s3_server.secret_key,
        s3_bucket=f"rec-{secrets.token_hex(6)}", keyring_path=str(tmp_path / "keys" / "keyring.json"),
        audit_key_dir=str(tmp_path / "keys" / "audit"), sweep_interval_s=0.0, audit_checkpoint_interval_s=0.0,
        instance_id="records-gw-test")
    async with serve_app(gateway, gw_port), serve_app(records_app(rsettings), rec_port), \
            httpx.AsyncClient(timeout=httpx.Timeout(30.0)) as client:
        gw = gateway.state.context
        client_id, secret = await gw.oauth_clients.create(
            name="sessions-recorder", redirect_uris=[], post_logout_redirect_uris=[],
            grant_types=["client_credentials"], scope=["api"], confidential=True)
        auth = ClientCredentials(f"{gw_url}/oauth/token", client_id, secret or "")
        assert (await auth())["authorization"].startswith("Bearer ")
        bad = ClientCredentials(f"{gw_url}/oauth/token", client_id, "wrong-secret")
        with pytest.raises(SinkError):
            await bad()
        sink = HttpRecordingSink(f"{gw_url}/api/records/internal/recordings", client, auth)
        settings = sessions_settings(database_url("sessions"), redis_url, issuer)
        with loopback_host_addresses():
            async with serve(settings, recording_sink=sink) as srv:
                await wait_projected(srv.app, OTHER_MENTOR, vetted=True)
                _pid, sid = await open_session(srv.url, issuer, MENTOR, MENTEE)
                a, b = Member(srv, issuer, MENTOR, sid), Member(srv, issuer, MENTEE, sid)
                await join_and_call(a, b)
                await ask_and_grant(a, b)
                await recorder_connected(a, b)
                await asyncio.sleep(1.5)
                await a.send(msg.ConsentRevoke())
                for m in (a, b):
                    await m.expect_type(msg.RecordingState, phase="idle")
                recorders: Recorders = srv.app.state.context.recorders
                for _ in range(500):
                    if not recorders.active:
                        break
                    await asyncio.sleep(0.02)
                recording = recorders.finished[-1]
                await a.close()
                await b.close()
    assert recording.record_id, recording.stop_reason
    engine = create_engine(rsettings.database_url)
    try:
        async with engine.connect() as conn:
            row = (await conn.execute(sa.select(records_table).where(records_table.c.id == recording.record_id))
                   ).one()
    finally:
        await engine.dispose()
    assert row.session_id == sid and row.kind == "recording"
    assert recording.recording_id in row.consent_evidence
