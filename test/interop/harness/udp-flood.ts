/**
 * A SIP flooder for interop tests, run as its own process (so it competes with Patchbay like a
 * real attacker instead of sharing its event loop): from a socket bound to one loopback address it
 * sends `count` datagrams as fast as the socket takes them — a rotation of garbage bytes, OPTIONS
 * and INVITEs with scanner User-Agents, malformed requests and plain REGISTERs — and prints one
 * JSON line: what it sent, how fast, and what came back (any answer is a failure of the guard
 * once the source is banned).
 *
 *   node --import tsx udp-flood.ts <source-ip> <target-ip> <target-port> <count> [mixed|junk]
 *
 * `junk` leaves out the scanner User-Agents, so only the rate limit can stop it.
 */
import dgram from 'node:dgram';
import { randomBytes } from 'node:crypto';

export interface FloodReport {
  sent: number;
  ms: number;
  perSecond: number;
  responses: number;
  /** Time of the last response after the flood started (≈ when the source was banned); null: none. */
  lastResponseMs: number | null;
  statuses: Record<string, number>;
}

function messages(source: string, port: number, target: string, targetPort: number): ((i: number) => Buffer)[] {
  const head = (method: string, i: number, ua: string | null): string =>
    [
      `${method} sip:100@${target}:${targetPort} SIP/2.0`,
      `Via: SIP/2.0/UDP ${source}:${port};branch=z9hG4bKflood${i};rport`,
      'Max-Forwards: 70',
      `From: <sip:100@${source}>;tag=f${i}`,
      `To: <sip:100@${target}>`,
      `Call-ID: flood-${i}@${source}`,
      `CSeq: 1 ${method}`,
      `Contact: <sip:100@${source}:${port}>`,
      ...(ua ? [`User-Agent: ${ua}`] : []),
      'Content-Length: 0',
      '',
      '',
    ].join('\r\n');
  return [
    () => randomBytes(160),
    (i) => Buffer.from(head('OPTIONS', i, 'friendly-scanner')),
    (i) => Buffer.from(head('INVITE', i, 'sipvicious 0.3.4')),
    // A request line and a Via, then nonsense: parseable enough to be answered 400 if let through.
    (i) => Buffer.from(`INVITE sip:${i}@${target} SIP/2.0\r\nVia: SIP/2.0/UDP ${source}:${port};branch=z9hG4bKbad${i};rport\r\nCSeq: x\r\n\r\n`),
    (i) => Buffer.from(head('REGISTER', i, null)),
  ];
}

async function flood(source: string, target: string, targetPort: number, count: number, junkOnly: boolean): Promise<FloodReport> {
  const socket = dgram.createSocket('udp4');
  await new Promise<void>((r) => socket.bind(0, source, r));
  const port = socket.address().port;
  const all = messages(source, port, target, targetPort);
  const kinds = junkOnly ? [all[0]!, all[3]!, all[4]!] : all;
  const statuses: Record<string, number> = {};
  let responses = 0;
  let lastResponseMs: number | null = null;
  const start = performance.now();
  socket.on('message', (buf) => {
    responses++;
    lastResponseMs = Math.round(performance.now() - start);
    const status = /^SIP\/2\.0 (\d{3})/.exec(buf.toString('latin1', 0, 16))?.[1] ?? 'other';
    statuses[status] = (statuses[status] ?? 0) + 1;
  });
  // At most `window` datagrams queued in the socket at once: as fast as it drains, never unbounded.
  const window = 64;
  let sent = 0;
  let queued = 0;
  await new Promise<void>((resolve, reject) => {
    const pump = (): void => {
      while (queued < window && sent + queued < count) {
        const i = sent + queued;
        queued++;
        socket.send(kinds[i % kinds.length]!(i), targetPort, target, (err) => {
          if (err) return reject(err);
          queued--;
          sent++;
          if (sent === count) resolve();
          else pump();
        });
      }
    };
    pump();
  });
  const ms = performance.now() - start;
  await new Promise((r) => setTimeout(r, 300)); // answers still in flight
  socket.close();
  return { sent, ms: Math.round(ms), perSecond: Math.round((sent * 1000) / ms), responses, lastResponseMs, statuses };
}

const [source, target, port, count, mode] = process.argv.slice(2);
if (source && target && port && count) {
  flood(source, target, Number(port), Number(count), mode === 'junk').then(
    (report) => process.stdout.write(JSON.stringify(report) + '\n'),
    (err: unknown) => {
      process.stderr.write(`flood failed: ${String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
