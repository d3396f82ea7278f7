import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CertificateError, developmentCredentials, loadTlsCredentials } from '../../src/sip/tls-credentials.js';
import { createSelfSignedCertificate } from '../../src/sip/self-signed-certificate.js';

test('self-signed certificate: v3, names as subjectAltName, verifies with its own key, is its own CA', () => {
  const now = new Date('2030-06-01T00:00:00Z');
  const pair = createSelfSignedCertificate({ altNames: ['localhost', '127.0.0.1', '::1', '2001:db8::5'], now, days: 10 });
  const x = new X509Certificate(pair.cert);
  assert.equal(x.subject, 'CN=localhost');
  assert.equal(x.checkHost('localhost'), 'localhost');
  assert.equal(x.checkIP('127.0.0.1'), '127.0.0.1');
  assert.equal(x.checkIP('2001:db8::5'), '2001:db8::5');
  assert.equal(x.checkIP('10.0.0.1'), undefined);
  assert.equal(x.verify(x.publicKey), true);
  assert.equal(x.ca, true);
  assert.equal(new Date(x.validFrom).toISOString(), '2030-05-31T00:00:00.000Z');
  assert.equal(new Date(x.validTo).toISOString(), '2030-06-11T00:00:00.000Z');
  assert.throws(() => createSelfSignedCertificate({ altNames: ['bad name!'] }), CertificateError);
});

test('development credentials: generated once (key 0600), reused on the next start, replaced near expiry or for a new name', () => {
  const dir = mkdtempSync(join(tmpdir(), 'patchbay-tls-'));
  try {
    const now = new Date();
    const first = developmentCredentials(join(dir, 'tls'), ['localhost', '127.0.0.1'], now);
    assert.equal(first.generated, true);
    assert.equal(statSync(join(dir, 'tls', 'dev-key.pem')).mode & 0o777, 0o600);
    const again = developmentCredentials(join(dir, 'tls'), ['localhost', '127.0.0.1'], now);
    assert.equal(again.generated, false);
    assert.equal(again.cert, first.cert);
    const later = developmentCredentials(join(dir, 'tls'), ['localhost', '127.0.0.1'], new Date(now.getTime() + 800 * 86_400_000));
    assert.equal(later.generated, true, 'expiring within 30 days: replaced');
    const renamed = developmentCredentials(join(dir, 'tls'), ['localhost', '127.0.0.1', '10.1.2.3']);
    assert.equal(renamed.generated, true, 'a new public address needs a certificate naming it');
    assert.equal(new X509Certificate(renamed.cert).checkIP('10.1.2.3'), '10.1.2.3');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('configured credentials: unreadable, mismatched or expired pairs are refused with a reason', () => {
  const dir = mkdtempSync(join(tmpdir(), 'patchbay-tls-'));
  try {
    const a = createSelfSignedCertificate({ altNames: ['localhost'] });
    const b = createSelfSignedCertificate({ altNames: ['localhost'] });
    writeFileSync(join(dir, 'a.crt'), a.cert);
    writeFileSync(join(dir, 'a.key'), a.key);
    writeFileSync(join(dir, 'b.key'), b.key);
    assert.equal(loadTlsCredentials(join(dir, 'a.crt'), join(dir, 'a.key')).key, readFileSync(join(dir, 'a.key'), 'utf8'));
    assert.throws(() => loadTlsCredentials(join(dir, 'a.crt'), join(dir, 'missing.key')), /cannot read the TLS key .*ENOENT/);
    assert.throws(() => loadTlsCredentials(join(dir, 'a.crt'), join(dir, 'b.key')), /does not belong to the certificate/);
    assert.throws(() => loadTlsCredentials(join(dir, 'a.key'), join(dir, 'a.key')), /not a PEM certificate/);
    assert.throws(() => loadTlsCredentials(join(dir, 'a.crt'), join(dir, 'a.key'), new Date(Date.now() + 900 * 86_400_000)), /expired/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
