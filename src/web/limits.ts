/** What the dashboard allows its viewers (docs/protocol.md, "Limits"). */

/** Bytes a viewer may have unread before it gets no more updates, and the time it may stay so. */
export const SLOW_VIEWER_BYTES = 4 * 1024 * 1024;
export const SLOW_VIEWER_MS = 10_000;
/** Largest message a browser may send us (it needs to send none). */
export const WS_MAX_PAYLOAD = 4096;
