/**
 * A self-signed X.509 v3 certificate (RFC 5280) for development TLS, built from node:crypto alone.
 *
 * node:crypto creates keys and signs but has no certificate builder; rather than pull in an
 * ASN.1/X.509 package tree for one development convenience, this writes the few DER structures a
 * certificate needs: TBSCertificate (§4.1.2), Name with one CN, Validity, the key's SPKI as
 * node exports it, and four extensions (§4.2.1: basicConstraints, keyUsage, extKeyUsage,
 * subjectAltName with the DNS names and IP addresses peers will use). RSA-2048 with SHA-256:
 * what every SIP phone and browser accepts (some older phones lack ECDSA).
 * The certificate is its own CA (cA TRUE, keyCertSign), so a client can trust it by pinning it as
 * its `ca`, the way softphones import a development certificate.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { isIP } from 'node:net';

export interface SelfSignedOptions {
  /** Subject and issuer CN (default: the first DNS name, else `patchbay`). */
  commonName?: string;
  /** DNS names and IP addresses for subjectAltName, e.g. ['localhost', '127.0.0.1', '::1']. */
  altNames: readonly string[];
  /** Validity in days from now (default 825); notBefore is one day back, for clock skew. */
  days?: number;
  /** "Now" (tests). */
  now?: Date;
}

export interface PemPair {
  /** PKCS#8 private key, PEM. */
  key: string;
  /** X.509 certificate, PEM. */
  cert: string;
}

export class CertificateError extends Error {
  override readonly name = 'CertificateError';
  readonly code = 'TLS_CERTIFICATE_INVALID';
}

/** One DER TLV: tag, definite length (short or long form, X.690 §8.1.3), content. */
function tlv(tag: number, ...content: Buffer[]): Buffer {
  const body = Buffer.concat(content);
  const n = body.length;
  let len: Buffer;
  if (n < 0x80) len = Buffer.from([n]);
  else {
    const bytes: number[] = [];
    for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
    len = Buffer.from([0x80 | bytes.length, ...bytes]);
  }
  return Buffer.concat([Buffer.from([tag]), len, body]);
}

const seq = (...c: Buffer[]): Buffer => tlv(0x30, ...c);
const set = (...c: Buffer[]): Buffer => tlv(0x31, ...c);
const octets = (b: Buffer): Buffer => tlv(0x04, b);
const bitString = (b: Buffer): Buffer => tlv(0x03, Buffer.from([0]), b);
const explicit = (n: number, inner: Buffer): Buffer => tlv(0xa0 + n, inner);
const TRUE = Buffer.from([0x01, 0x01, 0xff]);
const NULL = Buffer.from([0x05, 0x00]);

function oid(dotted: string): Buffer {
  const arcs = dotted.split('.').map(Number);
  const out = [40 * arcs[0]! + arcs[1]!];
  for (const arc of arcs.slice(2)) {
    const chunk = [arc & 0x7f];
    for (let v = Math.floor(arc / 128); v > 0; v = Math.floor(v / 128)) chunk.unshift(0x80 | (v & 0x7f));
    out.push(...chunk);
  }
  return tlv(0x06, Buffer.from(out));
}

/** RFC 5280 §4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050. */
function time(d: Date): Buffer {
  const iso = d.toISOString(); // 2024-01-02T03:04:05.000Z
  const digits = iso.slice(0, 19).replace(/[-T:]/g, '') + 'Z';
  return d.getUTCFullYear() < 2050 ? tlv(0x17, Buffer.from(digits.slice(2), 'ascii')) : tlv(0x18, Buffer.from(digits, 'ascii'));
}

/** The 16 bytes of an IPv6 address (embedded IPv4 tails included). */
function ipv6Bytes(address: string): Buffer {
  const words = (part: string): number[] =>
    part === ''
      ? []
      : part.split(':').flatMap((g) => {
          if (!g.includes('.')) return [Number.parseInt(g, 16)];
          const [a, b, c, d] = g.split('.').map(Number) as [number, number, number, number];
          return [(a << 8) | b, (c << 8) | d];
        });
  const gap = address.indexOf('::');
  const head = words(gap < 0 ? address : address.slice(0, gap));
  const tail = gap < 0 ? [] : words(address.slice(gap + 2));
  const all = [...head, ...Array<number>(8 - head.length - tail.length).fill(0), ...tail];
  const out = Buffer.alloc(16);
  all.forEach((w, i) => out.writeUInt16BE(w, i * 2));
  return out;
}

/** GeneralName (§4.2.1.6): dNSName [2] IA5String or iPAddress [7] OCTET STRING. */
function generalName(name: string): Buffer {
  const family = isIP(name);
  if (family === 4) return tlv(0x87, Buffer.from(name.split('.').map(Number)));
  if (family === 6) return tlv(0x87, ipv6Bytes(name));
  if (!/^[A-Za-z0-9*]([A-Za-z0-9.-]*[A-Za-z0-9])?$/.test(name)) throw new CertificateError(`"${name}" is neither an IP address nor a DNS name`);
  return tlv(0x82, Buffer.from(name, 'ascii'));
}

function extension(id: string, critical: boolean, value: Buffer): Buffer {
  return critical ? seq(oid(id), TRUE, octets(value)) : seq(oid(id), octets(value));
}

/** Generates an RSA-2048 key and a self-signed certificate for it (both PEM). */
export function createSelfSignedCertificate(o: SelfSignedOptions): PemPair {
  if (o.altNames.length === 0) throw new CertificateError('a certificate needs at least one subjectAltName');
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const now = o.now ?? new Date();
  const notBefore = new Date(now.getTime() - 86_400_000);
  const notAfter = new Date(now.getTime() + (o.days ?? 825) * 86_400_000);
  const cn = o.commonName ?? o.altNames.find((n) => isIP(n) === 0) ?? 'patchbay';
  const name = seq(set(seq(oid('2.5.4.3'), tlv(0x0c, Buffer.from(cn, 'utf8')))));
  const serial = randomBytes(16);
  serial[0] = (serial[0]! & 0x7f) | 0x40; // positive, and no leading zero byte (DER minimal INTEGER)
  const sha256WithRsa = seq(oid('1.2.840.113549.1.1.11'), NULL);
  // keyUsage bits: digitalSignature (0), keyEncipherment (2), keyCertSign (5); 2 unused bits.
  const keyUsage = Buffer.from([0x03, 0x02, 0x02, 0b1010_0100]);
  const extensions = seq(
    extension('2.5.29.19', true, seq(TRUE)),
    extension('2.5.29.15', true, keyUsage),
    extension('2.5.29.37', false, seq(oid('1.3.6.1.5.5.7.3.1'), oid('1.3.6.1.5.5.7.3.2'))),
    extension('2.5.29.17', false, seq(...o.altNames.map(generalName))),
  );
  const tbs = seq(
    explicit(0, tlv(0x02, Buffer.from([2]))), // v3
    tlv(0x02, serial),
    sha256WithRsa,
    name,
    seq(time(notBefore), time(notAfter)),
    name,
    publicKey.export({ type: 'spki', format: 'der' }),
    explicit(3, extensions),
  );
  const signature = sign('sha256', tbs, privateKey);
  const der = seq(tbs, sha256WithRsa, bitString(signature));
  const b64 = der.toString('base64').replace(/.{1,64}/g, '$&\n');
  return { key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), cert: `-----BEGIN CERTIFICATE-----\n${b64}-----END CERTIFICATE-----\n` };
}

/** True when `key` (PEM) is the private half of `cert`'s public key. */
export function keyMatchesCertificate(key: string, certPublicKey: ReturnType<typeof createPublicKey>): boolean {
  const pub = createPublicKey(createPrivateKey(key));
  return pub.export({ type: 'spki', format: 'der' }).equals(certPublicKey.export({ type: 'spki', format: 'der' }));
}
