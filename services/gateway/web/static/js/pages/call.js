// The call page: peer-to-peer video with the other member, consent controls, and the recording indicator.
// Signalling is the sessions service's protocol (services/sessions/signalling/messages.py) over the
// gateway's WebSocket relay. The recording state shown is always the server's (recording-state frames).
import { h, clear, announce } from '../dom.js';
import { get } from '../api.js';
import { page, errorBox, showError } from '../ui.js';
import { otherName, otherId } from './home.js';
import { loadNames } from '../people.js';
import { t } from '../i18n.js';

// When the server ends the call (call-ended frame, or a close with one of these codes) the page ends it
// too: peer connections closed, camera and microphone stopped, no reconnection. 1008 is the gateway's
// (sign-in revoked, or refused at the handshake), 44xx the sessions service's.
const FINAL_CODES = new Set([1008, 4401, 4403, 4404, 4409, 4410]);
// Words are read when needed (not at load), so they follow the person's language.
const ENDED_WORDS = {
  'ended-by-programme': () => t('call.ended.by_programme'),
  suspended: () => t('call.ended.suspended'),
  'signed-out': () => t('call.ended.signed_out'),
  'pairing-ended': () => t('call.ended.pairing_ended'),
  'room-closed': () => t('call.ended.room_closed'),
  replaced: () => t('call.ended.replaced'),
  'not-found': () => t('call.ended.not_found'),
};
const ERROR_WORDS = {
  'recording-unavailable': () => t('call.error.recording_unavailable'),
  'rate-limited': () => t('call.error.rate_limited'),
  'already-granted': () => t('call.error.already_granted'),
  'not-requested': () => t('call.error.not_requested'),
  'peer-absent': () => t('call.error.peer_absent'),
};
const known = (words, key) => Object.hasOwn(words, key);

export async function callPage(ctx, main, sessionId) {
  const session = await get(`/api/sessions/sessions/${encodeURIComponent(sessionId)}`);
  const pairing = await get(`/api/sessions/pairings/${encodeURIComponent(session.pairing_id)}`);
  const other = otherName(ctx, pairing, await loadNames([otherId(ctx, pairing)]));
  // If both ever send an offer at once, the polite side gives its own up and answers; the other ignores
  // the crossing offer and waits for that answer ("perfect negotiation"). Which side is polite only has
  // to be the same on both pages.
  const polite = ctx.me.id > otherId(ctx, pairing);
  // `other` may begin a sentence ("your mentor joined…").
  const Other = `${other[0].toUpperCase()}${other.slice(1)}`;
  page(main, t('call.title', { other }));
  const box = errorBox();
  const status = h('p', { id: 'call-status', role: 'status' }, t('call.status.starting'));
  const indicator = h('div', { class: 'rec-indicator', id: 'recording-indicator', role: 'status', 'aria-live': 'assertive' },
    h('span', { class: 'dot', 'aria-hidden': 'true' }), h('span', { id: 'recording-text' }, t('call.rec.idle')));
  const localVideo = h('video', { id: 'local-video', autoplay: true, muted: true, playsinline: true });
  const remoteVideo = h('video', { id: 'remote-video', autoplay: true, playsinline: true });
  const muteBtn = h('button', { type: 'button', class: 'secondary', id: 'toggle-mic', 'aria-pressed': 'false' }, t('call.mic.mute'));
  const camBtn = h('button', { type: 'button', class: 'secondary', id: 'toggle-camera', 'aria-pressed': 'false' }, t('call.camera.off'));
  const leaveBtn = h('button', { type: 'button', class: 'danger', id: 'leave-call' }, t('call.leave'));
  const askBtn = h('button', { type: 'button', id: 'ask-record' }, t('call.rec.ask'));
  const consentBtn = h('button', { type: 'button', id: 'consent-record', hidden: true }, t('call.rec.consent'));
  const stopBtn = h('button', { type: 'button', class: 'danger', id: 'stop-record', hidden: true }, t('call.rec.stop'));
  const consentHelp = h('p', { class: 'muted', id: 'consent-help' }, t('call.rec.help'));
  main.append(box, indicator, h('div', { class: 'call-grid' },
    h('div', { class: 'video-box' }, remoteVideo, h('span', { class: 'caption' }, other)),
    h('div', {}, h('div', { class: 'video-box' }, localVideo, h('span', { class: 'caption' }, t('call.you'))),
      h('div', { class: 'actions' }, muteBtn, camBtn))),
  status, h('section', { class: 'card' }, h('h2', {}, t('call.rec.title')), consentHelp, h('div', { class: 'actions' }, askBtn, consentBtn, stopBtn)),
  h('div', { class: 'actions' }, leaveBtn));

  let stream = null;
  let ws = null;
  let pc = null;
  let recPc = null;
  let iceServers = [];
  let closed = false;
  let retries = 0;
  let retryTimer = null;
  let pendingCandidates = [];
  let frames = Promise.resolve();

  const endedBox = h('p', { id: 'call-ended', role: 'alert', hidden: true });
  main.prepend(endedBox);
  const send = (frame) => { if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(frame)); };
  const setStatus = (text) => { status.textContent = text; };

  try {
    stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: { width: 640, height: 480 } });
    localVideo.srcObject = stream;
  } catch {
    showError(box, t('call.media.error'));
    setStatus(t('call.media.none'));
    return () => {};
  }

  // A button that turns the first track of `tracks()` off and on; pressed while the track is off.
  const toggles = (button, tracks, [offLabel, onLabel], [onSaid, offSaid]) => {
    button.addEventListener('click', () => {
      const track = tracks()[0];
      if (!track) return;
      track.enabled = !track.enabled;
      button.textContent = track.enabled ? offLabel : onLabel;
      button.setAttribute('aria-pressed', String(!track.enabled));
      announce(track.enabled ? onSaid : offSaid);
    });
  };
  toggles(muteBtn, () => stream.getAudioTracks(), [t('call.mic.mute'), t('call.mic.unmute')], [t('call.mic.on'), t('call.mic.muted')]);
  toggles(camBtn, () => stream.getVideoTracks(), [t('call.camera.off'), t('call.camera.on')], [t('call.camera.is_on'), t('call.camera.is_off')]);
  askBtn.addEventListener('click', () => send({ type: 'consent-request' }));
  consentBtn.addEventListener('click', () => send({ type: 'consent-grant' }));
  stopBtn.addEventListener('click', () => send({ type: 'consent-revoke' }));

  function showRecording(state) {
    const phase = state.phase;
    const mineGranted = (state.granted || []).includes(ctx.me.id);
    indicator.className = `rec-indicator ${phase}`;
    indicator.dataset.phase = phase;
    const text = indicator.querySelector('#recording-text');
    if (phase === 'recording') text.textContent = t('call.rec.recording');
    else if (phase === 'requested') {
      text.textContent = mineGranted ? t('call.rec.waiting')
        : state.requested_by === ctx.me.id ? t('call.rec.requested_by_you') : t('call.rec.requested_by_other', { other });
    } else text.textContent = t('call.rec.idle');
    askBtn.hidden = phase !== 'idle';
    consentBtn.hidden = !(phase === 'requested' && !mineGranted);
    stopBtn.hidden = phase === 'idle';
    stopBtn.textContent = phase === 'recording' ? t('call.rec.stop') : t('call.rec.withdraw');
    if (phase !== 'recording' && recPc) { recPc.close(); recPc = null; }
  }

  function newPeer() {
    if (pc) pc.close();
    pendingCandidates = [];
    pc = new RTCPeerConnection({ iceServers });
    for (const track of stream.getTracks()) pc.addTrack(track, stream);
    pc.addEventListener('icecandidate', (e) => {
      if (e.candidate && e.candidate.candidate) {
        send({ type: 'ice-candidate', candidate: e.candidate.candidate, sdp_mid: e.candidate.sdpMid, sdp_mline_index: e.candidate.sdpMLineIndex });
      }
    });
    pc.addEventListener('track', (e) => {
      if (remoteVideo.srcObject !== e.streams[0]) remoteVideo.srcObject = e.streams[0];
    });
    const mine = pc;
    pc.addEventListener('connectionstatechange', () => {
      if (mine !== pc) return;
      if (pc.connectionState === 'connected') { setStatus(t('call.status.connected', { other })); main.dataset.connected = 'true'; }
      if (pc.connectionState === 'failed') { setStatus(t('call.status.retrying')); send({ type: 'ice-restart' }); }
    });
    return pc;
  }

  async function makeOffer(iceRestart = false) {
    if (!pc || !iceRestart) newPeer();
    const offer = await pc.createOffer({ iceRestart });
    await pc.setLocalDescription(offer);
    send({ type: 'offer', sdp: pc.localDescription.sdp });
  }

  async function flushCandidates() {
    for (const c of pendingCandidates) await pc.addIceCandidate(c).catch(() => {});
    pendingCandidates = [];
  }

  async function onRecorderOffer(sdp) {
    // The server's recorder joins as an extra receive-only peer: send it our tracks, nothing comes back.
    if (closed) return;
    if (recPc) recPc.close();
    recPc = new RTCPeerConnection({ iceServers });
    for (const track of stream.getTracks()) recPc.addTrack(track, stream);
    await recPc.setRemoteDescription({ type: 'offer', sdp });
    await recPc.setLocalDescription(await recPc.createAnswer());
    const rp = recPc;
    // aiortc does not trickle: answer once our candidates are gathered (bounded wait).
    await new Promise((resolve) => {
      if (rp.iceGatheringState === 'complete') { resolve(); return; }
      const done = () => { if (rp.iceGatheringState === 'complete') resolve(); };
      rp.addEventListener('icegatheringstatechange', done);
      window.setTimeout(resolve, 2000);
    });
    if (rp === recPc) send({ type: 'answer', sdp: rp.localDescription.sdp, target: 'recorder' });
  }

  async function onFrame(frame) {
    if (closed) return; // the call is over: nothing may open a connection again
    switch (frame.type) {
      case 'joined':
        retries = 0;
        iceServers = (frame.ice_servers || []).map((s) => ({ urls: s.urls, username: s.username, credential: s.credential }));
        showRecording(frame.recording);
        if (frame.peer_present) { setStatus(t('call.status.connecting', { other })); await makeOffer(); } else setStatus(t('call.status.waiting', { other }));
        break;
      case 'peer-joined':
        setStatus(t('call.status.peer_joined', { other: Other }));
        newPeer(); // they send the offer; a fresh connection avoids stale transports after a resume
        break;
      case 'peer-away':
        setStatus(t('call.status.peer_away', { other: Other }));
        break;
      case 'peer-left':
        setStatus(t('call.status.peer_left', { other: Other }));
        remoteVideo.srcObject = null;
        main.dataset.connected = 'false';
        break;
      case 'offer':
        if (frame.source === 'recorder') break; // handled outside the queue (see connect)
        if (pc && pc.signalingState !== 'stable') {
          if (!polite) break; // offers crossed: ours stands, theirs is dropped, their answer will come
          newPeer(); // offers crossed: ours is dropped, we answer theirs
        } else if (!pc) newPeer();
        await pc.setRemoteDescription({ type: 'offer', sdp: frame.sdp });
        await flushCandidates();
        await pc.setLocalDescription(await pc.createAnswer());
        send({ type: 'answer', sdp: pc.localDescription.sdp });
        break;
      case 'answer':
        if (frame.source === 'peer' && pc) { await pc.setRemoteDescription({ type: 'answer', sdp: frame.sdp }); await flushCandidates(); }
        break;
      case 'ice-candidate': {
        const target = frame.source === 'recorder' ? recPc : pc;
        if (!target) break;
        const c = { candidate: frame.candidate, sdpMid: frame.sdp_mid, sdpMLineIndex: frame.sdp_mline_index };
        if (target === pc && !pc.remoteDescription) pendingCandidates.push(c);
        else await target.addIceCandidate(c).catch(() => {});
        break;
      }
      case 'ice-restart':
        if (frame.source === 'peer' && pc) await makeOffer(true);
        break;
      case 'recording-state':
        showRecording(frame);
        announce(frame.phase === 'recording' ? t('call.rec.started') : frame.phase === 'requested' ? t('call.rec.requested') : t('call.rec.not_recording'));
        break;
      case 'error':
        showError(box, known(ERROR_WORDS, frame.reason) ? ERROR_WORDS[frame.reason]() : t('call.error.other', { reason: frame.reason }));
        break;
      case 'ice-servers':
        await renewIceServers(frame.ice_servers);
        break;
      case 'closing':
        // The socket closes but the call goes on (another window took over, or the server restarts).
        if (frame.reason === 'replaced') endCall('replaced');
        break;
      default:
        break;
    }
  }

  // The programme's decision is acted on here, not only shown: media stops both ways at once.
  function endCall(reason) {
    if (closed) return;
    closed = true;
    window.clearTimeout(retryTimer);
    for (const conn of [pc, recPc]) if (conn) conn.close();
    pc = null;
    recPc = null;
    if (stream) for (const t of stream.getTracks()) t.stop();
    localVideo.srcObject = null;
    remoteVideo.srcObject = null;
    main.dataset.connected = 'false';
    main.dataset.ended = reason;
    if (ws && ws.readyState === WebSocket.OPEN) ws.close(1000);
    showRecording({ phase: 'idle', granted: [] });
    for (const b of [askBtn, consentBtn, stopBtn, muteBtn, camBtn]) b.hidden = true;
    const words = known(ENDED_WORDS, reason) ? ENDED_WORDS[reason]() : t('call.ended.cannot_join');
    endedBox.textContent = t('call.ended.media_off', { words });
    endedBox.hidden = false;
    setStatus(words);
    leaveBtn.textContent = t('call.close_page');
  }

  async function renewIceServers(servers) {
    // Short-lived TURN credentials, renewed by the server only while we may stay in the call. A relayed
    // connection keeps the credential it was allocated with: the side that offers restarts ICE, so both
    // sides allocate again with the fresh ones.
    iceServers = (servers || []).map((s) => ({ urls: s.urls, username: s.username, credential: s.credential }));
    for (const conn of [pc, recPc]) {
      if (conn) try { conn.setConfiguration({ ...conn.getConfiguration(), iceServers }); } catch { /* closed */ }
    }
    if (!pc || polite || pc.connectionState !== 'connected') return;
    const stats = await pc.getStats();
    let relayed = false;
    stats.forEach((r) => {
      if (r.type === 'transport' && r.selectedCandidatePairId) {
        const pair = stats.get(r.selectedCandidatePairId);
        const local = pair && stats.get(pair.localCandidateId);
        relayed = relayed || (local && local.candidateType === 'relay');
      }
    });
    if (relayed) await makeOffer(true);
  }

  function closeReason(e) {
    if (e.code === 1008) return e.reason === 'signed out' ? 'signed-out' : 'refused';
    if (e.code === 4404) return 'not-found';
    if (e.code === 4410) return 'room-closed';
    if (e.code === 4409) return 'replaced';
    return known(ENDED_WORDS, e.reason) ? e.reason : 'refused';
  }

  function connect() {
    const scheme = window.location.protocol === 'https:' ? 'wss' : 'ws';
    ws = new WebSocket(`${scheme}://${window.location.host}/api/sessions/sessions/${encodeURIComponent(sessionId)}/signal`);
    const socket = ws;
    socket.addEventListener('open', () => send({ type: 'join' }));
    const failed = () => showError(box, t('call.error.problem'));
    socket.addEventListener('message', (e) => {
      let frame;
      try { frame = JSON.parse(e.data); } catch { return; }
      if (frame.type === 'call-ended') {
        // Ahead of any queued frame: the media stops now, whatever the queue is waiting for.
        endCall(frame.reason);
        return;
      }
      if (frame.type === 'offer' && frame.source === 'recorder') {
        // Its own connection, and answering it waits for our candidates: it must not hold up the call.
        onRecorderOffer(frame.sdp).catch(failed);
        return;
      }
      // One frame at a time, in order: an answer or a candidate must never overtake the offer before it.
      frames = frames.then(() => onFrame(frame)).catch(failed);
    });
    socket.addEventListener('close', (e) => {
      if (socket !== ws || closed) return;
      if (FINAL_CODES.has(e.code)) {
        // Closed without a call-ended frame (the gateway cut the socket, or the join was refused): the
        // call is over all the same, never "reconnecting".
        endCall(closeReason(e));
        return;
      }
      retries += 1;
      const wait = Math.min(1000 * 2 ** (retries - 1), 8000);
      setStatus(t('call.status.reconnecting', { attempt: retries }));
      retryTimer = window.setTimeout(connect, wait);
    });
  }
  connect();

  const leave = () => {
    if (closed) { if (stream) for (const t of stream.getTracks()) t.stop(); return; }
    closed = true;
    window.clearTimeout(retryTimer);
    send({ type: 'leave' });
    if (ws) ws.close(1000);
    if (pc) pc.close();
    if (recPc) recPc.close();
    if (stream) for (const t of stream.getTracks()) t.stop();
  };
  leaveBtn.addEventListener('click', () => {
    leave();
    clear(main);
    page(main, t('call.left.title'));
    main.append(h('p', {}, h('a', { href: '#/' }, t('call.left.home'))), h('p', {}, h('a', { href: `#/pairings/${encodeURIComponent(session.pairing_id)}` }, t('call.left.pairing'))));
    main.querySelector('h1').focus();
  });
  window.addEventListener('pagehide', leave, { once: true });
  return leave;
}

