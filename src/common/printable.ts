/**
 * Text from elsewhere (a daemon's error message, a client's name) made safe for a terminal: control
 * characters (C0, DEL, C1: ANSI and OSC escape sequences among them) become visible escapes, so
 * nobody can move the cursor, retitle the window or hide text by sending us a message.
 */
export function printable(text: string, keepNewlines = true): string {
  let out = '';
  for (const ch of text) {
    const c = ch.codePointAt(0)!;
    if ((c === 0x0a || c === 0x09) && keepNewlines) out += ch;
    else if (c < 0x20 || c === 0x7f || (c >= 0x80 && c < 0xa0)) out += c <= 0xff ? `\\x${c.toString(16).padStart(2, '0')}` : ch;
    else out += ch;
  }
  return out;
}
