/**
 * Seed corpora for the fuzz targets, loaded from the repository so that they grow with it:
 * the RFC 4475 torture messages (byte-exact, test/fixtures/rfc4475), header values and SDP bodies
 * cut out of them, and string literals found in our tests and docs (TwiML documents, JSON verb
 * documents, Media Streams messages, SDP). A few hand-written seeds make sure each corpus is
 * never empty even if a file moves.
 *
 * Everything is sorted and deduplicated so the corpus, and therefore every (target, seed,
 * iteration) coordinate, is the same on every machine.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

function filesUnder(dir: string, ext: string): string[] {
  const out: string[] = [];
  let names: string[];
  try {
    names = readdirSync(join(ROOT, dir)).sort();
  } catch {
    return out; // a missing folder just contributes nothing
  }
  for (const name of names) {
    const rel = join(dir, name);
    if (statSync(join(ROOT, rel)).isDirectory()) {
      if (name !== 'fuzz' && name !== 'node_modules') out.push(...filesUnder(rel, ext));
    } else if (name.endsWith(ext)) out.push(rel);
  }
  return out;
}

function uniqueSorted(items: Iterable<string>): string[] {
  return [...new Set(items)].sort();
}

const toBuffers = (items: Iterable<string>): Buffer[] => uniqueSorted(items).map((s) => Buffer.from(s, 'utf8'));

/** The RFC 4475 messages, byte-exact, in file-name order. */
export function tortureMessages(): Buffer[] {
  return filesUnder('test/fixtures/rfc4475', '.dat').map((f) => readFileSync(join(ROOT, f)));
}

/** Decodes the escapes a JS string literal may carry (enough for test sources). */
function unescapeLiteral(body: string): string {
  return body.replace(/\\(u\{[0-9a-fA-F]+\}|u[0-9a-fA-F]{4}|x[0-9a-fA-F]{2}|.)/gs, (_m, e: string) => {
    if (e.startsWith('u{')) return String.fromCodePoint(parseInt(e.slice(2, -1), 16));
    if (e.length > 1 && (e[0] === 'u' || e[0] === 'x')) return String.fromCharCode(parseInt(e.slice(1), 16));
    return ({ n: '\n', r: '\r', t: '\t', '0': '\0' } as Record<string, string>)[e] ?? e;
  });
}

/** Every string literal ('…', "…", `…` without interpolation) in our test sources, decoded. */
let literalCache: string[] | null = null;
function testLiterals(): string[] {
  if (literalCache) return literalCache;
  const out: string[] = [];
  for (const f of filesUnder('test', '.ts')) {
    const src = readFileSync(join(ROOT, f), 'utf8');
    for (const m of src.matchAll(/'((?:[^'\\\n]|\\.)*)'|"((?:[^"\\\n]|\\.)*)"|`((?:[^`\\$]|\\.|\$(?!\{))*)`/gs)) {
      out.push(unescapeLiteral(m[1] ?? m[2] ?? m[3] ?? ''));
    }
  }
  literalCache = out;
  return out;
}

/** Inline code and fenced blocks of docs/*.md and the README. */
function docSnippets(): string[] {
  const out: string[] = [];
  for (const f of [...filesUnder('docs', '.md'), 'README.md']) {
    let md: string;
    try {
      md = readFileSync(join(ROOT, f), 'utf8');
    } catch {
      continue;
    }
    for (const m of md.matchAll(/```[a-z]*\n([\s\S]*?)```/g)) out.push(m[1]!);
    for (const m of md.matchAll(/`([^`\n]+)`/g)) out.push(m[1]!);
  }
  return out;
}

// ---- SIP -----------------------------------------------------------------------------------------

const HAND_SIP = [
  'INVITE sip:bob@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK1;rport\r\nMax-Forwards: 70\r\n' +
    'From: "Alice" <sip:alice@127.0.0.1>;tag=a1\r\nTo: <sip:bob@127.0.0.1>\r\nCall-ID: c1@127.0.0.1\r\nCSeq: 1 INVITE\r\n' +
    'Contact: <sip:alice@127.0.0.1:5070>\r\nContent-Type: application/sdp\r\nContent-Length: 4\r\n\r\nv=0\n',
  'SIP/2.0 200 OK\r\nVia: SIP/2.0/TCP [::1]:5060;branch=z9hG4bK2;received=::1\r\nFrom: <sip:a@x>;tag=1\r\nTo: <sip:b@y>;tag=2\r\n' +
    'Call-ID: x\r\nCSeq: 2 BYE\r\nContent-Length: 0\r\n\r\n',
  '\r\n\r\n',
];

/** Whole SIP messages: the torture messages plus a few well-formed ones. */
export function sipMessageSeeds(): Buffer[] {
  return [...tortureMessages(), ...toBuffers(HAND_SIP)];
}

/** Several messages back to back, as a TCP peer would send them (with keep-alive CRLFs between). */
export function sipStreamSeeds(): Buffer[] {
  const good = toBuffers(HAND_SIP.slice(0, 2));
  const torture = tortureMessages();
  return [...good, Buffer.concat([good[0]!, Buffer.from('\r\n\r\n'), good[1]!, good[0]!]), ...torture.slice(0, 12)];
}

/** Header values of the named headers (compact forms too) found in the torture messages, unfolded. */
export function headerValueSeeds(names: readonly string[], extra: readonly string[] = []): Buffer[] {
  const wanted = new Set(names.map((n) => n.toLowerCase()));
  const values: string[] = [...extra];
  for (const msg of tortureMessages()) {
    const head = msg.toString('latin1').split(/\r?\n\r?\n/)[0]!.replace(/\r?\n[ \t]+/g, ' ');
    for (const line of head.split(/\r?\n/).slice(1)) {
      const colon = line.indexOf(':');
      if (colon > 0 && wanted.has(line.slice(0, colon).trim().toLowerCase())) values.push(line.slice(colon + 1).trim());
    }
  }
  return toBuffers(values);
}

/** Request-URIs of the torture messages plus URIs from header values. */
export function uriSeeds(): Buffer[] {
  const uris: string[] = ['sip:alice:pw@[::1]:5060;transport=tcp;lr?subject=x&priority=urgent', 'tel:+1-201-555-0123;phone-context=x', 'urn:service:sos'];
  for (const msg of tortureMessages()) {
    const first = msg.toString('latin1').split(/\r?\n/)[0]!.split(/\s+/);
    if (first.length === 3 && !first[0]!.startsWith('SIP/')) uris.push(first[1]!);
  }
  for (const v of headerValueSeeds(['to', 't', 'from', 'f', 'contact', 'm', 'route', 'record-route'])) {
    const m = /<([^>]*)>/.exec(v.toString('latin1'));
    if (m) uris.push(m[1]!);
  }
  return toBuffers(uris);
}

export function digestSeeds(): Buffer[] {
  return headerValueSeeds(['authorization', 'proxy-authorization', 'www-authenticate', 'proxy-authenticate'], [
    'Digest username="alice", realm="patchbay", nonce="abc", uri="sip:bob@127.0.0.1", response="0123456789abcdef0123456789abcdef", algorithm=MD5, qop=auth, nc=00000001, cnonce="xyz", opaque="o"',
    'Digest realm="patchbay", nonce="n\\"1", algorithm=SHA-256, qop="auth,auth-int", stale=TRUE, opaque=""',
    'Digest username="a\\\\b", realm="r", nonce="n", uri="sip:x", response="r"',
  ]);
}

// ---- SDP -----------------------------------------------------------------------------------------

export function sdpSeeds(): Buffer[] {
  const bodies = testLiterals().filter((s) => /^v=0\r?\n/.test(s) && s.includes('o='));
  for (const msg of tortureMessages()) {
    const text = msg.toString('latin1');
    const at = text.indexOf('\r\n\r\nv=0');
    if (at >= 0) bodies.push(text.slice(at + 4));
  }
  bodies.push(
    'v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0 8 101\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=ptime:20\r\na=sendrecv\r\n',
    'v=0\no=- 2 2 IN IP6 ::1\ns= \nt=0 0\nm=audio 0 RTP/SAVP 0\nm=video 5000/2 RTP/AVP 96\nc=IN IP6 ::1\nb=AS:64\na=rtpmap:96 H264/90000\nm=audio 6000 RTP/AVPF 8\nc=IN IP4 0.0.0.0\na=sendonly\n',
  );
  return toBuffers(bodies);
}

// ---- TwiML and JSON verbs -----------------------------------------------------------------------

export function twimlSeeds(): Buffer[] {
  const docs = [...testLiterals(), ...docSnippets()].filter((s) => s.includes('<Response'));
  docs.push(
    '<?xml version="1.0" encoding="UTF-8"?><Response><Say voice="alice" loop="2">Hi &amp; bye &#x263A;</Say><Pause length="1"/><Hangup/></Response>',
    '<Response><Gather input="dtmf speech" numDigits="4" action="/g"><Say><speak>a<break time="1s"/>b</speak></Say></Gather><Redirect>/next</Redirect></Response>',
    '<Response><Dial callerId="+15550001" timeout="20"><Number sendDigits="ww1">+15550002</Number><Sip>sip:a@127.0.0.1?X-h=1</Sip><Client>bob</Client></Dial></Response>',
    '<Response><Connect><Stream url="wss://127.0.0.1/s"><Parameter name="a" value="b"/></Stream></Connect><Record maxLength="5"/></Response>',
  );
  return toBuffers(docs);
}

export function jsonVerbSeeds(): Buffer[] {
  const docs: string[] = [];
  for (const s of [...testLiterals(), ...docSnippets()]) {
    const t = s.trim();
    if (!(t.startsWith('[') || t.startsWith('{')) || !t.includes('"verb"')) continue;
    try {
      JSON.parse(t);
      docs.push(t);
    } catch {
      // a fragment, not a document
    }
  }
  docs.push(
    '[{"verb":"say","text":"Hello","voice":"alice","loop":2},{"verb":"pause","length":1},{"verb":"hangup"}]',
    '{"verbs":[{"verb":"gather","input":["dtmf"],"numDigits":3,"actionHook":"/g","say":{"text":"x"}}]}',
    '[{"verb":"dial","target":[{"type":"phone","number":"+15550002"}],"timeout":20},{"verb":"say","ssml":"<speak>hi</speak>"}]',
  );
  return toBuffers(docs);
}

// ---- Media Streams ------------------------------------------------------------------------------

export function streamMessageSeeds(): Buffer[] {
  const msgs = [...testLiterals(), ...docSnippets()].filter((s) => /^\s*\{/.test(s) && s.includes('"event"'));
  msgs.push(
    '{"event":"media","streamSid":"MZ1","media":{"payload":"AAECAw=="}}',
    '{"event":"mark","streamSid":"MZ1","mark":{"name":"m1"}}',
    '{"event":"mark"}',
    '{"event":"clear","streamSid":"MZ1"}',
  );
  return toBuffers(msgs);
}
