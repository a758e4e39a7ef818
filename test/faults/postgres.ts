/**
 * The one "is PostgreSQL reachable" probe of the test suite. Every test file that talks to PostgreSQL
 * passes `{ skip: pgSkip }` to its PostgreSQL tests: without a server they are reported as skipped,
 * with the reason, instead of failing or hanging.
 */
import { connect } from 'node:net';

export const PG_URL = process.env.APIMETER_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** Where PG_URL points, for a relay in front of it: `tcpRelay(PG_ADDRESS)`. */
export const PG_ADDRESS = { host: new URL(PG_URL).hostname || '127.0.0.1', port: Number(new URL(PG_URL).port || 5432) };

/** Resolves false when PostgreSQL answers a start-up probe within `timeoutMs`, else the reason to skip. */
export async function probePostgres(url: string = PG_URL, timeoutMs = 2000): Promise<false | string> {
  const u = new URL(url);
  const host = u.hostname || '127.0.0.1';
  const port = Number(u.port || 5432);
  const where = `${host}:${port}`;
  return new Promise((resolve) => {
    const socket = connect(port, host);
    const done = (result: false | string) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(result);
    };
    const timer = setTimeout(() => done(`PostgreSQL at ${where} did not answer within ${timeoutMs} ms`), timeoutMs);
    socket.on('error', (e: NodeJS.ErrnoException) =>
      done(`PostgreSQL at ${where} is unreachable (${e.code ?? e.message})`),
    );
    // An SSLRequest: a PostgreSQL server answers one byte, 'S' or 'N'; a listener that is not PostgreSQL does not.
    socket.on('connect', () => socket.write(Buffer.from([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f])));
    socket.once('data', (b: Buffer) =>
      done(b.length === 1 && (b[0] === 0x53 || b[0] === 0x4e) ? false : `${where} is not a PostgreSQL server`),
    );
  });
}

/** `false` when PostgreSQL is reachable, else why its tests are skipped: `test(name, { skip: pgSkip }, fn)`. */
export const pgSkip: false | string = await probePostgres();
