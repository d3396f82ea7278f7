import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  authorizationFor,
  digestHa1,
  digestResponse,
  DigestServer,
  parseChallenge,
  parseCredentials,
  pickChallenge,
  type StoredDigestSecrets,
} from '../../src/sip/digest.js';

test('RFC 2617 §3.5 example: MD5, qop=auth', () => {
  const ha1 = digestHa1('MD5', 'Mufasa', 'testrealm@host.com', 'Circle Of Life');
  const r = digestResponse('MD5', ha1, { method: 'GET', uri: '/dir/index.html', nonce: 'dcd98b7102dd2f0e8b11d0f600bfb0c093', qop: 'auth', nc: '00000001', cnonce: '0a4f113b' });
  assert.equal(r, '6629fae49393a05397450978507c4ef1');
});

test('RFC 7616 §3.9.1 example: SHA-256 and MD5 responses', () => {
  const c = parseChallenge(
    'Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm=SHA-256, nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"',
  );
  assert.ok(c);
  assert.deepEqual(c.qop, ['auth', 'auth-int']);
  assert.equal(c.algorithm, 'SHA-256');
  const p = { method: 'GET', uri: '/dir/index.html', nonce: c.nonce, qop: 'auth', nc: '00000001', cnonce: 'f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ' };
  assert.equal(digestResponse('SHA-256', digestHa1('SHA-256', 'Mufasa', c.realm, 'Circle of Life'), p), '753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1');
  assert.equal(digestResponse('MD5', digestHa1('MD5', 'Mufasa', c.realm, 'Circle of Life'), p), '8ca523f5e9506fed4657c9700eebdbec');
});

test('parseChallenge: defaults, case, stale, unsupported algorithms and missing fields', () => {
  const c = parseChallenge('digest REALM="a.example", nonce="n1", STALE=TRUE');
  assert.deepEqual(c, { realm: 'a.example', nonce: 'n1', opaque: null, algorithm: 'MD5', qop: [], stale: true });
  assert.equal(parseChallenge('Digest realm="r", nonce="n", algorithm=md5')?.algorithm, 'MD5');
  assert.equal(parseChallenge('Digest realm="r", nonce="n", algorithm=MD5-sess'), null);
  assert.equal(parseChallenge('Digest realm="r", nonce="n", algorithm=SHA-512-256'), null);
  assert.equal(parseChallenge('Digest realm="r"'), null);
  assert.equal(parseChallenge('Basic realm="r", nonce="n"'), null);
  assert.equal(parseChallenge('Digest realm="unterminated, nonce="n"'), null);
  assert.equal(parseChallenge('Digest realm="r" nonce="n"'), null); // params must be comma separated
});

test('quoted strings keep commas and unescape quoted-pairs', () => {
  const c = parseChallenge('Digest realm="we, \\"the\\" people\\\\", nonce="a,b", qop="auth"');
  assert.equal(c?.realm, 'we, "the" people\\');
  assert.equal(c?.nonce, 'a,b');
  const hdr = authorizationFor(c!, { username: 'o"brien\\x', password: 'p' }, 'REGISTER', 'sip:example.com', 1);
  const creds = parseCredentials(hdr);
  assert.equal(creds?.username, 'o"brien\\x');
  assert.equal(creds?.realm, 'we, "the" people\\');
  assert.equal(creds?.nonce, 'a,b');
});

test('authorizationFor round-trips through parseCredentials (qop=auth, nc, opaque)', () => {
  const c = parseChallenge('Digest realm="r", nonce="abc", opaque="op", algorithm=SHA-256, qop="auth-int,auth"')!;
  const hdr = authorizationFor(c, { username: 'alice', password: 'secret' }, 'INVITE', 'sip:bob@example.com', 3);
  const creds = parseCredentials(hdr)!;
  assert.equal(creds.username, 'alice');
  assert.equal(creds.uri, 'sip:bob@example.com');
  assert.equal(creds.algorithm, 'SHA-256');
  assert.equal(creds.opaque, 'op');
  assert.equal(creds.qop, 'auth');
  assert.equal(creds.nc, '00000003');
  assert.ok(creds.cnonce && creds.cnonce.length >= 16);
  const expected = digestResponse('SHA-256', digestHa1('SHA-256', 'alice', 'r', 'secret'), { method: 'INVITE', uri: creds.uri, nonce: 'abc', qop: 'auth', nc: creds.nc, cnonce: creds.cnonce });
  assert.equal(creds.response, expected);
});

test('authorizationFor without qop uses the RFC 2069 form', () => {
  const c = parseChallenge('Digest realm="r", nonce="abc"')!;
  const creds = parseCredentials(authorizationFor(c, { username: 'u', password: 'p' }, 'REGISTER', 'sip:r', 1))!;
  assert.equal(creds.qop, null);
  assert.equal(creds.nc, null);
  assert.equal(creds.cnonce, null);
  assert.equal(creds.response, digestResponse('MD5', digestHa1('MD5', 'u', 'r', 'p'), { method: 'REGISTER', uri: 'sip:r', nonce: 'abc', qop: null, nc: null, cnonce: null }));
});

test('parseCredentials requires the mandatory fields (cnonce and nc with qop)', () => {
  assert.equal(parseCredentials('Digest username="u", realm="r", nonce="n", uri="sip:x"'), null);
  assert.equal(parseCredentials('Digest username="u", realm="r", nonce="n", uri="sip:x", response="f", qop=auth'), null);
  assert.equal(parseCredentials('Digest username="u", realm="r", nonce="n", uri="sip:x", response="f", qop=auth, nc=1, cnonce="c"'), null);
  assert.ok(parseCredentials('Digest username="u", realm="r", nonce="n", uri="sip:x", response="f", qop=auth, nc=0000000a, cnonce="c"'));
});

test('pickChallenge prefers SHA-256 whatever the order', () => {
  const md5 = 'Digest realm="r", nonce="n1", algorithm=MD5';
  const sha = 'Digest realm="r", nonce="n2", algorithm=SHA-256';
  assert.equal(pickChallenge([md5, sha])?.nonce, 'n2');
  assert.equal(pickChallenge(['Basic realm="x"', md5])?.nonce, 'n1');
  assert.equal(pickChallenge(['garbage']), null);
});

function store(users: Record<string, string>, realm: string): (u: string) => Promise<StoredDigestSecrets | null> {
  return async (u) => {
    const pw = users[u];
    return pw === undefined ? null : { ha1Md5: digestHa1('MD5', u, realm, pw), ha1Sha256: digestHa1('SHA-256', u, realm, pw) };
  };
}

test('DigestServer: challenges are SHA-256 then MD5 with qop=auth; stale flag', () => {
  const s = new DigestServer({ realm: 'pb.test', now: () => 1000 });
  const [first, second] = s.challenges();
  assert.equal(parseChallenge(first!)?.algorithm, 'SHA-256');
  assert.equal(parseChallenge(second!)?.algorithm, 'MD5');
  assert.deepEqual(parseChallenge(first!)?.qop, ['auth']);
  assert.equal(parseChallenge(first!)?.stale, false);
  assert.equal(parseChallenge(s.challenges(true)[0]!)?.stale, true);
});

test('DigestServer.verify: ok (both algorithms, with and without qop), failed, missing, stale', async () => {
  let now = 1_000_000;
  const s = new DigestServer({ realm: 'pb.test', now: () => now, nonceLifetimeMs: 60_000 });
  const lookup = store({ alice: 'wonderland' }, 'pb.test');
  const [sha, md5] = s.challenges().map((v) => parseChallenge(v)!);
  const answer = (c: typeof sha, pw: string, user = 'alice'): string => authorizationFor(c!, { username: user, password: pw }, 'REGISTER', 'sip:pb.test', 1);

  assert.deepEqual(await s.verify('REGISTER', [answer(sha, 'wonderland')], lookup), { result: 'ok', username: 'alice' });
  assert.deepEqual(await s.verify('REGISTER', [answer(md5, 'wonderland')], lookup), { result: 'ok', username: 'alice' });
  const noQop = authorizationFor({ ...md5!, qop: [] }, { username: 'alice', password: 'wonderland' }, 'REGISTER', 'sip:pb.test', 1);
  assert.deepEqual(await s.verify('REGISTER', [noQop], lookup), { result: 'ok', username: 'alice' });
  // The method is part of HA2: credentials made for REGISTER do not pass for INVITE.
  assert.deepEqual(await s.verify('INVITE', [answer(sha, 'wonderland')], lookup), { result: 'failed', username: 'alice' });
  assert.deepEqual(await s.verify('REGISTER', [answer(sha, 'wrong')], lookup), { result: 'failed', username: 'alice' });
  assert.deepEqual(await s.verify('REGISTER', [answer(sha, 'x', 'mallory')], lookup), { result: 'failed', username: 'mallory' });
  assert.deepEqual(await s.verify('REGISTER', [], lookup), { result: 'missing' });
  // Credentials for another realm only: missing (challenge), not failed.
  const other = authorizationFor({ ...sha!, realm: 'elsewhere' }, { username: 'alice', password: 'wonderland' }, 'REGISTER', 'sip:pb.test', 1);
  assert.deepEqual(await s.verify('REGISTER', [other], lookup), { result: 'missing' });
  assert.deepEqual(await s.verify('REGISTER', [other, answer(sha, 'wonderland')], lookup), { result: 'ok', username: 'alice' });

  now += 60_001;
  assert.deepEqual(await s.verify('REGISTER', [answer(sha, 'wonderland')], lookup), { result: 'stale', username: 'alice' });
  assert.deepEqual(await s.verify('REGISTER', [answer(sha, 'wrong')], lookup), { result: 'failed', username: 'alice' });
});

test('DigestServer.verify: a nonce not minted with our secret is stale, a tampered response fails', async () => {
  const lookup = store({ bob: 'pw' }, 'pb.test');
  const ours = new DigestServer({ realm: 'pb.test', secret: Buffer.alloc(32, 1), now: () => 5000 });
  const theirs = new DigestServer({ realm: 'pb.test', secret: Buffer.alloc(32, 2), now: () => 5000 });
  const c = parseChallenge(theirs.challenges()[0]!)!;
  const hdr = authorizationFor(c, { username: 'bob', password: 'pw' }, 'REGISTER', 'sip:pb.test', 1);
  assert.deepEqual(await ours.verify('REGISTER', [hdr], lookup), { result: 'stale', username: 'bob' });
  assert.deepEqual(await theirs.verify('REGISTER', [hdr], lookup), { result: 'ok', username: 'bob' });
  const tampered = hdr.replace(/response="([0-9a-f])/, (_m, d: string) => `response="${d === '0' ? '1' : '0'}`);
  assert.deepEqual(await theirs.verify('REGISTER', [tampered], lookup), { result: 'failed', username: 'bob' });
  // Same secret, same realm, stable across instances (a restart with a configured secret keeps nonces valid).
  const again = new DigestServer({ realm: 'pb.test', secret: Buffer.alloc(32, 2), now: () => 6000 });
  assert.deepEqual(await again.verify('REGISTER', [hdr], lookup), { result: 'ok', username: 'bob' });
});
