import net from 'node:net';

/** Sends raw bytes on a fresh connection and resolves with everything the server answered. */
export function rawRequest(port: number, payload: string | Buffer, timeoutMs = 2000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => socket.destroy(), timeoutMs);
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', reject);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks).toString('latin1'));
    });
    socket.write(payload, () => socket.end());
  });
}

/**
 * Counts pipelined HTTP/1.1 responses by status code in `statuses`, chunk by chunk: each call takes the
 * next chunk of a connection and returns how many status lines it completed (a status line split
 * across chunks is counted once, in the chunk that ends it). One counter per connection.
 */
export function statusLineCounter(statuses: Map<number, number>): (chunk: Buffer) => number {
  let tail = '';
  return (chunk) => {
    const text = tail + chunk.toString('latin1');
    const re = /HTTP\/1\.1 (\d{3}) /g;
    let m: RegExpExecArray | null;
    let last = 0;
    let seen = 0;
    while ((m = re.exec(text)) !== null) {
      const code = Number(m[1]);
      statuses.set(code, (statuses.get(code) ?? 0) + 1);
      seen++;
      last = re.lastIndex;
    }
    tail = text.slice(Math.max(last, text.length - 20));
    return seen;
  };
}

/**
 * Pipelines `count` GET requests (paths made on the fly, so the caller holds none of them) over `connections` keep-alive sockets and resolves with the
 * number of responses per status code. Far faster than one fetch per request.
 */
export async function pipelineGets(
  port: number,
  count: number,
  pathOf: (i: number) => string,
  connections = 8,
): Promise<Map<number, number>> {
  const statuses = new Map<number, number>();
  const per = Math.ceil(count / connections);
  await Promise.all(
    Array.from({ length: connections }, (_, c) => {
      const from = c * per;
      const mine = { length: Math.max(0, Math.min(count, from + per) - from) };
      if (mine.length === 0) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        const socket = net.connect(port, '127.0.0.1');
        let seen = 0;
        const count = statusLineCounter(statuses);
        socket.on('data', (chunk: Buffer) => {
          seen += count(chunk);
          if (seen >= mine.length) socket.end();
        });
        socket.on('error', reject);
        socket.on('close', () => resolve());
        // Write in batches so the socket's buffer does not balloon.
        let i = 0;
        const writeMore = () => {
          while (i < mine.length) {
            const ok = socket.write(`GET ${pathOf(from + i++)} HTTP/1.1\r\nHost: x\r\n\r\n`);
            if (!ok) {
              socket.once('drain', writeMore);
              return;
            }
          }
        };
        writeMore();
      });
    }),
  );
  return statuses;
}
