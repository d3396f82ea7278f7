/**
 * RFC 4475 torture messages sent over real sockets to a running Patchbay. Over TCP the responses come
 * back on the same connection (RFC 3261 §18.2.2), so the exact reaction is asserted; every message is
 * also sent as a UDP datagram. Afterwards Patchbay must still answer OPTIONS and complete a call.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { createSocket } from 'node:dgram';
import { connect } from 'node:net';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { AppServer, twiml } from './harness/app-server.js';
import { startPatchbay, type TestPatchbay } from './harness/patchbay.js';
import { runSipp } from './harness/sipp.js';

const FIXTURES = join(fileURLToPath(new URL('.', import.meta.url)), '..', 'fixtures', 'rfc4475');

/** The reaction of Patchbay, a user agent and an authenticating registrar (README of the fixtures). */
const TCP_EXPECTED: Record<string, number> = {
  badinv01: 400, scalar02: 400, quotbal: 400, ltgtruri: 400, lwsruri: 400, escruri: 400, regbadct: 400,
  badaspec: 400, mismatch01: 400, badbranch: 400, insuf: 400, multi01: 400,
  badvers: 505, mismatch02: 501, esc02: 501, intmeth: 501,
  unkscm: 416, novelsc: 416, bext01: 420, invut: 415, sdp01: 406,
  // An authenticating registrar answers an unknown Authorization scheme with its own challenge (§3.3.7).
  regaut01: 401, zeromf: 200, lwsdisp: 200, semiuri: 200, transports: 200,
};

/** Sends `bytes` on a fresh TCP connection and returns the first response's status code (null: none). */
async function tcpReaction(port: number, bytes: Buffer): Promise<number | null> {
  return new Promise((resolve) => {
    const sock = connect(port, '127.0.0.1');
    let got = '';
    const done = (code: number | null): void => {
      clearTimeout(timer);
      sock.destroy();
      resolve(code);
    };
    const timer = setTimeout(() => done(null), 1500);
    sock.on('data', (d: Buffer) => {
      got += d.toString('latin1');
      // Skip provisional responses: the reaction is the first final one.
      for (const m of got.matchAll(/^SIP\/2\.0 (\d{3}) /gm)) if (Number(m[1]) >= 200) return done(Number(m[1]));
    });
    sock.on('error', () => done(null));
    sock.write(bytes);
  });
}

describe('RFC 4475 torture messages over real sockets', () => {
  let app: AppServer;
  let pb: TestPatchbay;

  before(async () => {
    app = await new AppServer().start();
    app.route('/voice', twiml('<Response><Say>Still here.</Say><Hangup/></Response>'));
    pb = await startPatchbay({ PATCHBAY_VOICE_URL: app.url('/voice') });
  });

  after(async () => {
    await pb?.dispose();
    await app?.stop();
  });

  for (const [name, expected] of Object.entries(TCP_EXPECTED)) {
    it(`${name}.dat over TCP → ${expected}`, async () => {
      const code = await tcpReaction(pb.sipPort, readFileSync(join(FIXTURES, `${name}.dat`)));
      assert.equal(code, expected);
    });
  }

  it('survives every fixture as a UDP datagram, then still answers OPTIONS and completes a call', async () => {
    const udp = createSocket('udp4');
    await new Promise<void>((resolve) => udp.bind(0, '127.0.0.1', resolve));
    for (const f of readdirSync(FIXTURES).filter((n) => n.endsWith('.dat'))) {
      udp.send(readFileSync(join(FIXTURES, f)), pb.sipPort, '127.0.0.1');
    }
    await new Promise((r) => setTimeout(r, 500));
    udp.close();
    const options = Buffer.from(
      'OPTIONS sip:patchbay@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:9;branch=z9hG4bKalive1\r\nMax-Forwards: 70\r\n' +
        'From: <sip:probe@127.0.0.1>;tag=p1\r\nTo: <sip:patchbay@127.0.0.1>\r\nCall-ID: alive-1@127.0.0.1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n',
    );
    assert.equal(await tcpReaction(pb.sipPort, options), 200);
    const r = await runSipp({ scenario: 'uac-app-hangs-up.xml', target: `127.0.0.1:${pb.sipPort}`, calls: 1, rate: 1 });
    assert.equal(r.successful, 1, r.errors);
  });
});
