/** AbortSignal plumbing shared by uploads and reads. */

/** An AbortController that also fires when `parent` does; call `unlink` when done. */
export function linkedController(parent: AbortSignal): {
  controller: AbortController;
  unlink: () => void;
} {
  const controller = new AbortController();
  const onAbort = () => controller.abort(parent.reason);
  if (parent.aborted) onAbort();
  else parent.addEventListener('abort', onAbort, { once: true });
  return { controller, unlink: () => parent.removeEventListener('abort', onAbort) };
}
