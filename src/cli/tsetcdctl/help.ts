/**
 * `--help` as etcdctl 3.4 prints it: cobra's command tree rendered through etcdctl's own usage
 * template (ctlv3/help.go) and Go's text/tabwriter (minwidth 0, tabwidth 8, padding 1, padded with
 * tabs), flags sorted by name in pflag's forms (`--name=""` for strings, `--name[=false]` for bools).
 */
import type { Command } from './command.js';
import type { FlagSpecs } from './flags.js';
import { GLOBAL_FLAGS } from './flags.js';
import { goQuote } from './go-format.js';

/** The version lines of the root help (etcdctl's version.Version and APIVersion). */
export const CTL_VERSION = '3.4.23';
export const CTL_API_VERSION = '3.4';

/** A command that only groups subcommands (cobra's non-runnable parent). */
export interface Group {
  name: string;
  usage: string;
  short: string;
  /** cobra's persistent flags of the group: local in its help, inherited in its subcommands'. */
  persistent?: FlagSpecs;
}

/** etcdctl 3.4's command groups. */
export const GROUPS: Group[] = [
  { name: 'alarm', usage: 'alarm <subcommand>', short: 'Alarm related commands' },
  { name: 'auth', usage: 'auth <enable or disable>', short: 'Enable or disable authentication' },
  {
    name: 'check',
    usage: 'check <subcommand>',
    short: 'commands for checking properties of the etcd cluster',
  },
  {
    name: 'endpoint',
    usage: 'endpoint <subcommand>',
    short: 'Endpoint related commands',
    persistent: {
      cluster: { kind: 'bool', default: 'false', help: 'use all endpoints from the cluster member list' },
    },
  },
  { name: 'lease', usage: 'lease <subcommand>', short: 'Lease related commands' },
  { name: 'member', usage: 'member <subcommand>', short: 'Membership related commands' },
  { name: 'role', usage: 'role <subcommand>', short: 'Role related commands' },
  { name: 'snapshot', usage: 'snapshot <subcommand>', short: 'Manages etcd node snapshots' },
  { name: 'user', usage: 'user <subcommand>', short: 'User related commands' },
];

/**
 * Go's text/tabwriter with etcdctl's settings (minwidth 0, tabwidth 8, padding 1, padchar '\t',
 * no flags): cells end at tabs; a column's width is its widest cell in a block of consecutive lines
 * having that column, plus one, rounded up to a multiple of 8, and filled with tabs.
 */
export function goTabwriter(text: string): string {
  const lines = text.split('\n').map((l) => l.split('\t'));
  const out: string[] = [];
  const width = (s: string) => [...s].length;
  const writeLines = (l0: number, l1: number, widths: number[]) => {
    for (let i = l0; i < l1; i++) {
      const cells = lines[i]!;
      let s = '';
      for (let j = 0; j < cells.length; j++) {
        const c = cells[j]!;
        s += c;
        if (j < widths.length && j < cells.length - 1) {
          const cellw = Math.ceil(widths[j]! / 8) * 8;
          s += '\t'.repeat(Math.ceil((cellw - width(c)) / 8));
        }
      }
      out.push(s);
    }
  };
  const format = (line0: number, line1: number, widths: number[]): void => {
    const column = widths.length;
    let l0 = line0;
    for (let t = line0; t < line1; t++) {
      if (column >= lines[t]!.length - 1) continue;
      writeLines(l0, t, widths);
      l0 = t;
      let w = 0;
      for (; t < line1; t++) {
        const cells = lines[t]!;
        if (column >= cells.length - 1) break;
        w = Math.max(w, width(cells[column]!) + 1);
      }
      format(l0, t, [...widths, w]);
      l0 = t;
      t--;
    }
    writeLines(l0, line1, widths);
  };
  format(0, lines.length, []);
  return out.join('\n');
}

/** pflag's flag lines as etcdFlagUsages prints them, sorted by name, `help` added. */
export function flagUsages(specs: FlagSpecs): string {
  return Object.keys(specs)
    .sort()
    .map((name) => {
      const s = specs[name]!;
      const lead = s.short ? `  -${s.short}, --${name}` : `      --${name}`;
      const def = s.default ?? '';
      const value =
        s.kind === 'bool'
          ? `[=${def || 'false'}]`
          : s.kind === 'string'
            ? `=${goQuote(def)}`
            : s.kind === 'strings'
              ? `=[${def}]`
              : `=${def}`;
      return `${lead}${value}\t${s.help}\n`;
    })
    .join('');
}

function helpFlag(name: string): FlagSpecs {
  return { help: { kind: 'bool', short: 'h', default: 'false', help: `help for ${name}` } };
}

/** The usage template of etcdctl's help.go, before the tabwriter. */
function usageText(o: {
  name: string;
  short: string;
  useLine: string;
  root?: boolean;
  subs?: [string, string][];
  long?: string;
  local: FlagSpecs;
  inherited?: FlagSpecs;
}): string {
  let s = `NAME:\n\t${o.name} - ${o.short}\n\nUSAGE:\n\t${o.useLine}\n`;
  if (o.root) s += `\nVERSION:\n\t${CTL_VERSION}\n`;
  if (o.subs) {
    s += `\nAPI VERSION:\n\t${CTL_API_VERSION}\n`;
    s += `\n\nCOMMANDS:\n${o.subs.map(([n, d]) => `\t${n}\t${d}\n`).join('')}`;
  }
  if (o.long) {
    const lines = o.long.replace(/^[\n\t ]+|[\n\t ]+$/g, '').split('\n');
    s += `\nDESCRIPTION:\n${lines.map((l) => `\t${l}\n`).join('')}`;
  }
  s += `\nOPTIONS:\n${flagUsages(o.local)}`;
  if (o.inherited) s += `\nGLOBAL OPTIONS:\n${flagUsages(o.inherited)}`;
  return goTabwriter(`${s}\n`);
}

/** `tsetcdctl <command> --help`. */
export function commandHelp(bin: string, c: Command): string {
  const words = c.path.split(' ');
  const last = words[words.length - 1]!;
  const useLine = `${bin} ${c.usage} [flags]`;
  const persistent = GROUPS.find((g) => words.length > 1 && g.name === words[0])?.persistent ?? {};
  const local = Object.fromEntries(Object.entries(c.flags).filter(([n]) => !(n in persistent)));
  return usageText({
    name: c.path,
    short: c.short,
    useLine,
    ...(c.long !== undefined ? { long: c.long } : {}),
    local: { ...local, ...helpFlag(last) },
    inherited: { ...GLOBAL_FLAGS, ...persistent },
  });
}

/** `tsetcdctl <group> --help` (and a group without a known subcommand). */
export function groupHelp(bin: string, g: Group, commands: Command[]): string {
  const subs = commands
    .filter((c) => c.path.startsWith(`${g.name} `))
    .map((c) => [c.path.slice(g.name.length + 1), c.short] as [string, string])
    .sort((a, b) => (a[0] < b[0] ? -1 : 1));
  return usageText({
    name: g.name,
    short: g.short,
    useLine: `${bin} ${g.usage} [flags]`,
    subs,
    local: { ...g.persistent, ...helpFlag(g.name) },
    inherited: GLOBAL_FLAGS,
  });
}

/** cobra's own `help` command, listed with the others. */
const HELP_COMMAND: [string, string] = ['help', 'Help about any command'];

/** `tsetcdctl --help`: every runnable command, sorted, with the global flags as options. */
export function rootHelp(bin: string, short: string, commands: Command[]): string {
  const subs = [...commands.map((c) => [c.path, c.short] as [string, string]), HELP_COMMAND].sort((a, b) =>
    a[0] < b[0] ? -1 : 1,
  );
  return usageText({
    name: bin,
    short,
    useLine: `${bin} [flags]`,
    root: true,
    subs,
    local: { ...GLOBAL_FLAGS, ...helpFlag(bin) },
  });
}
