/**
 * A JSON reader that behaves as Go's encoding/json Decoder where the gateway can be told apart:
 * it reads one value at a time from a body that may hold several (a watch stream's requests), keeps
 * numbers as their text (64-bit ids do not fit a JavaScript number), and reports syntax errors with
 * Go's texts ("invalid character 'x' looking for beginning of value", "unexpected EOF").
 */

/** A JSON number, kept as written. */
export class JsonNumber {
  constructor(readonly text: string) {}
}

export type JsonValue = null | boolean | string | JsonNumber | JsonValue[] | { [key: string]: JsonValue };

export class JsonSyntaxError extends Error {}

/** Go's encoding/json maxNestingDepth: one more open bracket is a syntax error. */
export const JSON_DEPTH_MAX = 10_000;

/** Reads consecutive JSON values from a text. */
export class JsonReader {
  private pos = 0;
  constructor(private readonly text: string) {}

  /** The next value, or undefined at the end of the input (Go's io.EOF). */
  next(): JsonValue | undefined {
    this.ws();
    if (this.pos >= this.text.length) return undefined;
    return this.value();
  }

  private ws(): void {
    while (this.pos < this.text.length) {
      const c = this.text.charCodeAt(this.pos);
      if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) this.pos++;
      else break;
    }
  }

  private fail(context: string): never {
    if (this.pos >= this.text.length) throw new JsonSyntaxError('unexpected EOF');
    throw new JsonSyntaxError(`invalid character ${quoteChar(this.text[this.pos] as string)} ${context}`);
  }

  /**
   * One value, without recursion: containers live on an explicit stack, so nesting is bounded by
   * Go's limit (10000, then "exceeded max depth") and never by the JavaScript call stack.
   */
  private value(): JsonValue {
    type Frame =
      | { kind: 'array'; out: JsonValue[] }
      | { kind: 'object'; out: { [key: string]: JsonValue }; key: string };
    const stack: Frame[] = [];
    let v: JsonValue;
    for (;;) {
      // Read a value: a scalar, or open a container (and read its first member next round).
      this.ws();
      const c = this.text[this.pos];
      if (c === '{' || c === '[') {
        if (stack.length >= JSON_DEPTH_MAX) this.fail('exceeded max depth');
        this.pos++;
        this.ws();
        if (c === '[') {
          if (this.text[this.pos] === ']') {
            this.pos++;
            v = [];
          } else {
            stack.push({ kind: 'array', out: [] });
            continue;
          }
        } else if (this.text[this.pos] === '}') {
          this.pos++;
          v = {};
        } else {
          stack.push({ kind: 'object', out: {}, key: this.objectKey() });
          continue;
        }
      } else {
        v = this.scalar(c);
      }
      // Place it in its container; close every container that ends here.
      for (;;) {
        const top = stack.at(-1);
        if (top === undefined) return v;
        this.ws();
        const d = this.text[this.pos];
        if (top.kind === 'array') {
          top.out.push(v);
          if (d === ',') {
            this.pos++;
            break;
          }
          if (d !== ']') this.fail('after array element');
        } else {
          top.out[top.key] = v;
          if (d === ',') {
            this.pos++;
            this.ws();
            top.key = this.objectKey();
            break;
          }
          if (d !== '}') this.fail('after object key:value pair');
        }
        this.pos++;
        stack.pop();
        v = top.out;
      }
    }
  }

  /** An object key and its colon (the reader stands on the key's opening quote, or fails). */
  private objectKey(): string {
    if (this.text[this.pos] !== '"') this.fail('looking for beginning of object key string');
    const key = this.string();
    this.ws();
    if (this.text[this.pos] !== ':') this.fail('after object key');
    this.pos++;
    return key;
  }

  private scalar(c: string | undefined): JsonValue {
    switch (c) {
      case '"':
        return this.string();
      case 't':
        return this.literal('true', true);
      case 'f':
        return this.literal('false', false);
      case 'n':
        return this.literal('null', null);
      default:
        if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) return this.number();
        return this.fail('looking for beginning of value');
    }
  }

  private string(): string {
    const start = this.pos;
    this.pos++;
    for (;;) {
      if (this.pos >= this.text.length) this.fail('in string literal');
      const ch = this.text.charCodeAt(this.pos);
      if (ch === 0x22) {
        this.pos++;
        break;
      }
      if (ch < 0x20) this.fail('in string literal');
      if (ch === 0x5c) {
        this.pos++;
        const e = this.text[this.pos];
        if (e === 'u') {
          for (let i = 1; i <= 4; i++) {
            this.pos++;
            if (!/[0-9a-fA-F]/.test(this.text[this.pos] ?? ''))
              this.fail('in \\u hexadecimal character escape');
          }
        } else if (e === undefined || !'"\\/bfnrt'.includes(e)) {
          this.fail('in string escape code');
        }
      }
      this.pos++;
    }
    return JSON.parse(this.text.slice(start, this.pos)) as string;
  }

  private literal(word: string, value: JsonValue): JsonValue {
    for (let i = 0; i < word.length; i++) {
      if (this.text[this.pos] !== word[i])
        this.fail(`in literal ${word} (expecting ${quoteChar(word[i] as string)})`);
      this.pos++;
    }
    return value;
  }

  private number(): JsonValue {
    const m = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(this.text.slice(this.pos));
    if (!m || m[0] === '-') {
      this.pos += m ? 1 : 0;
      this.fail('in numeric literal');
    }
    this.pos += m[0].length;
    return new JsonNumber(m[0]);
  }
}

/** Go's quoteChar: 'x', with ' and " escaped and control characters as Go quotes them. */
function quoteChar(c: string): string {
  if (c === "'") return `'\\''`;
  if (c === '"') return `'"'`;
  const q = JSON.stringify(c);
  return `'${q.slice(1, -1)}'`;
}
