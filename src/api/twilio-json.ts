/**
 * Conventions of Twilio's REST JSON shared by every /2010-04-01 resource (twilio-voice.md §0):
 * dates are RFC 2822 in GMT and the API version is always `2010-04-01`.
 */

export const TWILIO_API_VERSION = '2010-04-01';

/** RFC 2822 in GMT, as Twilio's REST JSON writes dates: `Tue, 31 Aug 2010 20:36:28 +0000`. */
export function rfc2822(iso: string): string {
  return new Date(iso).toUTCString().replace(/GMT$/, '+0000');
}

/** The path prefix of one account's Twilio resources, e.g. `/2010-04-01/Accounts/AC…`. */
export function twilioAccountPath(accountSid: string): string {
  return `/${TWILIO_API_VERSION}/Accounts/${accountSid}`;
}
