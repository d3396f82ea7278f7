/**
 * Ringback tones (what a caller hears while the far end rings), per country, as ITU-T E.180 /
 * national specifications define them: frequencies and on/off cadence. One cadence cycle of 8 kHz
 * PCM, to be looped by the player.
 *
 * CONTRACT (written before the implementation; keep the exported names and shapes).
 */

/** Twilio's `ringTone` codes: at au bg br be ch cl cn cz de dk ee es fi fr gr hu il in it lt jp mx my nl no nz ph pl pt ru se sg th uk us us-old tw ve za. */
export declare const RINGBACK_COUNTRIES: readonly string[];

/** One cadence cycle (tone bursts and their silences) of `country`'s ringback, 8 kHz mono PCM; null for an unknown code. */
export declare function ringbackCycle(country: string): Int16Array | null;
