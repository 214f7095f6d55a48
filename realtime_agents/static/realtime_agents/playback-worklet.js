// AudioWorklet: plays 24 kHz PCM16 chunks through a short jitter buffer, reports each item's played position.

const SOURCE_RATE = 24000;

class PlaybackProcessor extends AudioWorkletProcessor {
  constructor(options) {
    super();
    const settings = options.processorOptions || {};
    this.step = SOURCE_RATE / sampleRate;
    this.prebuffer = Math.round((SOURCE_RATE * (settings.jitterMs ?? 80)) / 1000);
    this.reportEvery = Math.round((sampleRate * (settings.reportMs ?? 100)) / 1000);
    this.chunks = [];
    this.queued = 0;
    this.offset = 0;
    this.playing = false;
    this.waited = 0;
    this.sinceReport = 0;
    this.item = null;
    this.port.onmessage = (event) => this.command(event.data);
  }

  command(message) {
    if (message.type === 'chunk') {
      const pcm = new Int16Array(message.pcm);
      const samples = new Float32Array(pcm.length);
      for (let i = 0; i < pcm.length; i++) samples[i] = pcm[i] / 32768;
      if (samples.length === 0) return;
      this.chunks.push({ id: message.item, contentIndex: message.contentIndex, samples });
      this.queued += samples.length;
      this.waited = 0;
    } else if (message.type === 'flush') {
      // An interruption: everything queued goes at once, and the position heard so far is the answer.
      const position = this.position();
      this.chunks = [];
      this.queued = 0;
      this.offset = 0;
      this.item = null;
      this.setPlaying(false);
      this.port.postMessage({ type: 'flushed', id: message.id, position });
    }
  }

  position() {
    if (!this.item) return null;
    const head = this.chunks[0];
    const within = head && head.id === this.item.id && head.contentIndex === this.item.contentIndex
      ? Math.min(this.offset, head.samples.length) : 0;
    const ms = ((this.item.played + within) * 1000) / SOURCE_RATE;
    return { item: this.item.id, contentIndex: this.item.contentIndex, ms };
  }

  report() {
    const position = this.position();
    if (position) this.port.postMessage({ type: 'position', ...position });
    this.sinceReport = 0;
  }

  setPlaying(value) {
    if (value === this.playing) return;
    this.playing = value;
    this.port.postMessage({ type: 'playing', value });
  }

  process(inputs, outputs) {
    const out = outputs[0][0];
    if (!out) return true;
    if (!this.playing) {
      // Start when the jitter buffer is full, or when nothing more came for as long (a short tail).
      const waitedSource = this.waited * this.step;
      if (this.queued > 0 && (this.queued >= this.prebuffer || waitedSource >= this.prebuffer)) {
        this.setPlaying(true);
      } else {
        this.waited += out.length;
        return true;
      }
    }
    let k = 0;
    while (k < out.length && this.chunks.length > 0) {
      const head = this.chunks[0];
      if (!this.item || this.item.id !== head.id || this.item.contentIndex !== head.contentIndex) {
        if (this.item) this.report();
        this.item = { id: head.id, contentIndex: head.contentIndex, played: 0 };
      }
      const samples = head.samples;
      const index = Math.floor(this.offset);
      const a = samples[index];
      const next = this.chunks[1];
      const b = index + 1 < samples.length ? samples[index + 1] : next && next.id === head.id ? next.samples[0] : a;
      out[k++] = a + (b - a) * (this.offset - index);
      this.offset += this.step;
      while (this.chunks.length > 0 && this.offset >= this.chunks[0].samples.length) {
        const done = this.chunks.shift();
        this.offset -= done.samples.length;
        this.queued -= done.samples.length;
        if (this.item && this.item.id === done.id && this.item.contentIndex === done.contentIndex) {
          this.item.played += done.samples.length;
        }
      }
    }
    this.sinceReport += k;
    if (this.chunks.length === 0) {
      // Underrun or the end of the answer: report where we stopped and wait for the buffer to fill again.
      this.offset = 0;
      this.report();
      this.waited = 0;
      this.setPlaying(false);
    } else if (this.sinceReport >= this.reportEvery) {
      this.report();
    }
    return true;
  }
}

registerProcessor('realtime-agents-playback', PlaybackProcessor);
