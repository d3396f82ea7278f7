/**
 * The call engine's side of the REST API (CallService): places outbound calls (validated, queued
 * per account, dialled) and applies live changes to any call of this process, inbound or
 * outbound, whatever its state: redirect (new URL or inline TwiML, which aborts the running verb
 * or fetch), hang up, cancel, new status callback, time limit.
 */
import { newSid } from '../ids.js';
import { parseUri } from '../sip/uri.js';
import { readTwiml } from '../verbs/twiml-reader.js';
import { VerbDocumentError } from '../verbs/verb-errors.js';
import type { Account, ApplicationStore, CallRecord, SipUserStore } from '../store/store-types.js';
import { Call, type CallDeps } from './call.js';
import { callRecordOf } from './call-recorder.js';
import type { CallRegistry } from './call-registry.js';
import { CallRequestError, type CallCreateRequest, type CallService, type CallUpdateRequest } from './call-service.js';
import type { ApplicationRunner, ApplicationTarget, InlineDocument } from './application-runner.js';
import type { OutboundDialer } from './outbound-dialer.js';
import type { OutboundQueue, QueuedCall } from './outbound-queue.js';
import type { StatusCallbackEvent } from './status-notifier.js';
import { DialTargetError, isPhoneNumber, type DialTargets } from './dial-targets.js';
import type { SipAttempt } from './carrier-routes.js';

export interface CallCommandsDeps {
  registry: CallRegistry;
  runner: ApplicationRunner;
  dialer: OutboundDialer;
  queue: OutboundQueue;
  callDeps: CallDeps;
  applications: Pick<ApplicationStore, 'getApplication'>;
  /** Phone numbers through carriers, `client:` users through their registrations, SIP URIs as written. */
  targets: DialTargets;
  /** Host (and port) for From URIs built from a bare user (`sip:+15550100@host`). */
  localSipHost: string;
  /** False while draining: no new calls. */
  accepting: () => boolean;
  /** SIP users, for their SRTP policy when called; absent: offered as 'optional'. */
  users?: Pick<SipUserStore, 'findSipUser'>;
}

const DEFAULT_RING_SECONDS = 60;
const MAX_RING_SECONDS = 600;
const USER_PART = /^[A-Za-z0-9+._~*#!$&'()=;?/-]{1,64}$/;

/** An outbound call until it is answered: what runs on answer can still change (REST update while ringing). */
interface PendingOutbound {
  application: ApplicationTarget | InlineDocument;
  queued: QueuedCall;
}

function inlineTwiml(twiml: string): InlineDocument {
  try {
    return { verbs: readTwiml(twiml).verbs };
  } catch (err) {
    if (err instanceof VerbDocumentError) throw new CallRequestError(err.code, `Twiml: ${err.message}`);
    throw err;
  }
}

export class CallCommands implements CallService {
  private readonly pending = new Map<string, PendingOutbound>();

  constructor(private readonly deps: CallCommandsDeps) {}

  async create(account: Account, req: CallCreateRequest): Promise<CallRecord> {
    if (!this.deps.accepting()) throw new CallRequestError(20503, 'Patchbay is shutting down and places no new calls', 503);
    const credentials = this.credentials(req);
    const attempts = await this.attempts(account.sid, req.to, credentials);
    const from = this.fromUri(req.from);
    const { application, statusCallback } = await this.application(account, req);
    const timeout = Math.min(MAX_RING_SECONDS, Math.max(1, Math.round(req.timeout ?? DEFAULT_RING_SECONDS)));
    if (req.sendDigits !== undefined && !/^[0-9A-Dw#*W]{0,32}$/.test(req.sendDigits)) {
      throw new CallRequestError(21604, `SendDigits: at most 32 of 0-9 A-D # * w W, got "${req.sendDigits}"`);
    }

    const call = new Call(
      { sid: newSid('CA'), accountSid: account.sid, authToken: account.authToken, from: req.from, to: req.to, direction: 'outbound-api', sipCallId: '', sourceIp: '', sipHeaders: {} },
      null,
      this.deps.callDeps,
    );
    call.statusCallback = statusCallback;
    if (req.timeLimit !== undefined) call.setTimeLimit(req.timeLimit);
    const pending: PendingOutbound = {
      application,
      queued: {
        start: () =>
          this.deps.dialer.dial(call, {
            attempts,
            from,
            fromDisplayName: req.callerId ?? null,
            timeoutSeconds: timeout,
            sendDigits: req.sendDigits || null,
            application: () => pending.application,
          }),
      },
    };
    this.pending.set(call.sid, pending);
    void call.whenEnded().then(() => {
      this.pending.delete(call.sid);
      this.deps.queue.withdraw(account.sid, pending.queued);
    });
    this.deps.registry.add(call);
    call.note('api.create', { to: req.to, from: req.from, timeout, ...('url' in application ? { url: application.url } : { twiml: true }) });
    this.deps.queue.submit(account.sid, pending.queued);
    return callRecordOf(call);
  }

  async update(account: Account, sid: string, req: CallUpdateRequest): Promise<CallRecord | null> {
    const call = this.deps.registry.get(sid);
    if (!call || call.info.accountSid !== account.sid) return null;
    if (call.ended) throw new CallRequestError(21220, 'Call is not in-progress. Cannot redirect.');
    if (req.statusCallback !== undefined) {
      const events = call.statusCallback?.events ?? new Set<StatusCallbackEvent>(['completed']);
      call.statusCallback = req.statusCallback ? { url: req.statusCallback, method: req.statusCallbackMethod ?? 'POST', events } : null;
    }
    if (req.timeLimit !== undefined) call.setTimeLimit(req.timeLimit);

    if (req.status === 'completed') {
      call.note('api.update', { status: 'completed' });
      await call.hangup('api-hangup');
      return callRecordOf(call);
    }
    if (req.status === 'canceled') {
      // Twilio: cancelling an answered call changes nothing.
      if (!call.answered) {
        call.note('api.update', { status: 'canceled' });
        await call.cancel('api-cancel');
      }
      return callRecordOf(call);
    }

    const target = req.url !== undefined
      ? { url: req.url, method: req.method ?? 'POST', fallbackUrl: req.fallbackUrl ?? null, fallbackMethod: req.fallbackMethod ?? 'POST' }
      : req.twiml !== undefined
        ? inlineTwiml(req.twiml)
        : null;
    if (target) {
      const pending = this.pending.get(sid);
      if (pending && !call.answered) {
        // Not answered yet: the new document is what runs on answer.
        pending.application = target;
        call.note('redirect', 'url' in target ? { url: target.url, beforeAnswer: true } : { twiml: true, beforeAnswer: true });
      } else if (!this.deps.runner.redirect(call, target)) {
        throw new CallRequestError(21220, 'Call is not in-progress. Cannot redirect.');
      }
    }
    return callRecordOf(call);
  }

  live(accountSid: string, sid: string): CallRecord | null {
    const call = this.deps.registry.get(sid);
    return call && call.info.accountSid === accountSid ? callRecordOf(call) : null;
  }

  /** SipAuthUsername and SipAuthPassword come together (Twilio 21223 otherwise). */
  private credentials(req: CallCreateRequest): { username: string; password: string } | null {
    if (req.sipAuthUsername === undefined && req.sipAuthPassword === undefined) return null;
    if (!req.sipAuthUsername || !req.sipAuthPassword) throw new CallRequestError(21223, 'SipAuthUsername and SipAuthPassword must be given together');
    return { username: req.sipAuthUsername, password: req.sipAuthPassword };
  }

  /**
   * Where the INVITE goes: a `sip:` URI as written (a local user's URI rings the user), `client:x`
   * the user's most recently registered device, a phone number through the account's carriers (in
   * failover order).
   */
  private async attempts(accountSid: string, to: string, credentials: SipAttempt['credentials']): Promise<SipAttempt[]> {
    if (!to) throw new CallRequestError(21201, "No 'To' number is specified");
    const { targets } = this.deps;
    try {
      if (/^sips?:/i.test(to)) {
        const uri = parseUri(to);
        if (!uri || !uri.host || uri.headers.size > 0) throw new CallRequestError(21211, `Invalid 'To': "${to}" is not a valid SIP URI`);
        const user = targets.localUser(to);
        if (user !== null) return await this.userDevice(accountSid, user, to);
        return [targets.sipAttempt(to, [], credentials)];
      }
      if (/^client:/i.test(to)) return await this.userDevice(accountSid, to.slice(7), to);
      if (isPhoneNumber(to)) return await targets.numberAttempts(accountSid, to);
    } catch (err) {
      if (err instanceof DialTargetError) throw new CallRequestError(21211, `Invalid 'To': ${err.message}`);
      throw err;
    }
    throw new CallRequestError(21211, `Invalid 'To': "${to}" is neither a phone number, a client: user nor a sip: URI`);
  }

  /**
   * A REST call reaches one device: the one that registered last (a `<Dial><Client>` rings them
   * all), offered SRTP under the user's policy.
   */
  private async userDevice(accountSid: string, username: string, to: string): Promise<SipAttempt[]> {
    const devices = this.deps.targets.clientAttempts(accountSid, username);
    if (devices.length === 0) throw new CallRequestError(21211, `Invalid 'To': "${to}": ${username} has no registered device`);
    const user = await this.deps.users?.findSipUser(username);
    return [{ ...devices[0]!, srtp: user?.srtp ?? 'optional' }];
  }

  private fromUri(from: string): string {
    if (!from) throw new CallRequestError(21213, "No 'From' number is specified");
    if (/^sips?:/i.test(from)) {
      const uri = parseUri(from);
      if (!uri || !uri.host) throw new CallRequestError(21212, `Invalid 'From': "${from}" is not a valid SIP URI`);
      return from;
    }
    if (/^client:/i.test(from)) return `sip:${encodeURIComponent(from.slice(7))}@${this.deps.localSipHost}`;
    if (!USER_PART.test(from)) throw new CallRequestError(21212, `Invalid 'From': "${from}" must be a phone number, a SIP user or a sip: URI`);
    return `sip:${from}@${this.deps.localSipHost}`;
  }

  /** ApplicationSid wins over Url, Url over Twiml (twilio-voice.md §4.1). */
  private async application(account: Account, req: CallCreateRequest): Promise<{ application: ApplicationTarget | InlineDocument; statusCallback: Call['statusCallback'] }> {
    const events = new Set<StatusCallbackEvent>(req.statusCallbackEvent?.length ? req.statusCallbackEvent : ['completed']);
    let statusCallback: Call['statusCallback'] = req.statusCallback ? { url: req.statusCallback, method: req.statusCallbackMethod ?? 'POST', events } : null;
    if (req.applicationSid !== undefined) {
      const app = await this.deps.applications.getApplication(account.sid, req.applicationSid);
      if (!app) throw new CallRequestError(21218, `Invalid ApplicationSid: ${req.applicationSid} is not an application of this account`);
      if (!app.voiceUrl) throw new CallRequestError(21218, `Application ${app.sid} has no VoiceUrl`);
      if (app.statusCallback) statusCallback = { url: app.statusCallback, method: app.statusCallbackMethod, events };
      return { application: { url: app.voiceUrl, method: app.voiceMethod, fallbackUrl: app.voiceFallbackUrl, fallbackMethod: app.voiceFallbackMethod }, statusCallback };
    }
    if (req.url !== undefined) {
      return { application: { url: req.url, method: req.method ?? 'POST', fallbackUrl: req.fallbackUrl ?? null, fallbackMethod: req.fallbackMethod ?? 'POST' }, statusCallback };
    }
    if (req.twiml !== undefined) return { application: inlineTwiml(req.twiml), statusCallback };
    throw new CallRequestError(21205, "A 'Url', 'Twiml' or 'ApplicationSid' parameter is required");
  }
}
