// The widget's words: default labels (overridable with data-label-* attributes), states and errors.

export const LABELS = Object.freeze({
  title: 'Voice assistant',
  start: 'Start conversation',
  end: 'End',
  mute: 'Mute',
  unmute: 'Unmute',
  talk: 'Hold to talk',
  stop: 'Stop',
  send: 'Send',
  placeholder: 'Type a message',
  allow: 'Allow',
  deny: 'Deny',
  retry: 'Try again',
});

export const STATES = Object.freeze({
  idle: 'Ready when you are',
  connecting: 'Connecting…',
  listening: 'Listening',
  holdToTalk: 'Hold to talk',
  muted: 'Muted',
  textOnly: 'Type your message',
  thinking: 'Thinking…',
  speaking: 'Speaking',
  approval: 'Waiting for your answer',
  reconnecting: 'Reconnecting…',
  ended: 'Conversation ended',
});

// Before the conversation starts, and once it is live (until the first words).
export const INTRO = {
  'hands-free': 'Press start and speak naturally; you can interrupt at any time. You can also type.',
  'push-to-talk': 'Press start, then hold the talk button or the space bar while you speak. You can also type.',
};
export const LIVE_INTRO = {
  'hands-free': 'Go ahead, the assistant is listening. Speak naturally, or type below.',
  'push-to-talk': 'Hold the talk button or the space bar while you speak, or type below.',
};

// Close codes of docs/protocol.md, as the visitor should read them; `retry` offers a button.
const CLOSES = {
  4400: { text: 'The conversation was closed after too many invalid messages.', retry: true },
  4403: { text: 'This website is not allowed to use this assistant (origin refused).', retry: false },
  4404: { text: 'This assistant is not available right now.', retry: false },
  4408: { text: 'The conversation reached its time limit.', retry: true },
  4429: { text: 'The assistant is busy right now. Please try again in a minute.', retry: true },
  4500: { text: 'The assistant is not set up correctly. Please try again later.', retry: true },
  4502: { text: 'The assistant lost its connection to the voice service.', retry: true },
  4503: { text: 'The assistant is not set up correctly. Please try again later.', retry: true },
};

const END_REASONS = {
  client_ended: 'Conversation ended.',
  upstream_closed: 'The assistant ended the conversation.',
  max_duration: 'The conversation reached its time limit.',
};

/** What to show when the socket closed with `code` (null when nothing needs saying). */
export function closeMessage(code, { gaveUp = false, reason = '' } = {}) {
  if (gaveUp) return { text: 'The connection was lost and could not be restored.', retry: true };
  if (CLOSES[code]) return CLOSES[code];
  if (code === 1000) return END_REASONS[reason] ? { text: END_REASONS[reason], retry: false, notice: true } : null;
  return { text: `The connection closed unexpectedly (code ${code}).`, retry: true };
}

/** What to show when the microphone cannot be opened (the conversation goes on by text). */
export function microphoneMessage(error) {
  const name = error && error.name;
  if (name === 'NotAllowedError' || name === 'SecurityError' || name === 'PermissionDeniedError') {
    return 'Microphone access was denied. Allow the microphone for this site in your browser settings, ' +
      'or type your message below.';
  }
  if (name === 'NotFoundError' || name === 'OverconstrainedError' || name === 'DevicesNotFoundError') {
    return 'No microphone was found. You can type your message below.';
  }
  if (name === 'NotReadableError' || name === 'AbortError') {
    return 'The microphone could not be started (is another application using it?). You can type below.';
  }
  if (name === 'InsecureContextError') {
    return 'The microphone needs a secure (https) page. You can type your message below.';
  }
  return 'The microphone could not be opened. You can type your message below.';
}

export const AUDIO_UNSUPPORTED = 'This browser cannot play the assistant\'s voice. You can still type.';
export const RECONNECTED = 'Reconnected. This is a new conversation: the assistant does not remember the earlier one.';
export const SHORT_PRESS = 'Keep holding the talk button (or the space bar) while you speak.';
export const WITHDRAWN = 'This answer was withdrawn.';
export const BLOCKED = 'This message was blocked.';

/** "Connection lost. Reconnecting (attempt 2 of 5)…" */
export function reconnectingMessage(attempt, attempts) {
  return `Connection lost. Reconnecting (attempt ${attempt} of ${attempts})…`;
}

/** A tool's activity line: running, or how it ended. */
export function toolMessage(name, status) {
  const done = {
    running: `Using ${name}…`,
    ok: `Used ${name}`,
    error: `${name} failed`,
    timeout: `${name} took too long`,
    rejected: `${name} was declined`,
    invalid_arguments: `${name} could not run (invalid request)`,
    not_found: `${name} is not available`,
  };
  return done[status] || `${name}: ${status}`;
}
