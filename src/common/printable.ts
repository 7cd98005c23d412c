/**
 * Text from elsewhere (a client's name, a daemon's error message, a platform file's model string)
 * made safe for a terminal, a log or a web page. One rule for every place that shows such text:
 * these code points become visible escapes, so nobody can move the cursor, retitle the window,
 * rewrite a line or reorder what the reader sees by sending us a string:
 *  - C0 controls (ESC, BEL, CR, backspace...) and DEL;
 *  - C1 controls U+0080-U+009F (U+009B is a one-byte CSI, U+009D a one-byte OSC);
 *  - bidirectional overrides, embeddings, isolates and marks (U+061C, U+200E, U+200F,
 *    U+202A-U+202E, U+2066-U+2069: the "Trojan Source" reordering);
 *  - invisible characters that hide or fake text (U+200B-U+200D, U+2060-U+2065, U+FEFF,
 *    U+FFF9-U+FFFB), the line and paragraph separators U+2028 and U+2029, and lone surrogates.
 */

/** The code points `printable` escapes, as inclusive ranges (newline and tab: see the mode). */
const UNSAFE_RANGES: readonly (readonly [number, number])[] = [
  [0x00, 0x1f], [0x7f, 0x9f], [0x061c, 0x061c], [0x200b, 0x200f], [0x2028, 0x202e], [0x2060, 0x2069], [0xfeff, 0xfeff], [0xfff9, 0xfffb],
];

const isSurrogate = (c: number): boolean => c >= 0xd800 && c <= 0xdfff;

/** Whether the UTF-16 unit at `i` must be escaped (a surrogate only when it is not half of a pair). */
function unsafeAt(text: string, i: number, mode: PrintableMode): boolean {
  const c = text.charCodeAt(i);
  if (c >= 0x20 && c < 0x7f) return false;
  if (c === 0x0a || c === 0x09) return mode === 'line';
  if (isSurrogate(c)) {
    const high = c < 0xdc00;
    const other = text.charCodeAt(high ? i + 1 : i - 1);
    return !(high ? other >= 0xdc00 && other <= 0xdfff : other >= 0xd800 && other < 0xdc00);
  }
  return UNSAFE_RANGES.some(([lo, hi]) => c >= lo && c <= hi);
}

const hex = (c: number, digits: number): string => c.toString(16).padStart(digits, '0');

/**
 * Where `printable` is used: `text` (the default) keeps newlines and tabs (multi-line output);
 * `line` escapes them too (one field of a table or a log line, which must not start a line of its
 * own).
 */
export type PrintableMode = 'text' | 'line';

/**
 * `text` with every unsafe code point written as a visible escape: a C0 control as `\x1b`, any
 * other as `\u009b`, `\u202e`. JSON text stays valid JSON of the same value: JSON.stringify
 * already escapes C0 controls, and what it leaves raw (DEL, C1, bidi controls) only occurs inside
 * strings, where `\uXXXX` is that same character.
 */
export function printable(text: string, mode: PrintableMode = 'text'): string {
  let out = '';
  let from = 0;
  for (let i = 0; i < text.length; i++) {
    if (!unsafeAt(text, i, mode)) continue;
    const c = text.charCodeAt(i);
    out += `${text.slice(from, i)}${c < 0x20 ? `\\x${hex(c, 2)}` : `\\u${hex(c, 4)}`}`;
    from = i + 1;
  }
  return from === 0 ? text : out + text.slice(from);
}

/** The first unsafe code point of `text` and where it is, for an error message; null when there is none. */
export function firstUnsafe(text: string): { index: number; codePoint: string } | null {
  for (let i = 0; i < text.length; i++) {
    if (unsafeAt(text, i, 'line')) return { index: i, codePoint: `U+${hex(text.charCodeAt(i), 4).toUpperCase()}` };
  }
  return null;
}
