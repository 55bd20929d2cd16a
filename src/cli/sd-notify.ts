/**
 * systemd's readiness protocol (sd_notify) for `Type=notify` units, as etcd uses it: `READY=1` once
 * the member serves clients (after it has joined its cluster), `STOPPING=1` when it shuts down.
 *
 * How the datagram is sent, and why: the protocol is one datagram on the AF_UNIX SOCK_DGRAM socket
 * named by $NOTIFY_SOCKET, and Node has no unix datagram sockets. The choices were a native addon
 * (`unix-dgram`, `sd-notify` on npm: compiled at install with node-gyp, which wants a compiler and
 * Node's headers on every machine) or Debian's own `systemd-notify` binary, which ships with systemd
 * wherever a unit can run at all. We run `systemd-notify --pid=<our pid> STATE`: with `--pid` it
 * sends our pid in the datagram's SCM_CREDENTIALS (and `MAINPID=`), so systemd attributes the
 * message to the service's main process and the default `NotifyAccess=main` accepts it. Forging
 * the credentials needs CAP_SYS_ADMIN, which seed 002's unit (run as root) has; a unit with a
 * non-root `User=` needs `NotifyAccess=all`, or systemd drops the message as coming from another
 * pid (systemd-notify falls back to its own pid then). `--no-block` skips systemd-notify's
 * barrier: the barrier exists so that systemd can still find the sender's cgroup, and the sender
 * named here is this process, which is still running.
 */
import { execFile } from 'node:child_process';

/** How long one systemd-notify run may take (it waits for systemd's barrier) before it is killed. */
export const SD_NOTIFY_TIMEOUT_MS = 10_000;

/** The binary that sends the datagram; $TSETCD_SYSTEMD_NOTIFY overrides it (tests). */
export const SYSTEMD_NOTIFY_BIN = 'systemd-notify';

/** Sends sd_notify states for this process. */
export interface SdNotifier {
  /**
   * Sends one state (`READY=1`, `STOPPING=1`, `STATUS=...`). Resolves when sent; rejects with
   * systemd-notify's message when it could not be.
   */
  notify(state: string): Promise<void>;
}

/**
 * The notifier for this process's environment: undefined when $NOTIFY_SOCKET is unset (not run by
 * systemd as `Type=notify`), as sd_notify(3) does nothing then.
 */
export function sdNotifierFromEnv(env: NodeJS.ProcessEnv, pid = process.pid): SdNotifier | undefined {
  const socket = env.NOTIFY_SOCKET;
  if (socket === undefined || socket === '') return undefined;
  const bin = env.TSETCD_SYSTEMD_NOTIFY || SYSTEMD_NOTIFY_BIN;
  return {
    notify: (state) =>
      new Promise((resolve, reject) => {
        execFile(
          bin,
          [`--pid=${pid}`, '--no-block', state],
          { env: { ...env, NOTIFY_SOCKET: socket }, timeout: SD_NOTIFY_TIMEOUT_MS },
          (err, _stdout, stderr) => {
            if (err) reject(new Error(`${bin} ${state}: ${stderr.trim() || err.message}`));
            else resolve();
          },
        );
      }),
  };
}
