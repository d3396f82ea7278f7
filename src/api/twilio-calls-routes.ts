/**
 * Twilio-compatible Calls resource (register with prefix `/2010-04-01/Accounts/:AccountSid`).
 * Placeholder: the routes arrive in the next commit.
 */
import type { FastifyPluginAsync } from 'fastify';
import type { CallService } from '../calls/call-service.js';
import type { AccountStore, ApiKeyStore, CallStore, RecordingStore } from '../store/store-types.js';

export interface TwilioCallsRoutesOptions {
  store: CallStore & AccountStore & ApiKeyStore & RecordingStore;
  calls: CallService;
  publicBaseUrl?: string;
}

export const twilioCallsRoutes: FastifyPluginAsync<TwilioCallsRoutesOptions> = async () => {};
