// <realtime-agent-widget data-channel="slug">: the voice widget element (shadow DOM, configured by data-* attributes).

import { Conversation } from './controller.js';
import { LABELS } from './messages.js';
import { attachPushToTalk } from './ptt.js';
import { View } from './view.js';

function bounded(value, fallback, low, high) {
  const number = Number.parseInt(value, 10);
  return Number.isFinite(number) ? Math.min(high, Math.max(low, number)) : fallback;
}

/** The element's configuration from its data-* attributes (see docs/widget.md). */
export function readConfig(element) {
  const data = element.dataset;
  const labels = { ...LABELS };
  for (const name of Object.keys(LABELS)) {
    const value = data[`label${name[0].toUpperCase()}${name.slice(1)}`];
    if (value) labels[name] = value;
  }
  const channel = data.channel || '';
  return {
    channel,
    url: data.url || `/ws/realtime/${encodeURIComponent(channel)}/`,
    mode: data.mode === 'push-to-talk' ? 'push-to-talk' : 'hands-free',
    labels,
    frameMs: bounded(data.frameMs, 40, 20, 50),
    jitterMs: bounded(data.jitterMs, 80, 0, 1000),
  };
}

export class RealtimeAgentWidget extends HTMLElement {
  connectedCallback() {
    if (this.conversation) return;
    const config = readConfig(this);
    const root = this.shadowRoot || this.attachShadow({ mode: 'open' });
    root.replaceChildren();
    const conversation = new Conversation({
      config,
      view: null,
      onState: (state) => this.dispatchEvent(new CustomEvent('realtime-agent:state', {
        detail: { state }, bubbles: true, composed: true,
      })),
    });
    const view = new View(root, config, {
      start: () => conversation.start(),
      end: () => conversation.end(),
      stop: () => conversation.interrupt(),
      mute: () => conversation.toggleMute(),
      send: (text) => conversation.send(text),
      retry: () => conversation.retry(),
    });
    conversation.view = view;
    this.conversation = conversation;
    if (config.mode === 'push-to-talk') {
      this.detachPushToTalk = attachPushToTalk({
        button: view.talk, keyScope: view.panel,
        onPress: () => conversation.talkStart(), onRelease: () => conversation.talkEnd(),
      });
    }
    conversation.render();
  }

  disconnectedCallback() {
    if (this.detachPushToTalk) this.detachPushToTalk();
    this.detachPushToTalk = null;
    if (this.conversation) this.conversation.close();
    this.conversation = null;
  }

  /** Start a conversation from page code (call it from a click handler). */
  start() {
    return this.conversation ? this.conversation.start() : Promise.resolve();
  }

  /** End the conversation from page code. */
  end() {
    return this.conversation ? this.conversation.end() : Promise.resolve();
  }

  /** The current state: idle, connecting, listening, thinking, speaking, ... */
  get state() {
    return this.conversation ? this.conversation.state() : 'idle';
  }
}

if (!customElements.get('realtime-agent-widget')) customElements.define('realtime-agent-widget', RealtimeAgentWidget);
