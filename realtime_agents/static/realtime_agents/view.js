// The widget's shadow DOM: header, transcript, approval prompts, composer and controls. Text only via textContent.

import { BLOCKED, INTRO, LIVE_INTRO, STATES, WITHDRAWN, toolMessage } from './messages.js';

const STYLESHEET_URL = new URL('./widget.css', import.meta.url);
const ICONS = {
  mic: 'M12 15a3 3 0 0 0 3-3V6a3 3 0 0 0-6 0v6a3 3 0 0 0 3 3Zm5-3a5 5 0 0 1-10 0H5a7 7 0 0 0 6 6.92V21h2v-2.08A7 7 0 0 0 19 12h-2Z',
  micOff: 'M15 10.6V6a3 3 0 0 0-5.82-1.02L15 10.6ZM4.27 3 3 4.27l6 6V12a3 3 0 0 0 4.43 2.63l1.5 1.5A5 5 0 0 1 7 12H5a7 7 0 0 0 6 6.92V21h2v-2.08a6.9 6.9 0 0 0 3.38-1.38L19.73 21 21 19.73 4.27 3ZM17 12h2a6.9 6.9 0 0 1-.9 3.4l-1.47-1.47c.24-.6.37-1.25.37-1.93Z',
  stop: 'M7 7h10v10H7z',
  end: 'M12 9c-1.6 0-3.15.25-4.6.72v3.1c0 .39-.23.74-.56.9-.98.49-1.87 1.12-2.66 1.85a1 1 0 0 1-1.4 0L.29 13.08a1 1 0 0 1 0-1.41C3.34 8.78 7.46 7 12 7s8.66 1.78 11.71 4.67a1 1 0 0 1 0 1.41l-2.48 2.49a1 1 0 0 1-1.4 0 11.3 11.3 0 0 0-2.67-1.85 1 1 0 0 1-.56-.9v-3.1A15 15 0 0 0 12 9Z',
  send: 'M3.4 20.4 21 12 3.4 3.6 3.39 10.13 15 12 3.39 13.87z',
};

function icon(name) {
  const svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('focusable', 'false');
  const path = document.createElementNS('http://www.w3.org/2000/svg', 'path');
  path.setAttribute('d', ICONS[name]);
  svg.append(path);
  return svg;
}

function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === true) node.setAttribute(name, '');
    else if (value !== false && value !== null && value !== undefined) node.setAttribute(name, String(value));
  }
  node.append(...children);
  return node;
}

function button(className, label, iconName, attributes = {}) {
  const text = el('span', { class: 'label' }, label);
  return el('button', { type: 'button', class: className, ...attributes }, ...(iconName ? [icon(iconName)] : []), text);
}

/** The rendered widget; the controller calls its methods, the element wires `actions` to the controller. */
export class View {
  constructor(root, { labels, mode }, actions) {
    this.labels = labels;
    this.mode = mode;
    this.actions = actions;
    this.items = new Map();
    this.tools = new Map();
    const sheet = el('link', { rel: 'stylesheet', href: STYLESHEET_URL.href });
    this.panel = el('section', { class: 'panel', 'aria-label': labels.title, 'data-state': 'idle', hidden: true });
    // Shown once styled, so the page never flashes bare buttons (or at once if the sheet fails).
    sheet.addEventListener('load', () => { this.panel.hidden = false; });
    sheet.addEventListener('error', () => { this.panel.hidden = false; });
    this.agent = el('h2', { class: 'agent' }, labels.title);
    this.statusText = el('span', { class: 'status-text' }, STATES.idle);
    const orb = el('div', { class: 'orb', 'aria-hidden': 'true' }, el('span', { class: 'bars' }, el('i'), el('i'), el('i'), el('i')));
    this.orb = orb;
    const header = el('header', { class: 'head' }, orb, el('div', { class: 'who' }, this.agent,
      el('p', { class: 'status', role: 'status' }, el('span', { class: 'dot', 'aria-hidden': 'true' }), this.statusText)));
    this.alertText = el('p', { class: 'alert-text' });
    this.retry = button('retry', labels.retry, null);
    this.alert = el('div', { class: 'alert', role: 'alert', hidden: true }, this.alertText, this.retry);
    this.intro = el('li', { class: 'intro' }, INTRO[mode] || INTRO['hands-free']);
    this.transcript = el('ol', { class: 'transcript', role: 'log', 'aria-live': 'polite', 'aria-relevant': 'additions',
      'aria-label': 'Transcript', tabindex: '0' }, this.intro);
    this.approvals = el('div', { class: 'approvals' });
    this.input = el('input', { id: 'message', name: 'message', type: 'text', autocomplete: 'off', maxlength: '4000',
      placeholder: labels.placeholder, disabled: true });
    this.send = el('button', { type: 'submit', class: 'send', 'aria-label': labels.send, disabled: true }, icon('send'));
    this.compose = el('form', { class: 'compose' },
      el('label', { class: 'sr-only', for: 'message' }, labels.placeholder), this.input, this.send);
    this.start = button('start primary', labels.start, 'mic');
    this.talk = button('talk primary', labels.talk, 'mic', { 'aria-pressed': 'false', 'aria-describedby': 'talk-hint', hidden: true });
    this.mute = button('mute', labels.mute, 'mic', { 'aria-pressed': 'false', hidden: true });
    this.stop = button('stop', labels.stop, 'stop', { hidden: true });
    this.end = button('end danger', labels.end, 'end', { hidden: true });
    const hint = el('p', { id: 'talk-hint', class: 'sr-only' }, 'Hold the button or the space bar while you speak.');
    this.controls = el('div', { class: 'controls' }, this.start, this.talk, this.mute, this.stop, this.end);
    this.panel.append(header, this.alert, this.transcript, this.approvals, this.compose, this.controls, hint);
    root.append(sheet, this.panel);
    this._wire();
  }

  _wire() {
    const { actions } = this;
    this.start.addEventListener('click', () => actions.start());
    this.end.addEventListener('click', () => actions.end());
    this.stop.addEventListener('click', () => actions.stop());
    this.mute.addEventListener('click', () => actions.mute());
    this.retry.addEventListener('click', () => actions.retry());
    this.compose.addEventListener('submit', (event) => {
      event.preventDefault();
      const text = this.input.value.trim();
      if (!text) return;
      this.input.value = '';
      actions.send(text);
    });
    this.panel.addEventListener('keydown', (event) => {
      if (event.key === 'Escape') actions.stop();
    });
  }

  /** Show the controls and status for a snapshot of the conversation. */
  render({ phase, state, muted, microphone, speaking }) {
    const live = phase === 'live';
    const inCall = live || phase === 'connecting' || phase === 'reconnecting';
    this.panel.dataset.state = state;
    this.intro.textContent = (inCall ? LIVE_INTRO : INTRO)[this.mode] || INTRO['hands-free'];
    this.statusText.textContent = STATES[state] || state;
    this.start.hidden = inCall;
    this.end.hidden = !inCall;
    this.talk.hidden = !inCall || this.mode !== 'push-to-talk' || !microphone;
    this.talk.disabled = !live;
    this.mute.hidden = !inCall || this.mode === 'push-to-talk' || !microphone;
    if (this.mute.getAttribute('aria-pressed') !== String(Boolean(muted))) {
      this.mute.setAttribute('aria-pressed', String(Boolean(muted)));
      this.mute.querySelector('.label').textContent = muted ? this.labels.unmute : this.labels.mute;
      this.mute.replaceChild(icon(muted ? 'micOff' : 'mic'), this.mute.querySelector('svg'));
    }
    this.stop.hidden = !(live && speaking);
    this.input.disabled = !live;
    this.send.disabled = !live;
  }

  /** The microphone level (0..1) drives the orb while listening. */
  level(value) {
    this.orb.style.setProperty('--level', Math.min(1, Math.sqrt(value) * 2).toFixed(3));
  }

  setAgent(name) {
    this.agent.textContent = name || this.labels.title;
  }

  /** Move the focus to a control, unless the user already focused something else in the widget. */
  focus(which) {
    const target = { start: this.start, talk: this.talk, mute: this.mute, input: this.input }[which];
    const active = this.panel.getRootNode().activeElement;
    if (active && active !== this.start && active !== this.end) return;
    if (target && !target.hidden && !target.disabled) target.focus();
  }

  showError(text, { retry = false } = {}) {
    this.alertText.textContent = text;
    this.retry.hidden = !retry;
    this.alert.hidden = false;
  }

  clearError() {
    this.alert.hidden = true;
    this.alertText.textContent = '';
  }

  notice(text) {
    this._add(el('li', { class: 'notice' }, text));
  }

  /** A live transcript fragment; shown at once but announced only when final. */
  delta(role, itemId, text) {
    const entry = this._message(role, itemId);
    if (entry.done) return;
    entry.partial.textContent += text;
    this._scroll();
  }

  done(role, itemId, text, speaker) {
    const entry = this._message(role, itemId);
    if (entry.node.classList.contains('withdrawn')) return;  // a late final must not bring it back
    entry.done = true;
    entry.partial.remove();
    entry.final.replaceChildren(el('span', { class: 'sr-only' }, `${speaker}: `), text);
    this._scroll();
  }

  /** The user's typed message, final at once. */
  typed(text, speaker) {
    this.done('user', `typed-${this.items.size}`, text, speaker);
  }

  interrupted(itemId) {
    const entry = this.items.get(itemId);
    if (entry) entry.node.classList.add('interrupted');
  }

  /** An input guardrail blocked the user's words: say so in their bubble, if it is shown. */
  blocked(itemId) {
    const entry = this.items.get(itemId);
    if (!entry) return;
    entry.done = true;
    entry.node.classList.add('withdrawn');
    entry.partial.remove();
    entry.final.replaceChildren(BLOCKED);
  }

  withdrawn(itemId) {
    const entry = this._message('assistant', itemId);
    entry.done = true;
    entry.node.classList.add('withdrawn');
    entry.partial.remove();
    entry.final.replaceChildren(WITHDRAWN);
  }

  _message(role, itemId) {
    let entry = this.items.get(itemId);
    if (!entry) {
      const partial = el('span', { class: 'partial', 'aria-hidden': 'true' });
      const final = el('span', { class: 'final' });
      const node = el('li', { class: `msg ${role === 'user' ? 'user' : 'assistant'}`, 'data-item': itemId }, final, partial);
      entry = { node, partial, final, done: false };
      this.items.set(itemId, entry);
      this._add(node);
    }
    return entry;
  }

  tool(callId, name, status) {
    let node = this.tools.get(callId);
    if (!node) {
      node = el('li', { class: 'tool', 'data-call': callId });
      this.tools.set(callId, node);
      this._add(node);
    }
    node.dataset.status = status;
    node.textContent = toolMessage(name, status);
  }

  /** Ask the user to allow a tool call; `answer(approve)` runs once. */
  askApproval({ callId, name, args }, answer) {
    const titleId = `approval-${this.approvals.childElementCount}-${callId.replace(/[^\w-]/g, '')}`;
    const allow = button('allow primary', this.labels.allow, null);
    const deny = button('deny', this.labels.deny, null);
    const title = el('p', { id: titleId }, 'The assistant wants to use ', el('strong', {}, name), '.');
    const card = el('div', { class: 'approval', role: 'group', 'aria-labelledby': titleId, 'data-call': callId }, title);
    if (args !== undefined) card.append(el('pre', { class: 'args' }, JSON.stringify(args, null, 2)));
    card.append(el('div', { class: 'actions' }, allow, deny));
    const decide = (approve) => {
      card.remove();
      answer(approve);
    };
    allow.addEventListener('click', () => decide(true));
    deny.addEventListener('click', () => decide(false));
    this.approvals.append(card);
    // Keyboard users land on the decision, unless they are typing.
    if (this.panel.getRootNode().activeElement !== this.input) allow.focus();
  }

  clearApprovals() {
    this.approvals.replaceChildren();
  }

  _add(node) {
    this.intro.remove();
    this.transcript.append(node);
    this._scroll();
  }

  _scroll() {
    this.transcript.scrollTop = this.transcript.scrollHeight;
  }
}
