/**
 * Structured JSON logs in the shape of etcd's zap logs ({"level":"info","ts":"...","msg":"..."}),
 * written to stderr as etcd writes them. Layers take the narrow `Logger` interface so tests can
 * pass a silent or capturing one.
 */
import pino from 'pino';

export interface Logger {
  debug(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'panic' | 'fatal';

export function createLogger(level: LogLevel, name: string): Logger {
  return pino(
    {
      level: level === 'panic' ? 'fatal' : level,
      base: { name },
      messageKey: 'msg',
      timestamp: () => `,"ts":"${new Date().toISOString()}"`,
      formatters: { level: (label) => ({ level: label }) },
    },
    pino.destination({ fd: 2, sync: false }),
  );
}

export const silentLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
};
