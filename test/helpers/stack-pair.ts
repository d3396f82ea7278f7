/**
 * Two real SipStacks on loopback ephemeral ports for a test's exchange, stopped afterwards however
 * the test ends; and the smallest SDP offer a stack will carry.
 */
import { SipStack } from '../../src/sip/sip-stack.js';

export const MINIMAL_SDP = Buffer.from('v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n');

export async function withStackPair(fn: (a: SipStack, b: SipStack) => Promise<void>, userAgents: [string, string] = ['a', 'b']): Promise<void> {
  const a = new SipStack({ host: '127.0.0.1', port: 0, userAgent: userAgents[0] });
  const b = new SipStack({ host: '127.0.0.1', port: 0, userAgent: userAgents[1] });
  await a.start();
  await b.start();
  try {
    await fn(a, b);
  } finally {
    await a.stop();
    await b.stop();
  }
}
