// Push-to-talk: hold the talk button (pointer or touch) or the space bar; press and release callbacks, once each.

// Space keeps its usual meaning in text fields and on the widget's other buttons.
function elsewhere(event, button) {
  const target = event.composedPath()[0];
  if (!(target instanceof HTMLElement) || target === button) return false;
  return target.isContentEditable || /^(INPUT|TEXTAREA|SELECT|BUTTON|A)$/.test(target.tagName);
}

/**
 * Wire push-to-talk. `button` is the talk button; `keyScope` the element whose key events count
 * (the widget, so the space bar does not hijack the page). Returns a function that unwires it.
 */
export function attachPushToTalk({ button, keyScope, onPress, onRelease }) {
  let held = null;
  const press = (how) => {
    if (held !== null || button.disabled) return;
    held = how;
    button.setAttribute('aria-pressed', 'true');
    onPress();
  };
  const release = (how) => {
    if (held === null || (how !== 'any' && held !== how)) return;
    held = null;
    button.setAttribute('aria-pressed', 'false');
    onRelease();
  };
  const pointerDown = (event) => {
    if (event.button !== 0) return;
    event.preventDefault();
    button.setPointerCapture(event.pointerId);
    press('pointer');
  };
  const pointerUp = () => release('pointer');
  const keyDown = (event) => {
    if (event.code !== 'Space' || elsewhere(event, button)) return;
    event.preventDefault();
    if (!event.repeat) press('key');
  };
  const keyUp = (event) => {
    if (event.code !== 'Space' || elsewhere(event, button)) return;
    event.preventDefault();
    release('key');
  };
  // A click synthesised by Space/Enter on the button must not toggle anything else.
  const click = (event) => event.preventDefault();
  const blur = () => release('any');
  const listeners = [
    [button, 'pointerdown', pointerDown],
    [button, 'pointerup', pointerUp],
    [button, 'pointercancel', pointerUp],
    [button, 'lostpointercapture', pointerUp],
    [button, 'click', click],
    [keyScope, 'keydown', keyDown],
    [keyScope, 'keyup', keyUp],
    [window, 'blur', blur],
  ];
  for (const [target, type, handler] of listeners) target.addEventListener(type, handler);
  return () => {
    release('any');
    for (const [target, type, handler] of listeners) target.removeEventListener(type, handler);
  };
}
