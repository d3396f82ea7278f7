import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { LookupFunction } from 'node:net';
import { WebhookClient, type DocumentRequest, type DocumentResult } from '../../src/webhooks/webhook-client.js';
import { validateTwilioSignature } from '../../src/webhooks/signature.js';
import { TestAppServer, closedPort, xml } from './test-app-server.js';

const TOKEN = 'test-auth-token';
const PARAMS = { CallSid: 'CA0123', From: '+15551230000', To: '+15559870000', CallStatus: 'ringing', Note: 'a b&c=d' };
const HELLO = '<Response><Say>Hello</Say></Response>';

function failure(r: DocumentResult): Extract<DocumentResult, { ok: false }> {
  assert.equal(r.ok, false, `expected a failure, got ${JSON.stringify(r)}`);
  return r as Extract<DocumentResult, { ok: false }>;
}
function success(r: DocumentResult): Extract<DocumentResult, { ok: true }> {
  assert.equal(r.ok, true, `expected success, got ${JSON.stringify(r)}`);
  return r as Extract<DocumentResult, { ok: true }>;
}

describe('WebhookClient against a loopback app', () => {
  const client = new WebhookClient();
  let app: TestAppServer;
  const req = (path: string, extra: Partial<DocumentRequest> = {}): DocumentRequest => ({
    url: app.base + path,
    method: 'POST',
    params: PARAMS,
    authToken: TOKEN,
    timeoutMs: 5000,
    ...extra,
  });

  before(async () => {
    const big = '<Response>' + '<Say>x</Say>'.repeat(7000) + '</Response>';
    app = await new TestAppServer({
      '/twiml': (_r, res) => xml(res, HELLO),
      '/json': (_r, res) => xml(res, '[{"verb":"say","text":"Hello"}]', 'application/json; charset=utf-8'),
      '/bad-json': (_r, res) => xml(res, '[{"verb":"say",', 'application/json'),
      '/bad-xml': (_r, res) => xml(res, '<Response><Say>Hello</Response>'),
      '/html-page': (_r, res) => xml(res, '<html><body>Oops</body></html>', 'text/html'),
      '/html-twiml': (_r, res) => xml(res, HELLO, 'text/html; charset=utf-8'),
      '/plain-twiml': (_r, res) => xml(res, HELLO, 'text/plain'),
      '/plain-text': (_r, res) => xml(res, 'Hello caller', 'text/plain'),
      '/png': (_r, res) => xml(res, '\x89PNG', 'image/png'),
      '/empty': (_r, res) => res.writeHead(200, { 'Content-Type': 'text/xml', 'Content-Length': '0' }).end(),
      '/empty-chunked': (_r, res) => {
        res.writeHead(200, { 'Content-Type': 'text/xml' });
        res.flushHeaders();
        res.end();
      },
      '/latin1': (_r, res) => res.writeHead(200, { 'Content-Type': 'text/xml; charset=iso-8859-1' }).end(Buffer.from('<Response><Say>Caf\xe9</Say></Response>', 'latin1')),
      '/error': (_r, res) => res.writeHead(500, { 'Content-Type': 'text/html' }).end('<html>boom</html>'),
      '/not-found-twiml': (_r, res) => res.writeHead(404, { 'Content-Type': 'text/xml' }).end(HELLO),
      '/slow': () => undefined, // never answers
      '/big': (_r, res) => res.writeHead(200, { 'Content-Type': 'text/xml', 'Content-Length': String(big.length) }).end(big),
      '/big-chunked': (_r, res) => {
        res.writeHead(200, { 'Content-Type': 'text/xml' });
        for (let i = 0; i < 10; i++) res.write('<!--' + 'x'.repeat(8000) + '-->');
        res.end('<Response/>');
      },
      '/audio': (_r, res) => res.writeHead(200, { 'Content-Type': 'audio/mpeg' }).end(Buffer.alloc(200_000)),
      '/start': (_r, res) => res.writeHead(302, { Location: 'docs/next.xml#frag' }).end(),
      '/docs/next.xml': (_r, res) => xml(res, '<Response><Play>hello.mp3</Play></Response>'),
      '/keep-post': (_r, res) => res.writeHead(307, { Location: '/twiml' }).end(),
      '/see-other': (_r, res) => res.writeHead(303, { Location: '/twiml?from=303' }).end(),
      '/no-location': (_r, res) => res.writeHead(302).end(),
      '/hop/*': (r, res) => {
        const n = Number(r.path.split('/')[2]);
        if (n === 0) xml(res, HELLO);
        else res.writeHead(302, { Location: `/hop/${n - 1}` }).end();
      },
      '/callback': (_r, res) => res.writeHead(204).end(),
    }).start();
  });
  after(() => app.close());

  it('POSTs the parameters form-encoded with Twilio headers and a verifiable signature', async () => {
    const before = app.requests.length;
    const r = success(await client.fetchDocument(req('/twiml')));
    assert.deepEqual(r.document.verbs, [{ verb: 'say', text: 'Hello', voice: 'man', language: 'en-US', loop: 1 }]);
    assert.equal(r.httpStatus, 200);
    assert.equal(r.contentType, 'text/xml');
    assert.equal(r.url, app.base + '/twiml');
    const seen = app.requests[before]!;
    assert.equal(seen.method, 'POST');
    assert.deepEqual(seen.params, PARAMS);
    assert.equal(seen.headers['content-type'], 'application/x-www-form-urlencoded; charset=utf-8');
    assert.equal(seen.headers['user-agent'], 'TwilioProxy/1.1');
    assert.equal(seen.headers.accept, '*/*');
    const signature = seen.headers['x-twilio-signature'] as string;
    assert.ok(validateTwilioSignature(TOKEN, signature, seen.url, seen.params));
    assert.ok(!validateTwilioSignature('other-token', signature, seen.url, seen.params));
    await client.fetchDocument(req('/twiml'));
    const tokens = app.requests.slice(before).map((x) => x.headers['i-twilio-idempotency-token']);
    assert.equal(typeof tokens[0], 'string');
    assert.notEqual(tokens[0], tokens[1], 'idempotency token is unique per attempt');
  });

  it('GETs with the parameters appended to an existing query, signed over that URL', async () => {
    const before = app.requests.length;
    success(await client.fetchDocument(req('/twiml?app=1#rc=2', { method: 'GET' })));
    const seen = app.requests[before]!;
    assert.equal(seen.method, 'GET');
    assert.equal(seen.body, '');
    assert.deepEqual(seen.params, { app: '1', ...PARAMS });
    assert.ok(seen.url.startsWith(app.base + '/twiml?app=1&CallSid=CA0123&'));
    assert.ok(validateTwilioSignature(TOKEN, seen.headers['x-twilio-signature'] as string, seen.url, {}));
  });

  it('reads JSON verbs, text/html and text/plain TwiML, and honours the charset', async () => {
    assert.deepEqual(success(await client.fetchDocument(req('/json'))).document.verbs, [{ verb: 'say', text: 'Hello', voice: 'man', language: 'en-US', loop: 1 }]);
    assert.equal(success(await client.fetchDocument(req('/html-twiml'))).document.verbs.length, 1);
    assert.equal(success(await client.fetchDocument(req('/plain-twiml'))).document.verbs.length, 1);
    const latin = success(await client.fetchDocument(req('/latin1'))).document.verbs[0];
    assert.equal(latin?.verb === 'say' && latin.text, 'Café');
  });

  it('turns an audio response into play-then-hangup without reading the body', async () => {
    const r = success(await client.fetchDocument(req('/audio')));
    assert.deepEqual(r.document.verbs, [{ verb: 'play', url: app.base + '/audio', digits: null, loop: 1 }, { verb: 'hangup' }]);
  });

  it('follows a relative redirect and reports the final URL (POST becomes GET on 302)', async () => {
    const before = app.requests.length;
    const r = success(await client.fetchDocument(req('/start')));
    assert.equal(r.url, app.base + '/docs/next.xml');
    assert.deepEqual(r.document.verbs, [{ verb: 'play', url: 'hello.mp3', digits: null, loop: 1 }], 'URL kept as written');
    const second = app.requests[before + 1]!;
    assert.equal(second.method, 'GET');
    assert.ok(validateTwilioSignature(TOKEN, second.headers['x-twilio-signature'] as string, second.url, {}));
  });

  it('repeats POST and body on 307, switches to GET on 303', async () => {
    let before = app.requests.length;
    success(await client.fetchDocument(req('/keep-post')));
    assert.equal(app.requests[before + 1]!.method, 'POST');
    assert.deepEqual(app.requests[before + 1]!.params, PARAMS);
    before = app.requests.length;
    const r = success(await client.fetchDocument(req('/see-other')));
    assert.equal(app.requests[before + 1]!.method, 'GET');
    assert.equal(r.url, app.base + '/twiml?from=303');
  });

  it('follows 10 redirects but not 11 (11215)', async () => {
    assert.equal(success(await client.fetchDocument(req('/hop/10'))).url, app.base + '/hop/0');
    const r = failure(await client.fetchDocument(req('/hop/11')));
    assert.equal(r.errorCode, 11215);
  });

  const errorCases: Array<[string, string, number, number | null]> = [
    ['HTTP 500', '/error', 11200, 500],
    ['HTTP 404 even with TwiML', '/not-found-twiml', 11200, 404],
    ['redirect without Location', '/no-location', 11200, 302],
    ['image/png', '/png', 12300, 200],
    ['plain text that is not TwiML', '/plain-text', 12300, 200],
    ['malformed XML', '/bad-xml', 12100, 200],
    ['malformed JSON', '/bad-json', 12100, 200],
    ['HTML page', '/html-page', 12102, 200],
    ['empty body', '/empty', 12100, 200],
    ['empty chunked body', '/empty-chunked', 11770, 200],
    ['body over 64 KiB (Content-Length)', '/big', 11750, 200],
    ['body over 64 KiB (chunked)', '/big-chunked', 11750, 200],
  ];
  for (const [name, path, code, status] of errorCases) {
    it(`${name} -> ${code}`, async () => {
      const r = failure(await client.fetchDocument(req(path)));
      assert.equal(r.errorCode, code, r.errorMessage);
      assert.equal(r.httpStatus, status);
      assert.equal(r.url, app.base + path);
    });
  }

  it('times out a server that never answers (11205)', async () => {
    const r = failure(await client.fetchDocument(req('/slow', { timeoutMs: 150 })));
    assert.equal(r.errorCode, 11205);
    assert.match(r.errorMessage, /timed out/);
    assert.equal(r.httpStatus, null);
  });

  it('reports a refused connection (11205)', async () => {
    const port = await closedPort();
    const r = failure(await client.fetchDocument({ ...req('/x'), url: `http://127.0.0.1:${port}/voice` }));
    assert.equal(r.errorCode, 11205);
    assert.equal(r.httpStatus, null);
  });

  it('reports a DNS failure as a bad host name (11210)', async () => {
    const failingLookup = ((_host: string, _opts: unknown, cb: (err: NodeJS.ErrnoException) => void) => {
      const err: NodeJS.ErrnoException = new Error('getaddrinfo ENOTFOUND app.invalid');
      err.code = 'ENOTFOUND';
      process.nextTick(() => cb(err));
    }) as unknown as LookupFunction;
    const r = failure(await new WebhookClient({ lookup: failingLookup }).fetchDocument({ ...req('/x'), url: 'http://app.invalid/voice' }));
    assert.equal(r.errorCode, 11210);
  });

  it('rejects URLs it cannot request (11100)', async () => {
    for (const url of ['not a url', 'ftp://127.0.0.1/x', '/relative/path']) {
      assert.equal(failure(await client.fetchDocument({ ...req('/x'), url })).errorCode, 11100, url);
    }
  });

  it('stops when the caller aborts (hangup) and says so', async () => {
    const controller = new AbortController();
    const before = app.requests.length;
    const pending = client.fetchDocument(req('/slow', { timeoutMs: 10_000 }), controller.signal);
    await app.waitForRequests(before + 1);
    controller.abort();
    const r = failure(await pending);
    assert.equal(r.aborted, true);
  });

  it('send() reports the status without reading documents', async () => {
    const ok = await client.send(req('/callback'));
    assert.deepEqual([ok.ok, ok.httpStatus], [true, 204]);
    const bad = await client.send(req('/error'));
    assert.deepEqual([bad.ok, bad.httpStatus, bad.errorCode], [false, 500, 11200]);
    const big = await client.send(req('/big'));
    assert.equal(big.ok, true, 'callback response bodies are ignored, whatever their size');
  });
});
