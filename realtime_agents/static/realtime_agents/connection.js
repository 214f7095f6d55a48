// The widget's WebSocket (docs/protocol.md): JSON control frames, binary PCM16 audio, bounded reconnects.

// Closes that mean the network or the server went away, not that we were refused: worth a retry.
const RETRYABLE = new Set([1001, 1005, 1006, 1011, 1012, 1013, 1014]);
// Audio is dropped rather than queued when the socket cannot keep up (about 10 s of PCM16 at 24 kHz).
const MAX_BUFFERED_BYTES = 480000;
const END_GRACE_MS = 2000;

export const DEFAULT_RETRY = Object.freeze({ attempts: 5, baseMs: 1000, maxMs: 15000 });

/** A ws(s) URL from an absolute URL or a path (http pages get ws:, https pages wss:). */
export function socketUrl(url, base) {
  const resolved = new URL(url, base);
  if (resolved.protocol === 'http:') resolved.protocol = 'ws:';
  if (resolved.protocol === 'https:') resolved.protocol = 'wss:';
  return resolved.toString();
}

/**
 * One conversation socket. Events: `frame` (a JSON frame), `audio` (an ArrayBuffer),
 * `reconnecting` ({code, attempt, attempts, delayMs}), `closed` ({code, reason, gaveUp, byUs}).
 */
export class Connection extends EventTarget {
  constructor(url, retry = DEFAULT_RETRY) {
    super();
    this.url = url;
    this.retry = retry;
    this.socket = null;
    this.ready = false;
    this.attempt = 0;
    this.timer = null;
    this.ending = false;
    this.endReason = '';
  }

  /** Connect (a fresh conversation). */
  open() {
    this.ending = false;
    this.attempt = 0;
    this._connect();
  }

  _connect() {
    clearTimeout(this.timer);
    this.timer = null;
    this.ready = false;
    this.endReason = '';
    let socket;
    try {
      socket = new WebSocket(this.url);
    } catch (error) {
      this._emit('closed', { code: 0, reason: '', gaveUp: false, byUs: false });
      return;
    }
    socket.binaryType = 'arraybuffer';
    socket.onmessage = (event) => this._message(socket, event);
    socket.onclose = (event) => this._closed(socket, event);
    this.socket = socket;
  }

  _message(socket, event) {
    if (socket !== this.socket) return;
    if (typeof event.data !== 'string') {
      if (this.ready) this._emit('audio', event.data);
      return;
    }
    let frame;
    try {
      frame = JSON.parse(event.data);
    } catch (error) {
      return;
    }
    if (!frame || typeof frame.type !== 'string') return;
    if (frame.type === 'ready') {
      this.ready = true;
      this.attempt = 0;
    } else if (frame.type === 'session.end') {
      this.endReason = String(frame.reason || '');
    }
    this._emit('frame', frame);
  }

  _closed(socket, event) {
    if (socket !== this.socket) return;
    this.socket = null;
    this.ready = false;
    const code = event.code;
    const retryable = RETRYABLE.has(code) && !this.ending;
    if (retryable && this.attempt < this.retry.attempts) {
      const backoff = Math.min(this.retry.maxMs, this.retry.baseMs * 2 ** this.attempt);
      const delayMs = Math.round(backoff * (0.8 + Math.random() * 0.4));
      this.attempt += 1;
      this._emit('reconnecting', { code, attempt: this.attempt, attempts: this.retry.attempts, delayMs });
      this.timer = setTimeout(() => this._connect(), delayMs);
      return;
    }
    this._emit('closed', { code, reason: this.endReason, gaveUp: retryable, byUs: this.ending });
  }

  /** Skip the wait before the next reconnect attempt. */
  retryNow() {
    if (this.timer !== null) this._connect();
  }

  /** Send a control frame; false when the session is not open. */
  sendJson(frame) {
    if (!this._open()) return false;
    this.socket.send(JSON.stringify(frame));
    return true;
  }

  /** Send PCM16 audio; false when the session is not open or the socket is backed up. */
  sendAudio(buffer) {
    if (!this._open() || this.socket.bufferedAmount > MAX_BUFFERED_BYTES) return false;
    this.socket.send(buffer);
    return true;
  }

  _open() {
    return this.socket !== null && this.ready && this.socket.readyState === WebSocket.OPEN;
  }

  /** End the conversation: ask the server (it answers `session.end` and closes), close if it does not. */
  end() {
    this.ending = true;
    clearTimeout(this.timer);
    const socket = this.socket;
    if (socket === null) {
      if (this.timer !== null) {
        this.timer = null;
        this._emit('closed', { code: 1000, reason: 'client_ended', gaveUp: false, byUs: true });
      }
      return;
    }
    this.timer = null;
    if (this.sendJson({ type: 'end' })) {
      setTimeout(() => socket.readyState !== WebSocket.CLOSED && socket.close(1000), END_GRACE_MS);
    } else {
      socket.close(1000);
    }
  }

  /** Drop the socket without telling anyone (the element left the page). */
  close() {
    this.ending = true;
    clearTimeout(this.timer);
    this.timer = null;
    if (this.socket) {
      const socket = this.socket;
      this.socket = null;
      socket.close(1000);
    }
  }

  _emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }
}
