/**
 * Every tsetcdctl command in one table, and how a command line finds its command: the longest
 * command path matching the leading positional words, as cobra does.
 */
import { AUTH_COMMANDS } from './auth-commands.js';
import { CHECK_COMMANDS } from './check-commands.js';
import type { Command } from './command.js';
import { CORE_COMMANDS } from './commands.js';
import { type FlagSpecs, GLOBAL_FLAGS, parseArgs } from './flags.js';
import { GROUPS, type Group } from './help.js';
import { MIRROR_COMMAND } from './mirror-command.js';
import { SNAPSHOT_COMMANDS } from './snapshot-commands.js';
import { WATCH_COMMAND } from './watch-command.js';

/** All commands. */
export const COMMANDS: Command[] = [
  ...CORE_COMMANDS,
  ...AUTH_COMMANDS,
  ...SNAPSHOT_COMMANDS,
  ...CHECK_COMMANDS,
  MIRROR_COMMAND,
  WATCH_COMMAND,
];

const ALL_FLAGS: FlagSpecs = Object.assign(
  { help: { kind: 'bool', short: 'h', help: 'help' } } as FlagSpecs,
  GLOBAL_FLAGS,
  ...COMMANDS.map((c) => c.flags),
);

/** The positional words of argv (flag values skipped: every command's flags agree on their kinds). */
export function leadingWords(argv: string[]): string[] {
  try {
    return parseArgs(argv, ALL_FLAGS).args;
  } catch {
    return argv.filter((a) => !a.startsWith('-'));
  }
}

/** The longest command path matching the leading words of argv. */
export function findCommand(argv: string[]): Command | undefined {
  const words = leadingWords(argv).slice(0, 2);
  return (
    COMMANDS.find((c) => words.length >= 2 && c.path === `${words[0]} ${words[1]}`) ??
    COMMANDS.find((c) => c.path === words[0])
  );
}

/** The command group named by the first word, if any. */
export function findGroup(argv: string[]): Group | undefined {
  const first = leadingWords(argv)[0];
  return GROUPS.find((g) => g.name === first);
}
