// What the server's frames (docs/protocol.md) and the socket's reconnects and closes do to the conversation.

import { RECONNECTED, closeMessage, reconnectingMessage } from './messages.js';

/** Apply one JSON frame from the server to `conversation` (a Conversation); the caller renders. */
export function applyServerFrame(conversation, frame) {
  const view = conversation.view;
  switch (frame.type) {
    case 'ready':
      conversation.phase = 'live';
      conversation.began = true;
      conversation.agentName = frame.agent;
      view.setAgent(frame.agent);
      if (conversation.reconnected) {
        view.clearError();
        view.notice(RECONNECTED);
      }
      conversation.render();
      conversation.focusControls();
      break;
    case 'audio.item':
      conversation.audioItem = { id: frame.item_id, contentIndex: frame.content_index || 0 };
      break;
    case 'transcript.delta':
      view.delta(frame.role, frame.item_id, frame.text);
      break;
    case 'transcript.done':
      view.done(frame.role, frame.item_id, frame.text, frame.role === 'user' ? 'You' : conversation.agentName);
      if (frame.role === 'user') conversation.awaiting = true;
      break;
    case 'audio.interrupted':
      conversation.stopPlayback(frame.item_id);
      view.interrupted(frame.item_id);
      // A guardrail's stop is followed by a corrected answer; the user's own barge-in is not.
      conversation.awaiting = frame.reason === 'guardrail';
      break;
    case 'turn.end':
      conversation.awaiting = conversation.runningTools.size > 0;
      break;
    case 'agent.changed':
      conversation.agentName = frame.agent;
      view.setAgent(frame.agent);
      view.notice(`${frame.agent} takes over from ${frame.previous}.`);
      break;
    case 'tool.started':
      conversation.runningTools.add(frame.call_id);
      conversation.awaiting = true;
      view.tool(frame.call_id, frame.name, 'running');
      break;
    case 'tool.ended':
      conversation.runningTools.delete(frame.call_id);
      view.tool(frame.call_id, frame.name, frame.status);
      break;
    case 'approval.required':
      askApproval(conversation, frame);
      break;
    case 'guardrail.tripped':
      // An output trip withdraws the answer being spoken; an input trip blocked the user's words.
      if (frame.kind === 'output') {
        conversation.stopPlayback(frame.item_id);
        view.withdrawn(frame.item_id);
      } else {
        view.blocked(frame.item_id);
      }
      break;
    case 'error':
      view.showError(frame.message || 'Something went wrong.');
      break;
    default:
      break;
  }
}

function askApproval(conversation, frame) {
  conversation.approvals += 1;
  const request = { callId: frame.call_id, name: frame.name, args: frame.arguments };
  conversation.view.askApproval(request, (approve) => {
    conversation.approvals -= 1;
    const connection = conversation.connection;
    if (connection && connection.sendJson({ type: 'approval', call_id: frame.call_id, approve })) {
      conversation.awaiting = true;
    }
    conversation.render();
  });
}

/** The socket dropped and a reconnect is scheduled: what was in flight is gone with the old session. */
export function applyReconnecting(conversation, { attempt, attempts }) {
  conversation.phase = 'reconnecting';
  conversation.reconnected = true;
  conversation.awaiting = false;
  conversation.approvals = 0;
  conversation.runningTools.clear();
  conversation.stopPlayback(conversation.audioItem && conversation.audioItem.id);
  conversation.audioItem = null;
  conversation.view.clearApprovals();
  conversation.view.showError(reconnectingMessage(attempt, attempts), { retry: true });
}

/** The socket closed for good: say why (or that it ended), release the audio. */
export function applyClosed(conversation, { code, reason, gaveUp, byUs }) {
  const view = conversation.view;
  conversation.connection = null;
  // Refused before it began: back to the start, with the reason shown.
  conversation.phase = conversation.began ? 'ended' : 'idle';
  view.clearApprovals();
  const message = byUs ? closeMessage(1000, { reason: 'client_ended' }) : closeMessage(code, { gaveUp, reason });
  if (message && message.notice) view.notice(message.text);
  else if (message) view.showError(message.text, { retry: message.retry });
  conversation.releaseAudio();
}
