// The widget's audio: one AudioContext, the microphone through the capture worklet, answers through the playback one.

const CAPTURE_URL = new URL('./capture-worklet.js', import.meta.url);
const PLAYBACK_URL = new URL('./playback-worklet.js', import.meta.url);
const TARGET_RATE = 24000;
const ANTI_ALIAS_HZ = 10000;
// Only a stalled audio thread takes this long; the caller then goes on without the answer.
const FLUSH_TIMEOUT_MS = 1000;

/** Thrown when the browser has no AudioWorklet (very old browsers, some embedded web views). */
export class AudioUnsupportedError extends Error {
  constructor() {
    super('AudioWorklet is not available');
    this.name = 'AudioUnsupportedError';
  }
}

/** The engine was closed while the microphone was being opened. */
export class AudioClosedError extends Error {
  constructor() {
    super('the audio engine was closed');
    this.name = 'AudioClosedError';
  }
}

/**
 * Events: `frame` ({pcm: ArrayBuffer, level}), `position` ({item, contentIndex, ms}),
 * `playing` ({value}), `microphone-ended`.
 */
export class AudioEngine extends EventTarget {
  constructor({ frameMs = 40, jitterMs = 80 } = {}) {
    super();
    this.frameMs = frameMs;
    this.jitterMs = jitterMs;
    this.context = null;
    this.player = null;
    this.capture = null;
    this.stream = null;
    this.requests = new Map();
    this.nextRequest = 1;
    this.lastPosition = null;
  }

  /** Create the context (call from a click: autoplay rules) and load both worklets. */
  async start() {
    const Context = window.AudioContext || window.webkitAudioContext;
    if (!Context || typeof AudioWorkletNode === 'undefined') throw new AudioUnsupportedError();
    const context = new Context({ latencyHint: 'interactive' });
    this.context = context;
    const resumed = context.resume();
    await Promise.all([context.audioWorklet.addModule(CAPTURE_URL), context.audioWorklet.addModule(PLAYBACK_URL)]);
    this.player = new AudioWorkletNode(context, 'realtime-agents-playback', {
      numberOfInputs: 0, numberOfOutputs: 1, outputChannelCount: [1],
      processorOptions: { jitterMs: this.jitterMs, reportMs: 100 },
    });
    this.player.port.onmessage = (event) => this._fromPlayer(event.data);
    this.player.connect(context.destination);
    await resumed;
  }

  /** Ask for the microphone (echo cancellation, noise suppression) and wire it to the capture worklet. */
  async openMicrophone() {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      const error = new Error('getUserMedia needs a secure context');
      error.name = 'InsecureContextError';
      throw error;
    }
    const stream = await navigator.mediaDevices.getUserMedia({
      audio: { echoCancellation: true, noiseSuppression: true, autoGainControl: true, channelCount: 1 },
    });
    const context = this.context;
    if (!context) {
      // Closed while the permission prompt was open: give the microphone straight back.
      for (const track of stream.getTracks()) track.stop();
      throw new AudioClosedError();
    }
    this.stream = stream;
    const source = context.createMediaStreamSource(this.stream);
    this.capture = new AudioWorkletNode(context, 'realtime-agents-capture', {
      numberOfInputs: 1, numberOfOutputs: 1, outputChannelCount: [1],
      channelCount: 1, channelCountMode: 'explicit', channelInterpretation: 'speakers',
      processorOptions: { frameMs: this.frameMs },
    });
    this.capture.port.onmessage = (event) => this._fromCapture(event.data);
    let head = source;
    if (context.sampleRate > TARGET_RATE * 1.05) {
      // Linear resampling folds everything above 12 kHz back into the band: filter it out first.
      const filter = context.createBiquadFilter();
      filter.type = 'lowpass';
      filter.frequency.value = ANTI_ALIAS_HZ;
      filter.Q.value = Math.SQRT1_2;
      source.connect(filter);
      head = filter;
    }
    head.connect(this.capture);
    // The worklet writes nothing to its output; connecting it keeps it pulled in every browser.
    this.capture.connect(context.destination);
    for (const track of this.stream.getAudioTracks()) {
      track.addEventListener('ended', () => this.dispatchEvent(new CustomEvent('microphone-ended')));
    }
  }

  /** Whether a microphone is open. */
  get hasMicrophone() {
    return this.capture !== null;
  }

  /** Start or stop sending microphone frames; stopping with `flush` resolves after the last frame. */
  setSending(value, { flush = false } = {}) {
    if (!this.capture) return Promise.resolve();
    return this._ask(this.capture, { type: 'sending', value, flush }, flush);
  }

  /** Mute the track itself, so the browser's recording indicator shows it. */
  setMuted(muted) {
    if (this.stream) for (const track of this.stream.getAudioTracks()) track.enabled = !muted;
  }

  /** Queue a chunk of the assistant's PCM16 audio for an item. */
  play(item, contentIndex, pcm) {
    if (!this.player) return;
    this.player.port.postMessage({ type: 'chunk', item, contentIndex, pcm }, [pcm]);
  }

  /** Drop every queued sample now; resolves with the position played so far (or null). */
  async flush() {
    if (!this.player) return null;
    const reply = await this._ask(this.player, { type: 'flush' }, true);
    return reply ? reply.position : this.lastPosition;
  }

  _ask(node, message, wait) {
    if (!wait) {
      node.port.postMessage(message);
      return Promise.resolve(null);
    }
    const id = this.nextRequest++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.requests.delete(id);
        resolve(null);
      }, FLUSH_TIMEOUT_MS);
      this.requests.set(id, (reply) => {
        clearTimeout(timer);
        resolve(reply);
      });
      node.port.postMessage({ ...message, id });
    });
  }

  _answer(message) {
    const resolve = this.requests.get(message.id);
    if (!resolve) return;
    this.requests.delete(message.id);
    resolve(message);
  }

  _fromCapture(message) {
    if (message.type === 'frame') this._emit('frame', { pcm: message.pcm, level: message.level });
    else if (message.type === 'flushed') this._answer(message);
  }

  _fromPlayer(message) {
    if (message.type === 'position') {
      this.lastPosition = { item: message.item, contentIndex: message.contentIndex, ms: message.ms };
      this._emit('position', this.lastPosition);
    } else if (message.type === 'playing') {
      this._emit('playing', { value: message.value });
    } else if (message.type === 'flushed') {
      this.lastPosition = null;
      this._answer(message);
    }
  }

  _emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  /** Release the microphone and the audio hardware. */
  async close() {
    if (this.capture) {
      this.capture.port.postMessage({ type: 'close' });
      this.capture.disconnect();
      this.capture = null;
    }
    if (this.stream) {
      for (const track of this.stream.getTracks()) track.stop();
      this.stream = null;
    }
    if (this.player) {
      this.player.disconnect();
      this.player = null;
    }
    if (this.context) {
      const context = this.context;
      this.context = null;
      await context.close().catch(() => {});
    }
  }
}
