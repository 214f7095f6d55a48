// One conversation at a time: the socket, the audio engine and the view, and the state that ties them.

import { AudioEngine } from './audio.js';
import { Connection, socketUrl } from './connection.js';
import { applyClosed, applyReconnecting, applyServerFrame } from './events.js';
import { AUDIO_UNSUPPORTED, SHORT_PRESS, closeMessage, microphoneMessage } from './messages.js';

// Upstream refuses to commit less than 100 ms of audio; a shorter press is a slip, not a turn.
const MIN_PUSH_MS = 120;
const BYTES_PER_MS = 48;
// A brief underrun should not flicker the state between speaking and thinking.
const SPEAKING_HOLD_MS = 300;
const MAX_DROPPED_ITEMS = 64;

export class Conversation {
  constructor({ config, view, onState = () => {} }) {
    this.config = config;
    this.view = view;
    this.onState = onState;
    this.phase = 'idle';
    this.audio = null;
    this.connection = null;
    this.dropped = new Set();
    this.lastState = '';
    this._reset();
  }

  _reset() {
    this.microphone = false;
    this.microphoneSettled = false;
    this.muted = false;
    this.speaking = false;
    this.awaiting = false;
    this.holding = false;
    this.sending = false;
    this.heldBytes = 0;
    this.approvals = 0;
    this.audioItem = null;
    this.reconnected = false;
    this.began = false;
    this.runningTools = new Set();
    clearTimeout(this.speakingTimer);
  }

  // -- lifecycle -------------------------------------------------------------------------------

  /** Start a conversation (from a click: the audio context and the microphone prompt need one). */
  async start() {
    if (this.phase !== 'idle' && this.phase !== 'ended') return;
    this._reset();
    this.view.clearError();
    this.view.clearApprovals();
    this.phase = 'connecting';
    this.render();
    const audio = new AudioEngine({ frameMs: this.config.frameMs, jitterMs: this.config.jitterMs });
    try {
      await audio.start();
      this.audio = audio;
      audio.addEventListener('frame', (event) => this._microphoneFrame(event.detail));
      audio.addEventListener('position', (event) => this._played(event.detail));
      audio.addEventListener('playing', (event) => this._playing(event.detail.value));
      audio.addEventListener('microphone-ended', () => this._microphoneLost());
    } catch (error) {
      await audio.close();
      this.view.showError(AUDIO_UNSUPPORTED);
      this.microphoneSettled = true;
    }
    if (this.phase !== 'connecting') return this.releaseAudio();
    const connection = new Connection(socketUrl(this.config.url, window.location.href));
    this.connection = connection;
    connection.addEventListener('frame', (event) => this._after(applyServerFrame, event.detail));
    connection.addEventListener('audio', (event) => this._assistantAudio(event.detail));
    connection.addEventListener('reconnecting', (event) => this._after(applyReconnecting, event.detail));
    connection.addEventListener('closed', (event) => this._after(applyClosed, event.detail));
    connection.open();
    if (this.audio) await this._openMicrophone(this.audio);
    this.render();
  }

  async _openMicrophone(audio) {
    try {
      await audio.openMicrophone();
    } catch (error) {
      if (this.audio === audio) this.view.showError(microphoneMessage(error));
      else await audio.close();
      this.microphoneSettled = true;
      this.focusControls();
      return;
    }
    this.microphoneSettled = true;
    if (this.audio !== audio) return audio.close();
    this.microphone = true;
    if (this.config.mode === 'hands-free') await this._send(true);
    this.render();
    this.focusControls();
  }

  /** Keyboard users land on the main control once it can be used (the start button is gone). */
  focusControls() {
    if (this.phase !== 'live' || !this.microphoneSettled) return;
    if (!this.microphone) this.view.focus('input');
    else this.view.focus(this.config.mode === 'push-to-talk' ? 'talk' : 'mute');
  }

  /** End the conversation (the End button). */
  async end() {
    if (this.phase === 'idle' || this.phase === 'ended') return;
    this.phase = 'ended';
    if (this.connection) this.connection.end();
    else this.view.notice(closeMessage(1000, { reason: 'client_ended' }).text);
    this.view.clearApprovals();
    this.render();
    this.view.focus('start');
    await this.releaseAudio();
  }

  /** The element left the page: drop everything silently. */
  close() {
    if (this.connection) this.connection.close();
    this.connection = null;
    this.phase = 'ended';
    this.releaseAudio();
  }

  /** The alert's button: reconnect now, or start over. */
  retry() {
    if (this.phase === 'reconnecting' && this.connection) this.connection.retryNow();
    else if (this.phase === 'ended' || this.phase === 'idle') this.start();
  }

  async releaseAudio() {
    const audio = this.audio;
    this.audio = null;
    this.microphone = false;
    this.speaking = false;
    if (audio) await audio.close();
  }

  // -- the user's actions ----------------------------------------------------------------------

  /** Stop the assistant now: flush playback, report how far it played, ask the server to truncate. */
  async interrupt() {
    if (this.phase !== 'live' || !(this.speaking || this.awaiting)) return false;
    const item = this.audioItem;
    // Dropped before the flush, so chunks arriving meanwhile are not queued again.
    if (item) this._drop(item.id);
    const position = this.audio ? await this.audio.flush() : null;
    if (position && this.connection) {
      this.connection.sendJson({ type: 'playback', item_id: position.item, content_index: position.contentIndex,
        ms: Math.floor(position.ms) });
      this._drop(position.item);
    }
    if (this.connection) this.connection.sendJson({ type: 'interrupt' });
    if (item) this.view.interrupted(item.id);
    clearTimeout(this.speakingTimer);
    this.speaking = false;
    this.awaiting = false;
    this.render();
    return true;
  }

  async send(text) {
    if (this.phase !== 'live' || !this.connection) return;
    await this.interrupt();
    if (this.connection && this.connection.sendJson({ type: 'text', text })) {
      this.view.typed(text, 'You');
      this.awaiting = true;
    }
    this.render();
  }

  async toggleMute() {
    if (!this.microphone || !this.audio) return;
    this.muted = !this.muted;
    this.audio.setMuted(this.muted);
    await this._send(!this.muted);
    this.render();
  }

  async talkStart() {
    if (this.phase !== 'live' || !this.microphone) return;
    this.holding = true;
    this.heldBytes = 0;
    this.view.clearError();
    this.render();
    await this.interrupt();
    if (this.holding) await this._send(true);
  }

  async talkEnd() {
    if (!this.holding) return;
    this.holding = false;
    // The flush resolves after the last frame was handed over, so the commit follows all the audio.
    await this._send(false);
    if (this.heldBytes / BYTES_PER_MS >= MIN_PUSH_MS && this.connection) {
      if (this.connection.sendJson({ type: 'commit' })) this.awaiting = true;
    } else if (this.phase === 'live') {
      this.view.showError(SHORT_PRESS);
    }
    this.render();
  }

  // -- audio -----------------------------------------------------------------------------------

  /** Start or stop sending the microphone; stopping resolves once the worklet handed over its last frame. */
  async _send(value) {
    if (!this.audio) return;
    const change = (this.sendChanges = (this.sendChanges || 0) + 1);
    if (value) {
      this.sending = true;
      await this.audio.setSending(true);
      return;
    }
    await this.audio.setSending(false, { flush: true });
    // Frames that come later (a flush that timed out) are dropped, never sent after a commit.
    if (change === this.sendChanges) {
      this.sending = false;
      this.view.level(0);
    }
  }

  _microphoneFrame({ pcm, level }) {
    this.view.level(level);
    if (!this.sending || !this.connection) return;
    if (this.connection.sendAudio(pcm) && this.holding) this.heldBytes += pcm.byteLength;
  }

  _assistantAudio(buffer) {
    const item = this.audioItem;
    if (!this.audio || !item || this.dropped.has(item.id)) return;
    this.audio.play(item.id, item.contentIndex, buffer);
  }

  _played(position) {
    if (this.dropped.has(position.item) || !this.connection) return;
    this.connection.sendJson({ type: 'playback', item_id: position.item, content_index: position.contentIndex,
      ms: Math.floor(position.ms) });
  }

  _playing(value) {
    clearTimeout(this.speakingTimer);
    if (value) {
      this.speaking = true;
      this.render();
      return;
    }
    this.speakingTimer = setTimeout(() => {
      this.speaking = false;
      this.render();
    }, SPEAKING_HOLD_MS);
  }

  _microphoneLost() {
    this.microphone = false;
    this.view.showError(microphoneMessage({ name: 'NotReadableError' }));
    this.render();
  }

  _drop(itemId) {
    this.dropped.add(itemId);
    if (this.dropped.size > MAX_DROPPED_ITEMS) this.dropped.delete(this.dropped.values().next().value);
  }

  stopPlayback(itemId) {
    if (itemId) this._drop(itemId);
    if (this.audio) this.audio.flush();
    clearTimeout(this.speakingTimer);
    this.speaking = false;
  }

  // -- the server ------------------------------------------------------------------------------

  _after(apply, detail) {
    apply(this, detail);
    this.render();
  }

  // -- state -----------------------------------------------------------------------------------

  state() {
    if (this.phase !== 'live') return this.phase === 'reconnecting' ? 'reconnecting' : this.phase;
    if (this.speaking) return 'speaking';
    if (this.approvals > 0) return 'approval';
    if (this.awaiting) return 'thinking';
    if (!this.microphone) return 'textOnly';
    if (this.config.mode === 'push-to-talk') return this.holding ? 'listening' : 'holdToTalk';
    return this.muted ? 'muted' : 'listening';
  }

  render() {
    const state = this.state();
    this.view.render({ phase: this.phase, state, muted: this.muted, microphone: this.microphone,
      speaking: this.speaking });
    if (state !== this.lastState) {
      this.lastState = state;
      this.onState(state);
    }
  }
}
