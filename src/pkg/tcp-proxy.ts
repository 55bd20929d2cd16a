/**
 * An L4 (TCP) proxy over a set of remotes, the engine of `tsetcd gateway` (etcd's `etcd gateway`):
 * every accepted connection is piped to one remote, picked like etcd's tcpproxy picks — among the
 * active remotes of the best (lowest) SRV priority, by SRV weight when weights are given, else round
 * robin. A remote that refuses a dial is set inactive and the next one is tried; every
 * `retryDelayMs` a dial probe brings inactive remotes back.
 *
 * Bytes are not looked at: TLS and HTTP/2 pass through untouched, so a client talks to the member
 * exactly as it would directly (its certificates must name the member, not the gateway).
 */
import net from 'node:net';

export interface ProxyRemote {
  host: string;
  port: number;
  /** SRV priority: lower is preferred; 0 when the remote came from a plain endpoint list. */
  priority: number;
  /** SRV weight within a priority; 0 means "no weight" (round robin among those). */
  weight: number;
}

export interface ProxyLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface TcpProxyOptions {
  remotes: readonly ProxyRemote[];
  retryDelayMs: number;
  logger: ProxyLogger;
  /** A number in [0, n) (injected for tests; default Math.random). */
  randomInt?: (n: number) => number;
}

interface RemoteState extends ProxyRemote {
  addr: string;
  active: boolean;
}

export class TcpProxy {
  private readonly remotes: RemoteState[];
  private readonly server: net.Server;
  private readonly randomInt: (n: number) => number;
  private pickCount = 0;
  private monitor: NodeJS.Timeout | undefined;
  private readonly open = new Set<net.Socket>();

  constructor(private readonly opts: TcpProxyOptions) {
    this.remotes = opts.remotes.map((r) => ({ ...r, addr: joinHostPort(r.host, r.port), active: true }));
    this.randomInt = opts.randomInt ?? ((n) => Math.floor(Math.random() * n));
    this.server = net.createServer((sock) => this.serve(sock));
  }

  /** Listens on host:port; resolves with the bound port, once "ready to proxy client requests" is logged. */
  async listen(host: string, port: number): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    this.opts.logger.info({ endpoints: this.remotes.map((r) => r.addr) }, 'ready to proxy client requests');
    this.monitor = setInterval(() => this.reactivate(), this.opts.retryDelayMs);
    this.monitor.unref();
    return (this.server.address() as net.AddressInfo).port;
  }

  /** Stops accepting, closes every proxied connection. */
  close(): Promise<void> {
    clearInterval(this.monitor);
    for (const s of this.open) s.destroy();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  /** Which remotes are active now (address → active), for tests and diagnostics. */
  activeness(): Map<string, boolean> {
    return new Map(this.remotes.map((r) => [r.addr, r.active]));
  }

  /** The next remote to dial, or undefined when none is active (etcd's tcpproxy pick). */
  pick(): RemoteState | undefined {
    const active = this.remotes.filter((r) => r.active);
    if (active.length === 0) return undefined;
    const best = Math.min(...active.map((r) => r.priority));
    const weighted = active.filter((r) => r.priority === best && r.weight > 0);
    const unweighted = active.filter((r) => r.priority === best && r.weight === 0);
    if (weighted.length > 0) {
      // As etcd: weight-0 records keep a small (1 in 100) chance when weighted ones exist.
      if (unweighted.length > 0 && this.randomInt(100) === 1)
        return unweighted[this.pickCount++ % unweighted.length];
      let choose = this.randomInt(weighted.reduce((sum, r) => sum + r.weight, 0));
      for (const r of weighted) {
        choose -= r.weight;
        if (choose < 0) return r;
      }
      return weighted[weighted.length - 1];
    }
    for (let i = 0; i < this.remotes.length; i++) {
      const r = this.remotes[this.pickCount++ % this.remotes.length] as RemoteState;
      if (r.active && r.priority === best) return r;
    }
    return undefined;
  }

  private serve(client: net.Socket): void {
    this.open.add(client);
    client.once('close', () => this.open.delete(client));
    client.on('error', () => {});
    client.pause();
    const attempt = (): void => {
      const remote = this.pick();
      if (remote === undefined) {
        client.destroy();
        return;
      }
      const upstream = net.connect(remote.port, remote.host);
      const onDialError = (err: Error): void => {
        remote.active = false;
        this.opts.logger.warn(
          { address: remote.addr, interval: `${this.opts.retryDelayMs / 1000}s`, error: err.message },
          'deactivated endpoint',
        );
        attempt();
      };
      upstream.once('error', onDialError);
      upstream.once('connect', () => {
        upstream.off('error', onDialError);
        this.open.add(upstream);
        upstream.once('close', () => this.open.delete(upstream));
        upstream.on('error', () => client.destroy());
        client.on('error', () => upstream.destroy());
        client.once('close', () => upstream.destroy());
        upstream.once('close', () => client.destroy());
        client.pipe(upstream);
        upstream.pipe(client);
        client.resume();
      });
    };
    attempt();
  }

  private reactivate(): void {
    for (const r of this.remotes) {
      if (r.active) continue;
      const probe = net.connect(r.port, r.host);
      probe.once('connect', () => {
        probe.destroy();
        r.active = true;
        this.opts.logger.info({ address: r.addr }, 'activated');
      });
      probe.once('error', (err) => {
        this.opts.logger.warn(
          { address: r.addr, interval: `${this.opts.retryDelayMs / 1000}s`, error: err.message },
          'failed to activate endpoint (stay inactive for another interval)',
        );
      });
    }
  }
}

/** host:port, with IPv6 hosts in brackets. */
export function joinHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
