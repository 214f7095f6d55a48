// AudioWorklet: microphone samples at the context's rate become 24 kHz PCM16 frames of 20-50 ms.

const TARGET_RATE = 24000;

class CaptureProcessor extends AudioWorkletProcessor {
  constructor(options) {
    super();
    const frameMs = Math.min(50, Math.max(20, (options.processorOptions || {}).frameMs || 40));
    // Input samples per output sample; linear interpolation (the node before us low-passes).
    this.ratio = sampleRate / TARGET_RATE;
    this.frame = new Int16Array(Math.round((TARGET_RATE * frameMs) / 1000));
    this.filled = 0;
    this.energy = 0;
    // Where the next output sample lies, in input samples from the start of the current block
    // (-1 means between the previous block's last sample and this block's first).
    this.position = 0;
    this.previous = 0;
    this.sending = false;
    this.closed = false;
    this.port.onmessage = (event) => this.command(event.data);
  }

  command(message) {
    if (message.type === 'sending') {
      // Turning off with `flush` sends the partial frame first, so a push-to-talk commit follows all audio.
      if (!message.value && this.sending && message.flush) this.emit();
      this.sending = Boolean(message.value);
      this.filled = 0;
      this.energy = 0;
      if (message.flush) this.port.postMessage({ type: 'flushed', id: message.id });
    } else if (message.type === 'close') {
      this.closed = true;
    }
  }

  emit() {
    if (this.filled === 0) return;
    const pcm = this.frame.slice(0, this.filled);
    const level = Math.sqrt(this.energy / this.filled);
    this.filled = 0;
    this.energy = 0;
    this.port.postMessage({ type: 'frame', pcm: pcm.buffer, level }, [pcm.buffer]);
  }

  process(inputs) {
    if (this.closed) return false;
    const samples = inputs[0] && inputs[0][0];
    if (!samples || samples.length === 0) return true;
    const count = samples.length;
    let t = this.position;
    while (t < count - 1) {
      const index = Math.floor(t);
      const a = index < 0 ? this.previous : samples[index];
      const b = samples[index + 1];
      if (this.sending) {
        let value = a + (b - a) * (t - index);
        value = value > 1 ? 1 : value < -1 ? -1 : value;
        this.frame[this.filled++] = value < 0 ? value * 0x8000 : value * 0x7fff;
        this.energy += value * value;
        if (this.filled === this.frame.length) this.emit();
      }
      t += this.ratio;
    }
    this.position = t - count;
    this.previous = samples[count - 1];
    return true;
  }
}

registerProcessor('realtime-agents-capture', CaptureProcessor);
