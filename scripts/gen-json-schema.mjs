// Writes the JSON schema of our protos (from a protoc descriptor set) as a TypeScript table for the
// JSON gateway: per message its fields in declaration order with proto name, JSON name, number,
// type, repetition, oneof membership and referenced type; per enum its value names. The gateway uses
// it to translate between grpc-gateway's JSON (etcd 3.4: jsonpb with OrigName) and ts-proto objects.
// Fields our protos mark as 3.5 or 3.6 are left out, as etcd 3.4's gateway does not know them.
// Run by scripts/gen-proto.sh. Usage: node scripts/gen-json-schema.mjs <descriptor-set.pb> <out.ts>
import { readFileSync, writeFileSync } from 'node:fs';
import { fromBinary } from '@bufbuild/protobuf';
import { FileDescriptorSetSchema } from '@bufbuild/protobuf/wkt';

const [input, output] = process.argv.slice(2);
const set = fromBinary(FileDescriptorSetSchema, readFileSync(input));

const LABEL_REPEATED = 3;

const messages = {};
const enums = {};
const methods = {};
for (const file of set.file) {
  const pkg = file.package;
  const comments = new Map(
    (file.sourceCodeInfo?.location ?? []).map((l) => [l.path.join(','), l.leadingComments ?? '']),
  );
  const visitEnum = (en, prefix) => {
    enums[`${prefix}${en.name}`] = Object.fromEntries(en.value.map((v) => [v.number, v.name]));
  };
  const visit = (msg, prefix, path) => {
    const full = `${prefix}${msg.name}`;
    const fields = [];
    for (const [i, f] of msg.field.entries()) {
      if (/^\s*3\.[56]\b/.test(comments.get([...path, 2, i].join(',')) ?? '')) continue;
      // [proto name, JSON name, number, descriptor type, repeated, oneof member, message/enum type]
      const entry = [f.name, f.jsonName, f.number, f.type, f.label === LABEL_REPEATED ? 1 : 0];
      entry.push(Object.hasOwn(f, 'oneofIndex') && !f.proto3Optional ? 1 : 0);
      if (f.typeName) entry.push(f.typeName.replace(/^\./, ''));
      fields.push(entry);
    }
    messages[full] = fields;
    for (const [i, nested] of msg.nestedType.entries()) visit(nested, `${full}.`, [...path, 3, i]);
    for (const en of msg.enumType) visitEnum(en, `${full}.`);
  };
  for (const [i, msg] of file.messageType.entries()) visit(msg, `${pkg}.`, [4, i]);
  for (const en of file.enumType) visitEnum(en, `${pkg}.`);
  for (const svc of file.service) {
    for (const m of svc.method) {
      methods[`/${pkg}.${svc.name}/${m.name}`] = [
        m.inputType.replace(/^\./, ''),
        m.outputType.replace(/^\./, ''),
      ];
    }
  }
}

const lines = (o) =>
  Object.entries(o)
    .map(([k, v]) => `  ${JSON.stringify(k)}: ${JSON.stringify(v)},`)
    .join('\n');
const sorted = (o) => Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
const text = `// JSON schema written by scripts/gen-json-schema.mjs.
/**
 * One field: [proto name, JSON (lowerCamel) name, field number, FieldDescriptorProto type number
 * (1 double ... 18 sint64), repeated (1), oneof member (1), message or enum type].
 */
export type JsonField = [string, string, number, number, 0 | 1, 0 | 1, string?];

/** Message type → its fields in declaration order. */
export const JSON_MESSAGES: Record<string, JsonField[]> = {
${lines(sorted(messages))}
};

/** Enum type → value number → name. */
export const JSON_ENUMS: Record<string, Record<number, string>> = {
${lines(sorted(enums))}
};

/** gRPC method path → [request type, response type]. */
export const JSON_METHODS: Record<string, [string, string]> = {
${lines(sorted(methods))}
};
`;
writeFileSync(output, text);
