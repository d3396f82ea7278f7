// RFC 4475 torture messages, read as raw bytes, through the UDP parser + validator and through the
// stream framer (whole, split at every offset, random chunking). Expectations follow
// test/fixtures/rfc4475/README.md; every file in the folder must have a row here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import type { SipMessage, SipRequest, SipResponse } from '../../src/sip/message.js';
import { parseDatagram } from '../../src/sip/parser.js';
import { StreamFramer, type FramerEvent } from '../../src/sip/stream-framer.js';
import { serializeMessage } from '../../src/sip/serializer.js';
import { isKnownMethod, isResponseAcceptable, validateRequest, type ValidatorOptions } from '../../src/sip/request-validator.js';
import { getTag, getVias, parseCSeq, parseNameAddr, splitHeaderValues } from '../../src/sip/header-values.js';
import { parseUri } from '../../src/sip/uri.js';

const DIR = join(import.meta.dirname, '..', 'fixtures', 'rfc4475');
const OPTS: ValidatorOptions = {
  supportedExtensions: ['100rel', 'replaces', 'timer'],
  acceptedContentTypes: { INVITE: ['application/sdp'], ACK: ['application/sdp'] },
};

type Reaction = { kind: 'accept' } | { kind: 'reject'; status: number } | { kind: 'drop' };
type Tcp = 'same' | 'wait' | 'fatal' | { messages: number };
interface Row {
  udp: Reaction | 'no-crash';
  tcp?: Tcp;
  check?: (m: SipMessage, buf: Buffer) => void;
}

const accept: Reaction = { kind: 'accept' };
const drop: Reaction = { kind: 'drop' };
const reject = (status: number): Reaction => ({ kind: 'reject', status });
const req = (m: SipMessage): SipRequest => (assert.equal(m.kind, 'request'), m as SipRequest);
const res = (m: SipMessage): SipResponse => (assert.equal(m.kind, 'response'), m as SipResponse);
const contacts = (m: SipMessage) => m.headers.getAll('Contact').flatMap(splitHeaderValues).map((v) => parseNameAddr(v)!);

const TABLE: Record<string, Row> = {
  wsinv: {
    udp: accept,
    check: (m) => {
      assert.equal(parseCSeq(m.headers.get('CSeq')!)?.seq, 9);
      assert.equal(parseCSeq(m.headers.get('cseq')!)?.method, 'INVITE');
      assert.equal(Number(m.headers.get('Max-Forwards')), 68);
      assert.equal(getTag(m.headers.get('To')!), '1918181833n');
      assert.equal(parseNameAddr(m.headers.get('From')!)?.displayName, 'J Rosenberg \\"');
      assert.equal(getTag(m.headers.get('f')!), '98asjd8');
      assert.deepEqual(getVias(m.headers).map((v) => [v.transport, v.host, v.branch]), [
        ['UDP', '192.0.2.2', '390skdjuw'],
        ['TCP', 'spindle.example.com', 'z9hG4bK9ikj8'],
        ['UDP', '192.168.255.111', 'z9hG4bK30239'],
      ]);
      assert.equal(m.headers.get('Subject'), '');
      assert.equal(m.headers.get('NewFangledHeader'), 'newfangled value continued newfangled value');
      assert.equal(m.headers.get('UnknownHeaderWithUnusualValue'), ';;,,;;,;');
      const [c] = contacts(m);
      assert.equal(c!.displayName, 'Quoted string ""');
      assert.deepEqual([...c!.params], [['newparam', 'newvalue'], ['secondparam', null], ['q', '0.33']]);
      assert.equal(parseUri(req(m).uri)?.params.has('unknownparam'), true);
      assert.equal(m.body.length, 150);
    },
  },
  intmeth: {
    udp: accept,
    check: (m, buf) => {
      assert.equal(req(m).method, "!interesting-Method0123456789_*+`.%indeed'~");
      assert.equal(isKnownMethod(req(m).method), false);
      assert.equal(parseNameAddr(m.headers.get('To')!)?.displayName, 'BEL:\x07 NUL:\x00 DEL:\x7f');
      const uri = parseUri(req(m).uri)!;
      assert.equal(uri.user, "1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*");
      assert.equal(uri.password, "&it+has=1,weird!*pas$wo~d_too.(doesn't-it)");
      const from = parseNameAddr(m.headers.get('From')!)!;
      assert.equal(from.displayName, "token1~` token2'+_ token3*%!.-");
      assert.equal(from.params.get("fromparam''~+*_!.-%"), '"работающий"');
      assert.equal(from.params.get('tag'), "_token~1'+`*%!-.");
      assert.equal(m.headers.get('Call-ID'), 'intmeth.word%ZK-!.*_+\'@word`~)(><:\\/"][?}{');
      const ext = m.headers.fields.find((f) => f.name.startsWith('extensionHeader'))!;
      assert.equal(Buffer.from(ext.value, 'utf8').toString('hex'), buf.subarray(buf.indexOf('~:') + 2, buf.indexOf('\r\nContent-Length')).toString('hex'));
    },
  },
  esc01: {
    udp: accept,
    check: (m) => {
      assert.equal(parseUri(req(m).uri)?.user, 'sips:user@example.com');
      assert.equal(parseUri(parseNameAddr(m.headers.get('To')!)!.uri)?.user, 'user');
      assert.equal(parseUri(parseNameAddr(m.headers.get('From')!)!.uri)?.user, 'I have spaces');
      const c = parseUri(contacts(m)[0]!.uri)!;
      assert.equal(c.user, 'caller');
      assert.deepEqual([...c.params], [['lr', null], ['name', 'value%41']]);
    },
  },
  escnull: {
    udp: accept,
    check: (m) => assert.deepEqual(contacts(m).map((c) => parseUri(c.uri)!.user), ['\0', '\0\0']),
  },
  esc02: {
    udp: accept,
    check: (m) => {
      assert.equal(req(m).method, 'RE%47IST%45R');
      assert.equal(isKnownMethod(req(m).method), false);
      assert.equal(parseNameAddr(m.headers.get('To')!)?.displayName, '%Z%45');
      assert.equal(contacts(m).length, 2);
      assert.equal(m.headers.get('C%6Fntact'), '<sip:alias2@host2.example.com>');
    },
  },
  lwsdisp: { udp: accept, check: (m) => assert.equal(parseNameAddr(m.headers.get('From')!)?.displayName, 'caller') },
  longreq: {
    udp: accept,
    check: (m) => {
      const vias = getVias(m.headers);
      assert.equal(vias.length, 34);
      assert.equal(vias[0]!.host, 'sip33.example.com');
      assert.equal(vias[33]!.received, '192.0.2.5');
      assert.equal(parseNameAddr(m.headers.get('To')!)!.displayName!.length, 103);
      assert.ok(m.headers.fields.some((f) => f.name.length > 80));
    },
  },
  dblreq: {
    udp: accept,
    tcp: { messages: 2 },
    check: (m) => {
      assert.equal(req(m).method, 'REGISTER');
      assert.equal(m.body.length, 0);
    },
  },
  semiuri: { udp: accept, check: (m) => assert.equal(parseUri(req(m).uri)?.user, 'user;par=u@example.net') },
  transports: {
    udp: accept,
    check: (m) => assert.deepEqual(getVias(m.headers).map((v) => v.transport), ['UDP', 'SCTP', 'TLS', 'UNKNOWN', 'TCP']),
  },
  mpart01: {
    udp: accept,
    check: (m, buf) => {
      assert.equal(m.body.length, 553);
      assert.ok(m.body.includes(0));
      assert.deepEqual(m.body, buf.subarray(buf.length - 553));
      assert.equal(getVias(m.headers)[0]!.hasRport, true);
    },
  },
  unreason: {
    udp: accept,
    check: (m, buf) => {
      assert.equal(res(m).status, 200);
      assert.equal(res(m).reason, buf.subarray(12, buf.indexOf('\r\n')).toString('utf8'));
      assert.ok(res(m).reason.includes('девяносто девять - простое'));
    },
  },
  noreason: { udp: accept, check: (m) => assert.deepEqual([res(m).status, res(m).reason], [100, '']) },
  badinv01: { udp: reject(400) },
  clerr: { udp: reject(400), tcp: 'wait' },
  ncl: { udp: reject(400), tcp: 'fatal' },
  scalar02: { udp: reject(400), check: (m) => assert.equal(parseCSeq(m.headers.get('CSeq')!), null) },
  scalarlg: { udp: drop },
  quotbal: { udp: reject(400) },
  ltgtruri: { udp: reject(400) },
  lwsruri: { udp: reject(400) },
  lwsstart: { udp: accept, check: (m) => assert.equal(req(m).uri, 'sip:user@example.com') },
  trws: { udp: accept, check: (m) => assert.equal(req(m).version, 'SIP/2.0') },
  escruri: { udp: reject(400) },
  baddate: { udp: accept },
  regbadct: { udp: reject(400) },
  badaspec: { udp: reject(400) },
  baddn: { udp: reject(400), tcp: 'wait' },
  badvers: { udp: reject(505) },
  mismatch01: { udp: reject(400) },
  mismatch02: { udp: reject(501) },
  bigcode: { udp: drop, check: (m) => assert.equal(res(m).status, 4294967301) },
  badbranch: { udp: reject(400) },
  insuf: { udp: reject(400) },
  unkscm: { udp: reject(416), check: (m) => assert.equal(parseUri(req(m).uri)?.opaque, 'totallyopaquecontent') },
  novelsc: { udp: reject(416), check: (m) => assert.equal(parseUri(req(m).uri)?.scheme, 'soap.beep') },
  unksm2: {
    udp: accept,
    check: (m) => {
      assert.equal(parseUri(parseNameAddr(m.headers.get('To')!)!.uri)?.scheme, 'isbn');
      assert.equal(parseUri(parseNameAddr(m.headers.get('From')!)!.uri)?.opaque, '//www.example.com');
    },
  },
  bext01: { udp: reject(420) },
  invut: { udp: reject(415) },
  regaut01: { udp: accept, check: (m) => assert.equal(m.headers.get('Authorization'), 'NoOneKnowsThisScheme opaque-data=here') },
  multi01: { udp: reject(400) },
  mcl01: { udp: reject(400), tcp: 'fatal' },
  bcast: { udp: accept, check: (m) => assert.equal(getVias(m.headers)[1]!.host, '255.255.255.255') },
  zeromf: { udp: accept, check: (m) => assert.equal(m.headers.get('Max-Forwards'), '0') },
  cparam01: {
    udp: accept,
    check: (m) => {
      const [c] = contacts(m);
      assert.deepEqual([...c!.params.keys()], ['unknownparam']);
      assert.equal(parseUri(c!.uri)!.params.size, 0);
    },
  },
  cparam02: {
    udp: accept,
    check: (m) => {
      const [c] = contacts(m);
      assert.equal(c!.params.size, 0);
      assert.deepEqual([...parseUri(c!.uri)!.params.keys()], ['unknownparam']);
    },
  },
  regescrt: {
    udp: accept,
    check: (m) => assert.deepEqual([...parseUri(contacts(m)[0]!.uri)!.headers], [['Route', '<sip:sip.example.com>']]),
  },
  sdp01: { udp: reject(406) },
  inv2543: { udp: accept, tcp: 'fatal', check: (m) => assert.equal(m.body.length, 105) },
  test: { udp: 'no-crash' },
};

function reactUdp(buf: Buffer): { reaction: Reaction; message?: SipMessage; headers?: string } {
  const out = parseDatagram(buf);
  if (!out.ok) return { reaction: out.request ? reject(out.error.status) : drop };
  const m = out.message;
  if (m.kind === 'response') return { reaction: isResponseAcceptable(m) ? accept : drop, message: m };
  const v = validateRequest(m, OPTS);
  return { reaction: v ? reject(v.status) : accept, message: m, headers: JSON.stringify(v?.headers ?? []) };
}

function summarize(m: SipMessage): unknown {
  const start = m.kind === 'request' ? [m.method, m.uri, m.version] : [m.version, m.status, m.reason];
  return { start, fields: m.headers.fields.map((f) => [f.name, f.value]), body: m.body.toString('hex') };
}
function summarizeEvents(events: FramerEvent[], framer: StreamFramer): unknown {
  const ev = events.map((e) => (e.type === 'message' ? summarize(e.message) : { error: e.error.status, fatal: e.fatal, salvaged: !!e.request }));
  return { ev, buffered: framer.bufferedBytes };
}
function runFramer(buf: Buffer, cuts: number[]): unknown {
  const framer = new StreamFramer();
  const events: FramerEvent[] = [];
  let prev = 0;
  for (const cut of [...cuts, buf.length]) {
    events.push(...framer.push(buf.subarray(prev, cut)));
    prev = cut;
  }
  return summarizeEvents(events, framer);
}

const files = readdirSync(DIR).filter((f) => f.endsWith('.dat')).sort();

test('fixtures are byte-exact (SHA256SUMS): no line-ending normalisation happened', () => {
  const sums = readFileSync(join(DIR, 'SHA256SUMS'), 'utf8').trim().split('\n');
  assert.equal(sums.length, 50);
  for (const line of sums) {
    const [hash, name] = line.split(/\s+\*?/);
    assert.equal(createHash('sha256').update(readFileSync(join(DIR, name!))).digest('hex'), hash, name);
  }
});

test('every fixture has an expectation', () => {
  assert.equal(files.length, 50);
  assert.deepEqual(files.map((f) => f.slice(0, -4)).sort(), Object.keys(TABLE).sort());
});

for (const file of files) {
  const name = file.slice(0, -4);
  const row = TABLE[name]!;
  const buf = readFileSync(join(DIR, file));

  test(`${name}: UDP reaction`, () => {
    const { reaction, message } = reactUdp(buf);
    if (row.udp === 'no-crash') return;
    assert.deepEqual(reaction, row.udp);
    if (row.check) {
      assert.ok(message, 'a parsed message is needed for the field checks');
      row.check(message, buf);
    }
  });

  test(`${name}: stream framing, whole and split at every offset and at random sizes`, () => {
    const whole = runFramer(buf, []) as { ev: unknown[]; buffered: number };
    const tcp = row.tcp ?? 'same';
    if (tcp === 'wait') assert.deepEqual(whole, { ev: [], buffered: buf.length });
    else if (tcp === 'fatal') assert.deepEqual(whole, { ev: [{ error: 400, fatal: true, salvaged: true }], buffered: 0 });
    else if (typeof tcp === 'object') assert.equal(whole.ev.filter((e) => !(e as { error?: number }).error).length, tcp.messages);
    else if (row.udp !== 'no-crash') {
      const udp = parseDatagram(buf);
      if (udp.ok) assert.deepEqual(whole, { ev: [summarize(udp.message)], buffered: 0 });
      else assert.deepEqual(whole, { ev: [{ error: udp.error.status, fatal: false, salvaged: !!udp.request }], buffered: 0 });
    }
    for (let cut = 1; cut < buf.length; cut++) assert.deepEqual(runFramer(buf, [cut]), whole, `split at ${cut}`);
    let seed = buf.length;
    const rand = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) % 97) + 1;
    for (let round = 0; round < 20; round++) {
      const cuts: number[] = [];
      for (let at = rand(); at < buf.length; at += rand()) cuts.push(at);
      assert.deepEqual(runFramer(buf, cuts), whole, `random chunks ${cuts.join(',')}`);
    }
  });

  if (row.udp !== 'no-crash' && row.udp.kind === 'accept') {
    test(`${name}: serialize then re-parse gives the same message`, () => {
      const first = parseDatagram(buf);
      assert.ok(first.ok);
      const again = parseDatagram(serializeMessage(first.message));
      assert.ok(again.ok);
      const strip = (m: SipMessage) => {
        const s = summarize(m) as { fields: string[][] };
        s.fields = s.fields.filter(([n]) => !/^(l|content-length)$/i.test(n!));
        return s;
      };
      assert.deepEqual(strip(again.message), strip(first.message));
      assert.equal(again.message.headers.get('Content-Length'), String(first.message.body.length));
      assert.deepEqual(reactUdp(serializeMessage(first.message)).reaction, accept);
    });
  }
}

test('rejections carry the headers RFC 3261 requires', () => {
  assert.equal(reactUdp(readFileSync(join(DIR, 'bext01.dat'))).headers, JSON.stringify([{ name: 'Unsupported', value: 'nothingSupportsThis, nothingSupportsThisEither' }]));
  assert.equal(reactUdp(readFileSync(join(DIR, 'invut.dat'))).headers, JSON.stringify([{ name: 'Accept', value: 'application/sdp' }]));
});

test('a failed UDP parse still salvages the headers needed to answer 400', () => {
  for (const [name, method] of [['clerr', 'INVITE'], ['ncl', 'INVITE'], ['mcl01', 'OPTIONS'], ['lwsruri', 'INVITE']] as const) {
    const out = parseDatagram(readFileSync(join(DIR, `${name}.dat`)));
    assert.equal(out.ok, false);
    if (out.ok) continue;
    assert.equal(out.error.status, 400);
    assert.ok(out.request, name);
    assert.equal(out.request.method, method);
    assert.ok(out.request.headers.get('Call-ID')?.startsWith(`${name}.`));
    assert.equal(getVias(out.request.headers).length, 1);
  }
});
