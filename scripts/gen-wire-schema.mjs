// Writes the wire schema of our protos (from a protoc descriptor set) as a TypeScript table: per
// message its Go type name and, per field number, the wire type, the Go field name, and the message
// type of a message field; per gRPC method its request type. The gRPC server uses it to reject
// requests whose wire format etcd's gogoproto decoder rejects (a known field sent with another wire
// type, tag 0, a stray end-group) with etcd's error text. Run by scripts/gen-proto.sh.
// Usage: node scripts/gen-wire-schema.mjs <descriptor-set.pb> <out.ts>
import { readFileSync, writeFileSync } from 'node:fs';
import { fromBinary } from '@bufbuild/protobuf';
import { FileDescriptorSetSchema } from '@bufbuild/protobuf/wkt';

const [input, output] = process.argv.slice(2);
const set = fromBinary(FileDescriptorSetSchema, readFileSync(input));

// FieldDescriptorProto.Type numbers → wire type
const WIRE = {
  1: 1,
  2: 5,
  3: 0,
  4: 0,
  5: 0,
  6: 1,
  7: 5,
  8: 0,
  9: 2,
  10: 3,
  11: 2,
  12: 2,
  13: 0,
  14: 0,
  15: 5,
  16: 1,
  17: 0,
  18: 0,
};
const LABEL_REPEATED = 3;
const TYPE_MESSAGE = 11;

/** Go's (protoc-gen-gogo's) CamelCase of a proto field name: prev_kv → PrevKv, ID → ID. */
function goName(name) {
  return name
    .split('_')
    .filter((p) => p.length > 0)
    .map((p) => p[0].toUpperCase() + p.slice(1))
    .join('');
}

const messages = {};
const methods = {};
for (const file of set.file) {
  const pkg = file.package;
  // leading comments by descriptor path ("4,0,2,1" = message 0, field 1)
  const comments = new Map(
    (file.sourceCodeInfo?.location ?? []).map((l) => [l.path.join(','), l.leadingComments ?? '']),
  );
  const visit = (msg, prefix, goPrefix, path) => {
    const full = `${prefix}${msg.name}`;
    const go = `${goPrefix}${msg.name}`;
    const fields = {};
    for (const [i, f] of msg.field.entries()) {
      // etcd 3.4 does not know the fields our protos mark as 3.5: its decoder skips them as unknown
      if (/^\s*3\.5\b/.test(comments.get([...path, 2, i].join(',')) ?? '')) continue;
      const entry = { wire: WIRE[f.type], go: goName(f.name) };
      if (f.label === LABEL_REPEATED && [0, 1, 5].includes(entry.wire)) entry.packable = true;
      if (f.type === TYPE_MESSAGE) entry.message = f.typeName.replace(/^\./, '');
      fields[f.number] = entry;
    }
    messages[full] = { go, fields };
    for (const [i, nested] of msg.nestedType.entries()) visit(nested, `${full}.`, `${go}_`, [...path, 3, i]);
  };
  for (const [i, msg] of file.messageType.entries()) visit(msg, `${pkg}.`, '', [4, i]);
  for (const svc of file.service) {
    for (const m of svc.method) methods[`/${pkg}.${svc.name}/${m.name}`] = m.inputType.replace(/^\./, '');
  }
}

/** One entry per line: small diffs when a proto changes. */
const lines = (o) =>
  Object.entries(o)
    .map(([k, v]) => `  ${JSON.stringify(k)}: ${JSON.stringify(v)},`)
    .join('\n');
const sorted = (o) => Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
const text = `// Wire schema written by scripts/gen-wire-schema.mjs.
/** The wire shape of a field: its wire type, Go field name, packed-repeatable, message type. */
export interface WireFieldShape {
  wire: number;
  go: string;
  packable?: boolean;
  message?: string;
}

export interface WireMessageShape {
  /** The Go type name (etcd's decoder names it in errors). */
  go: string;
  fields: Record<number, WireFieldShape>;
}

export const WIRE_MESSAGES: Record<string, WireMessageShape> = {
${lines(sorted(messages))}
};

/** gRPC method path → request message type. */
export const WIRE_METHOD_INPUT: Record<string, string> = {
${lines(sorted(methods))}
};
`;
writeFileSync(output, text);
