/**
 * Where things are in a JSON text: a strict syntax scanner that reports the line and column of
 * the first error (JSON.parse often names none: "Unexpected end of JSON input"), and the line on
 * which each element of the top-level object's `traceEvents` array starts (so that a problem in a
 * trace event can be reported by line). It builds no values: JSON.parse does that, fast.
 */

export class JsonSyntaxError extends SyntaxError {
  constructor(readonly line: number, readonly column: number, readonly problem: string) {
    super(`line ${line}, column ${column}: ${problem}`);
  }
}

const MAX_DEPTH = 512;
const WS = new Set([0x20, 0x09, 0x0a, 0x0d]);

class Scanner {
  private i = 0;
  private line = 1;
  private lineStart = 0;
  /** Lines of the elements of the top-level `traceEvents` array. */
  readonly elementLines: number[] = [];

  constructor(private readonly s: string) {}

  fail(problem: string): never {
    throw new JsonSyntaxError(this.line, this.i - this.lineStart + 1, problem);
  }

  private ws(): void {
    const s = this.s;
    for (;;) {
      const c = s.charCodeAt(this.i);
      if (c === 0x0a) {
        this.line++;
        this.lineStart = ++this.i;
      } else if (WS.has(c)) this.i++;
      else return;
    }
  }

  private expect(ch: string, what: string): void {
    this.ws();
    if (this.i >= this.s.length) this.fail(`the text ends where ${what} was expected (the file is truncated?)`);
    if (this.s[this.i] !== ch) this.fail(`expected ${what}, found ${JSON.stringify(this.s[this.i])}`);
    this.i++;
  }

  document(): void {
    this.value(0, false);
    this.ws();
    if (this.i < this.s.length) this.fail(`unexpected ${JSON.stringify(this.s[this.i])} after the end of the document`);
  }

  private value(depth: number, top: boolean): void {
    this.ws();
    if (depth > MAX_DEPTH) this.fail(`nested more than ${MAX_DEPTH} deep`);
    if (this.i >= this.s.length) this.fail('the text ends where a value was expected (the file is truncated?)');
    const c = this.s[this.i]!;
    if (c === '{') this.object(depth, top || depth === 0);
    else if (c === '[') this.array(depth, false);
    else if (c === '"') this.string();
    else if (c === '-' || (c >= '0' && c <= '9')) this.number();
    else if (!this.literal()) this.fail(`unexpected ${JSON.stringify(c)} where a value was expected`);
  }

  private literal(): boolean {
    for (const word of ['true', 'false', 'null']) {
      if (this.s.startsWith(word, this.i)) {
        this.i += word.length;
        return true;
      }
    }
    return false;
  }

  private object(depth: number, top: boolean): void {
    this.i++;
    this.ws();
    if (this.s[this.i] === '}') {
      this.i++;
      return;
    }
    for (;;) {
      this.ws();
      if (this.i >= this.s.length) this.fail('the text ends inside an object (the file is truncated?)');
      if (this.s[this.i] !== '"') this.fail(`expected a key in double quotes, found ${JSON.stringify(this.s[this.i])}`);
      const start = this.i;
      this.string();
      const key = this.s.slice(start, this.i);
      this.expect(':', '":" after a key');
      this.ws();
      if (top && key === '"traceEvents"' && this.s[this.i] === '[') this.array(depth + 1, true);
      else this.value(depth + 1, false);
      this.ws();
      if (this.i >= this.s.length) this.fail('the text ends inside an object (the file is truncated?)');
      const next = this.s[this.i++];
      if (next === '}') return;
      if (next !== ',') {
        this.i--;
        this.fail(`expected "," or "}" after a member, found ${JSON.stringify(next)}`);
      }
    }
  }

  private array(depth: number, events: boolean): void {
    this.i++;
    this.ws();
    if (this.s[this.i] === ']') {
      this.i++;
      return;
    }
    for (;;) {
      this.ws();
      if (events) this.elementLines.push(this.line);
      this.value(depth + 1, false);
      this.ws();
      if (this.i >= this.s.length) this.fail('the text ends inside an array (the file is truncated?)');
      const next = this.s[this.i++];
      if (next === ']') return;
      if (next !== ',') {
        this.i--;
        this.fail(`expected "," or "]" after an element, found ${JSON.stringify(next)}`);
      }
    }
  }

  private string(): void {
    const s = this.s;
    let i = this.i + 1;
    for (;;) {
      const c = s.charCodeAt(i);
      if (Number.isNaN(c)) {
        this.i = i;
        this.fail('the text ends inside a string (the file is truncated?)');
      }
      if (c === 0x22) break;
      if (c < 0x20) {
        this.i = i;
        this.fail('a control character (a line break?) inside a string');
      }
      if (c === 0x5c) {
        const e = s[i + 1];
        if (e === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(s.slice(i + 2, i + 6))) {
            this.i = i;
            this.fail('a bad \\u escape in a string');
          }
          i += 6;
          continue;
        }
        if (e === undefined || !'"\\/bfnrt'.includes(e)) {
          this.i = i;
          this.fail('a bad escape in a string');
        }
        i += 2;
        continue;
      }
      i++;
    }
    this.i = i + 1;
  }

  private number(): void {
    const m = /-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/y;
    m.lastIndex = this.i;
    const r = m.exec(this.s);
    if (!r || r[0] === '-') this.fail('a malformed number');
    this.i += r[0].length;
  }
}

/**
 * Check a JSON text's syntax: JsonSyntaxError with the line and column of the first problem; else
 * the line of each element of the top-level `traceEvents` array (empty when there is none).
 */
export function scanJson(text: string): number[] {
  const s = new Scanner(text);
  s.document();
  return s.elementLines;
}
