/**
 * TLS credentials for the SIP TLS and WSS listeners: a configured PEM pair, or a development pair
 * generated once into a directory and reused on every start (phones and browsers that were told
 * to trust it keep trusting it).
 *
 * Both paths check what they load: the PEMs parse, the key belongs to the certificate, and the
 * certificate is within its validity (an expired development pair is replaced, a configured one
 * is an error: an operator must know before peers start failing handshakes).
 */
import { X509Certificate } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CertificateError, createSelfSignedCertificate, keyMatchesCertificate } from './self-signed-certificate.js';

export interface TlsCredentials {
  key: string;
  cert: string;
  /** Where the certificate came from (for the start-up log line). */
  source: string;
  /** subjectAltName as X509Certificate prints it (`DNS:localhost, IP Address:127.0.0.1`). */
  names: string;
  validTo: Date;
}

export { CertificateError } from './self-signed-certificate.js';

/** A generated development pair is replaced when it expires within this long. */
const RENEW_BEFORE_MS = 30 * 86_400_000;

function check(key: string, cert: string, source: string, now: Date): TlsCredentials {
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(cert);
  } catch (err) {
    throw new CertificateError(`${source}: not a PEM certificate (${(err as Error).message})`);
  }
  let matches: boolean;
  try {
    matches = keyMatchesCertificate(key, x509.publicKey);
  } catch (err) {
    throw new CertificateError(`${source}: the key is not a PEM private key (${(err as Error).message})`);
  }
  if (!matches) throw new CertificateError(`${source}: the key does not belong to the certificate`);
  const validTo = new Date(x509.validTo);
  if (validTo.getTime() <= now.getTime()) throw new CertificateError(`${source}: the certificate expired on ${validTo.toISOString()}`);
  return { key, cert, source, names: x509.subjectAltName ?? '', validTo };
}

/** Reads a configured pair; throws CertificateError (unreadable, mismatched, expired). */
export function loadTlsCredentials(certFile: string, keyFile: string, now = new Date()): TlsCredentials {
  const read = (file: string, what: string): string => {
    try {
      return readFileSync(file, 'utf8');
    } catch (err) {
      throw new CertificateError(`cannot read the TLS ${what} ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  };
  return check(read(keyFile, 'key'), read(certFile, 'certificate'), certFile, now);
}

/**
 * The development pair in `dir` (`dev-cert.pem`, `dev-key.pem`, key mode 0600), generated for
 * `altNames` when absent, unreadable, expiring within 30 days, or missing one of `altNames`.
 */
export function developmentCredentials(dir: string, altNames: readonly string[], now = new Date()): TlsCredentials & { generated: boolean } {
  const certFile = join(dir, 'dev-cert.pem');
  const keyFile = join(dir, 'dev-key.pem');
  if (existsSync(certFile) && existsSync(keyFile)) {
    try {
      const found = loadTlsCredentials(certFile, keyFile, now);
      const x509 = new X509Certificate(found.cert);
      const covers = altNames.every((n) => (n.includes(':') || /^\d+\.\d+\.\d+\.\d+$/.test(n) ? x509.checkIP(n) : x509.checkHost(n)) !== undefined);
      if (covers && found.validTo.getTime() - now.getTime() > RENEW_BEFORE_MS) return { ...found, generated: false };
    } catch (err) {
      if (!(err instanceof CertificateError)) throw err;
      // A broken or expired development pair is simply replaced below.
    }
  }
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const pair = createSelfSignedCertificate({ altNames, now });
  // Written under temporary names and renamed, so a crash never leaves a key without its certificate.
  writeFileSync(`${keyFile}.tmp`, pair.key, { mode: 0o600 });
  chmodSync(`${keyFile}.tmp`, 0o600);
  writeFileSync(`${certFile}.tmp`, pair.cert, { mode: 0o644 });
  renameSync(`${keyFile}.tmp`, keyFile);
  renameSync(`${certFile}.tmp`, certFile);
  return { ...check(pair.key, pair.cert, certFile, now), generated: true };
}
