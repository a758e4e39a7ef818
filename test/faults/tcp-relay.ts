/**
 * A TCP relay in front of a real server (PostgreSQL at 127.0.0.1:5432 by default) that a test switches
 * between fault modes:
 *
 * - `pass`: new connections are relayed both ways;
 * - `refuse`: new connections are closed at once (existing ones keep passing);
 * - `swallow`: a hung server or a network partition that outlasts the peer's TCP timeouts. Every open
 *   connection, and every new one, is kept open and silently dropped: what the client sends is read and
 *   discarded, nothing ever comes back, and the server side is closed (the server gave up on it). Such a
 *   connection stays dead after `pass`; only new connections work again;
 * - `cut()`: destroys every open connection, both sides (whatever the mode).
 */
import { connect, createServer } from 'node:net';
import type { AddressInfo, Server, Socket } from 'node:net';

export type RelayMode = 'pass' | 'refuse' | 'swallow';

interface Pair {
  client: Socket;
  upstream: Socket | null;
}

export interface TcpRelay {
  readonly port: number;
  /** `url` (postgres://…) with host and port replaced by the relay's. */
  url(url: string): string;
  readonly mode: RelayMode;
  set(mode: RelayMode): void;
  cut(): void;
  /** Client connections open now (an independent count of what the client side holds). */
  readonly open: number;
  /** Client connections accepted since start. */
  readonly accepted: number;
  close(): Promise<void>;
}

export async function tcpRelay(target: { host?: string; port?: number } = {}): Promise<TcpRelay> {
  const host = target.host ?? '127.0.0.1';
  const port = target.port ?? 5432;
  const pairs = new Set<Pair>();
  let mode: RelayMode = 'pass';
  let accepted = 0;

  const blackHole = (pair: Pair) => {
    if (pair.upstream !== null) {
      pair.client.unpipe(pair.upstream);
      pair.upstream.unpipe(pair.client);
      pair.upstream.removeAllListeners('close');
      pair.upstream.destroy();
      pair.upstream = null;
    }
    pair.client.on('data', () => undefined);
    pair.client.resume();
  };

  const server: Server = createServer({ pauseOnConnect: true }, (client) => {
    accepted++;
    client.on('error', () => undefined);
    if (mode === 'refuse') return void client.destroy();
    const pair: Pair = { client, upstream: null };
    pairs.add(pair);
    client.on('close', () => {
      pairs.delete(pair);
      pair.upstream?.destroy();
    });
    if (mode === 'swallow') return blackHole(pair);
    const upstream = connect(port, host);
    pair.upstream = upstream;
    upstream.on('error', () => undefined);
    upstream.on('close', () => client.destroy());
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const relayPort = (server.address() as AddressInfo).port;

  const relay: TcpRelay = {
    port: relayPort,
    url(url: string) {
      const u = new URL(url);
      u.host = `127.0.0.1:${relayPort}`;
      return u.href;
    },
    get mode() {
      return mode;
    },
    set(m: RelayMode) {
      mode = m;
      if (m === 'swallow') for (const pair of pairs) blackHole(pair);
    },
    cut() {
      for (const pair of pairs) {
        pair.client.destroy();
        pair.upstream?.destroy();
      }
      pairs.clear();
    },
    get open() {
      return pairs.size;
    },
    get accepted() {
      return accepted;
    },
    close() {
      relay.cut();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return relay;
}
