/**
 * Ringback tones (what a caller hears while the far end rings), per country, as ITU-T E.180 /
 * national specifications define them: frequencies and on/off cadence. One cadence cycle of 8 kHz
 * PCM, to be looped by the player.
 *
 * Values follow the ITU-T E.180 Supplement 2 ("Various tones used in national networks", the
 * 2003 edition) unless a national spec is named next to the entry. Three kinds of tone occur:
 *  - a single frequency (most of Europe: 425 Hz);
 *  - two frequencies added (North America 440+480 Hz, UK 400+450 Hz);
 *  - a carrier amplitude-modulated by a low frequency (Japan 400 Hz × 16 Hz, India 400 × 25).
 *
 * Level: each tone component at −13 dBm0, a customary sending level for call-progress tones; for a
 * modulated tone the *mean* power is −13 dBm0. Bursts start and end with a 2 ms raised-cosine
 * ramp: an abrupt start is heard as a click.
 */

/** Twilio's `ringTone` codes: at au bg br be ch cl cn cz de dk ee es fi fr gr hu il in it lt jp mx my nl no nz ph pl pt ru se sg th uk us us-old tw ve za. */
export const RINGBACK_COUNTRIES: readonly string[] = Object.freeze([
  'at', 'au', 'bg', 'br', 'be', 'ch', 'cl', 'cn', 'cz', 'de', 'dk', 'ee', 'es', 'fi', 'fr', 'gr', 'hu', 'il', 'in', 'it',
  'lt', 'jp', 'mx', 'my', 'nl', 'no', 'nz', 'ph', 'pl', 'pt', 'ru', 'se', 'sg', 'th', 'uk', 'us', 'us-old', 'tw', 've', 'za',
]);

type Tone =
  | { kind: 'sum'; hz: readonly number[] }
  /** Carrier `hz` amplitude-modulated by `byHz` with modulation `depth` (0..1). */
  | { kind: 'modulated'; hz: number; byHz: number; depth: number };

interface Ringback {
  tone: Tone;
  /** Milliseconds, alternating on, off, on, off... starting with a tone burst. */
  cadence: readonly number[];
}

const single = (hz: number): Tone => ({ kind: 'sum', hz: [hz] });
const dual = (hz1: number, hz2: number): Tone => ({ kind: 'sum', hz: [hz1, hz2] });
/** 90 % depth where the spec gives none (the customary value in exchange equipment). */
const modulated = (hz: number, byHz: number, depth = 0.9): Tone => ({ kind: 'modulated', hz, byHz, depth });

const EUROPE_425: Ringback = { tone: single(425), cadence: [1000, 4000] };
/** The double ring of the British tradition: 0.4 on, 0.2 off, 0.4 on, 2.0 off. */
const DOUBLE = [400, 200, 400, 2000] as const;

const RINGBACK: Readonly<Record<string, Ringback>> = {
  at: { tone: single(420), cadence: [1000, 5000] },
  au: { tone: dual(413, 438), cadence: DOUBLE }, // ACIF S002: 425 Hz with a 25 Hz beat, as two tones
  bg: EUROPE_425,
  br: EUROPE_425,
  be: { tone: single(425), cadence: [1000, 3000] },
  ch: EUROPE_425,
  cl: { tone: single(400), cadence: [1000, 3000] }, // Telefónica CTC Chile
  cn: { tone: single(450), cadence: [1000, 4000] },
  cz: EUROPE_425,
  de: EUROPE_425,
  dk: EUROPE_425,
  ee: EUROPE_425,
  es: { tone: single(425), cadence: [1500, 3000] },
  fi: EUROPE_425,
  fr: { tone: single(440), cadence: [1500, 3500] },
  gr: EUROPE_425,
  hu: { tone: single(425), cadence: [1250, 3750] },
  il: { tone: single(414), cadence: [1000, 3000] },
  in: { tone: modulated(400, 25), cadence: DOUBLE },
  it: EUROPE_425,
  lt: EUROPE_425,
  jp: { tone: modulated(400, 16), cadence: [1000, 2000] }, // NTT: 400 Hz modulated by 16 Hz
  mx: EUROPE_425,
  my: { tone: single(425), cadence: DOUBLE },
  nl: EUROPE_425,
  no: EUROPE_425,
  nz: { tone: dual(400, 450), cadence: DOUBLE }, // Telepermit TNA 102
  ph: { tone: dual(425, 480), cadence: [1000, 4000] },
  pl: EUROPE_425,
  pt: { tone: single(425), cadence: [1000, 5000] },
  ru: EUROPE_425, // GOST R 45.223-2001 (also most of the former Soviet Union)
  se: { tone: single(425), cadence: [1000, 5000] },
  sg: { tone: modulated(425, 24, 1), cadence: DOUBLE }, // IDA TS PSTN1: 425 Hz × 24 Hz, 100 % depth
  th: { tone: single(420), cadence: [1000, 5000] },
  uk: { tone: dual(400, 450), cadence: DOUBLE }, // BT SIN 350
  us: { tone: dual(440, 480), cadence: [2000, 4000] }, // the Precise Tone Plan
  'us-old': { tone: modulated(420, 40), cadence: [2000, 4000] }, // Bell System before the Precise Tone Plan
  tw: { tone: dual(440, 480), cadence: [1000, 2000] },
  ve: EUROPE_425,
  za: { tone: modulated(400, 33), cadence: DOUBLE }, // Telkom (Siemens exchanges); Alcatel ones use 383+417 Hz
};

const SAMPLE_RATE = 8000;
/**
 * Peak of a 0 dBm0 sine in 16-bit linear PCM. G.711 puts its overload point (a full-scale sine,
 * peak 8159 in µ-law's 14-bit units = 32636 in 16-bit) at +3.17 dBm0.
 */
const DBM0_PEAK = 32636 / 10 ** (3.17 / 20);
const TONE_PEAK = DBM0_PEAK * 10 ** (-13 / 20);
const RAMP_SAMPLES = 16; // 2 ms

const cache = new Map<string, Int16Array>();

/** One cadence cycle (tone bursts and their silences) of `country`'s ringback, 8 kHz mono PCM; null for an unknown code. */
export function ringbackCycle(country: string): Int16Array | null {
  const code = country.trim().toLowerCase();
  const spec = Object.hasOwn(RINGBACK, code) ? RINGBACK[code] : undefined;
  if (!spec) return null;
  let cycle = cache.get(code);
  if (!cycle) {
    cycle = render(spec);
    cache.set(code, cycle);
  }
  return cycle.slice(); // callers own their copy; the cached one stays pristine
}

function render(spec: Ringback): Int16Array {
  const lengths = spec.cadence.map((ms) => Math.round((ms * SAMPLE_RATE) / 1000));
  const out = new Int16Array(lengths.reduce((a, b) => a + b, 0));
  let at = 0;
  lengths.forEach((n, i) => {
    if (i % 2 === 0) burst(spec.tone, out, at, n);
    at += n;
  });
  return out;
}

/** Write `n` samples of `tone` at `out[start]`, phase starting at 0, with ramps at both ends. */
function burst(tone: Tone, out: Int16Array, start: number, n: number): void {
  for (let i = 0; i < n; i++) {
    const t = i / SAMPLE_RATE;
    let v: number;
    if (tone.kind === 'sum') {
      v = 0;
      for (const hz of tone.hz) v += Math.sin(2 * Math.PI * hz * t);
      v *= TONE_PEAK;
    } else {
      // Mean power of (1 + m·sin)·sin is (1 + m²/2)/2: scale so it matches a −13 dBm0 sine.
      const peak = TONE_PEAK / Math.sqrt(1 + (tone.depth * tone.depth) / 2);
      v = peak * (1 + tone.depth * Math.sin(2 * Math.PI * tone.byHz * t)) * Math.sin(2 * Math.PI * tone.hz * t);
    }
    const edge = Math.min(i, n - 1 - i);
    if (edge < RAMP_SAMPLES) v *= 0.5 - 0.5 * Math.cos((Math.PI * edge) / RAMP_SAMPLES);
    out[start + i] = Math.round(v);
  }
}
