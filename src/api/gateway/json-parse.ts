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

  private value(): JsonValue {
    this.ws();
    const c = this.text[this.pos];
    switch (c) {
      case '{':
        return this.object();
      case '[':
        return this.array();
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

  private object(): JsonValue {
    this.pos++;
    const out: { [key: string]: JsonValue } = {};
    this.ws();
    if (this.text[this.pos] === '}') {
      this.pos++;
      return out;
    }
    for (;;) {
      this.ws();
      if (this.text[this.pos] !== '"') this.fail('looking for beginning of object key string');
      const key = this.string();
      this.ws();
      if (this.text[this.pos] !== ':') this.fail('after object key');
      this.pos++;
      out[key] = this.value();
      this.ws();
      const c = this.text[this.pos];
      if (c === ',') {
        this.pos++;
        continue;
      }
      if (c === '}') {
        this.pos++;
        return out;
      }
      this.fail('after object key:value pair');
    }
  }

  private array(): JsonValue {
    this.pos++;
    const out: JsonValue[] = [];
    this.ws();
    if (this.text[this.pos] === ']') {
      this.pos++;
      return out;
    }
    for (;;) {
      out.push(this.value());
      this.ws();
      const c = this.text[this.pos];
      if (c === ',') {
        this.pos++;
        continue;
      }
      if (c === ']') {
        this.pos++;
        return out;
      }
      this.fail('after array element');
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
