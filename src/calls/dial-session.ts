/**
 * One `<Dial>` on a call: its targets placed as child legs (`outbound-dial`, parentCallSid = the
 * caller), rung all at once or one noun after another; the first to answer wins and the others
 * are cancelled (CANCEL, or BYE for a late answer). The winner hears its whisper document first
 * (it may hang up to refuse), gets its sendDigits, then the caller is answered (if answerOnBridge
 * kept it ringing) and the two are bridged until either hangs up, the caller presses `*`
 * (hangupOnStar), timeLimit runs out or the caller's document is redirected. An answered caller
 * hears ringback (ringTone) while the targets ring.
 * A user's devices are offered SRTP under the user's policy (RFC 4568 SDES, outbound-dialer.ts).
 */
import { newSid } from '../ids.js';
import { ringbackCycle } from '../media/ringback.js';
import { MediaBridge } from '../media/media-bridge.js';
import type { RtpSession } from '../media/rtp-session.js';
import type { HeaderField, SipResponse } from '../sip/message.js';
import type { DialRequest, DialResult } from '../verbs/call-control.js';
import type { DialNoun } from '../verbs/verb-model.js';
import { Call, type CallDeps } from './call.js';
import type { CallRegistry } from './call-registry.js';
import type { CallRecordings } from './call-recordings.js';
import type { ApplicationRunner } from './application-runner.js';
import type { LegPlan, OutboundDialer } from './outbound-dialer.js';
import { DialTargetError, type DialTargets } from './dial-targets.js';
import { bridgeCalls, type BridgeEnd } from './call-bridge.js';
import { DialRecording } from './dial-recording.js';
import { TransferWatch } from './dial-transfer.js';
import type { StatusCallbackEvent } from './status-notifier.js';
import type { SipUserStore } from '../store/store-types.js';
import type { SrtpPolicy } from '../sip/sdes-negotiation.js';

export interface DialSessionDeps {
  registry: CallRegistry;
  dialer: OutboundDialer;
  targets: DialTargets;
  runner: ApplicationRunner;
  recordings: CallRecordings;
  /** Dependencies of the child legs (the same as every call's). */
  callDeps: CallDeps;
  /** SIP users, for their SRTP policy; absent: users' devices are offered SRTP as 'optional'. */
  users?: Pick<SipUserStore, 'findSipUser'>;
}

interface Leg {
  noun: DialNoun;
  call: Call;
  plan: LegPlan;
}

/** X- headers of the answering 200 (DialSipHeader_X-*). */
function xHeaders(res: SipResponse | null): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of res?.headers.fields ?? []) if (/^x-/i.test(f.name)) out[f.name] = f.value;
  return out;
}

/** How long a transferor may stay on after its transfer succeeded before we hang it up. */
const TRANSFEROR_GRACE_MS = 5000;

const sipHeaderFields = (pairs: [string, string][]): HeaderField[] => pairs.map(([name, value]) => ({ name, value }));

export class DialSession {
  private readonly legs: Leg[] = [];
  private recording: DialRecording | null = null;

  constructor(
    private readonly deps: DialSessionDeps,
    private readonly caller: Call,
    private readonly request: DialRequest,
    private readonly signal: AbortSignal,
  ) {}

  async run(): Promise<DialResult> {
    const { caller, request } = this;
    if (!request.answerOnBridge) await caller.answer();
    if (request.record.startsWith('record-from-ringing')) await this.startRecording(true);
    let result: DialResult | null = null;
    try {
      const groups = request.sequential ? request.targets.map((t) => [t]) : [request.targets];
      for (const group of groups) {
        if (caller.ended || this.signal.aborted) break;
        // The caller keeps hearing ringback through the winner's whisper: it is not connected yet.
        const stopRingback = this.startRingback();
        try {
          const winner = await this.ring(group).finally(() => this.stopEarlyMedia());
          if (!winner) continue;
          result = await this.connect(winner, stopRingback);
        } finally {
          stopRingback();
        }
        if (result) break;
      }
    } finally {
      await this.finishRecording();
    }
    // A callee that answered and then refused in its whisper still answered: Twilio says
    // completed, and DialBridged=false tells the app nobody was connected.
    result ??= this.refused && !caller.ended && !this.signal.aborted ? this.answeredResult(this.refused, false) : this.unansweredResult();
    return { ...result, recordingUrl: this.recordingUrl };
  }

  private recordingUrl: string | null = null;

  private async startRecording(ringing: boolean): Promise<void> {
    if (this.recording || this.request.record === 'do-not-record') return;
    try {
      this.recording = await DialRecording.start(this.deps.recordings, this.caller, this.request);
      if (ringing) this.recording.recordRinging();
    } catch (err) {
      this.caller.note('error', { message: `<Dial record>: ${(err as Error).message}` });
    }
  }

  private async finishRecording(): Promise<void> {
    const rec = this.recording;
    this.recording = null;
    if (!rec) return;
    const outcome = await rec.finish();
    if (outcome.status === 'completed') this.recordingUrl = rec.url;
  }

  /** Loops the ringback to an answered caller until stopped. */
  private startRingback(): () => void {
    const { caller } = this;
    if (!caller.answered) return () => undefined;
    const cycle = ringbackCycle(this.request.ringTone ?? 'us');
    if (!cycle) return () => undefined;
    const stop = new AbortController();
    const signal = AbortSignal.any([stop.signal, this.signal, caller.signal]);
    void (async () => {
      while (!signal.aborted) {
        const played = await caller.play(cycle, signal).catch(() => 'aborted' as const);
        if (played !== 'finished') return;
      }
    })();
    return () => stop.abort();
  }

  /**
   * answerOnBridge: the first ringing leg that sends early media (183 with SDP: a carrier's
   * ringback or announcement) is relayed to the still-unanswered caller, who gets a 183 with our
   * SDP. Both directions flow, as in SIP early media: an IVR before the answer can hear keys.
   */
  private async relayEarlyMedia(leg: Leg): Promise<void> {
    const { caller } = this;
    if (!this.request.answerOnBridge || this.early || caller.answered || caller.ended || this.signal.aborted) return;
    const early: { leg: Leg; bridge: MediaBridge | null } = { leg, bridge: null };
    this.early = early;
    let callerRtp: RtpSession;
    try {
      callerRtp = await caller.earlyMedia();
    } catch {
      if (this.early === early) this.early = null;
      return;
    }
    const calleeRtp = leg.call.rtp;
    if (this.early !== early || !calleeRtp || leg.call.ended || leg.call.answered) {
      if (this.early === early) this.early = null;
      return;
    }
    early.bridge = new MediaBridge(callerRtp, calleeRtp);
    caller.note('dial.early-media', { callSid: leg.call.sid });
    // A leg that fails while others still ring stops relaying; another leg's early media may follow.
    void leg.call.whenEnded().then(() => {
      if (this.early === early) this.stopEarlyMedia();
    });
  }

  private stopEarlyMedia(): void {
    this.early?.bridge?.stop();
    this.early = null;
  }

  private early: { leg: Leg; bridge: MediaBridge | null } | null = null;

  /** Places the group's legs at once; resolves with the first to answer, or null when none did. */
  private async ring(group: DialNoun[]): Promise<Leg | null> {
    const legs: Leg[] = [];
    for (const noun of group) legs.push(...(await this.placeable(noun)));
    if (legs.length === 0) return null;
    this.legs.push(...legs);
    const { caller, signal } = this;
    return new Promise<Leg | null>((resolve) => {
      let winner: Leg | null = null;
      let pending = legs.length;
      const withdrawAll = (): void => {
        for (const l of legs) if (l !== winner) void l.call.cancel('dial-abandoned');
      };
      const onGone = (): void => {
        withdrawAll();
      };
      signal.addEventListener('abort', onGone, { once: true });
      caller.signal.addEventListener('abort', onGone, { once: true });
      for (const leg of legs) {
        leg.call.once('early-media', () => void this.relayEarlyMedia(leg));
        this.deps.registry.add(leg.call);
        leg.call.note('dial.leg', { parentCallSid: caller.sid, noun: leg.noun.noun, to: leg.call.info.to });
        void this.deps.dialer.connect(leg.call, leg.plan).then((result) => {
          if (result.answered) {
            if (winner || caller.ended || signal.aborted) {
              void leg.call.hangup('dial-lost');
            } else {
              winner = leg;
              for (const other of legs) if (other !== leg) void other.call.cancel('answered-elsewhere');
              signal.removeEventListener('abort', onGone);
              caller.signal.removeEventListener('abort', onGone);
              resolve(leg);
            }
          }
          if (--pending === 0 && !winner) {
            signal.removeEventListener('abort', onGone);
            caller.signal.removeEventListener('abort', onGone);
            resolve(null);
          }
        });
      }
    });
  }

  /** The child legs a noun rings (a user: one per registered device). */
  private async placeable(noun: DialNoun): Promise<Leg[]> {
    const { caller, request } = this;
    const { targets } = this.deps;
    const from = request.callerId ?? caller.info.from;
    const base = { from, fromDisplayName: null, timeoutSeconds: request.timeout };
    const child = (to: string): Call => this.childCall(noun, to);
    try {
      switch (noun.noun) {
        case 'number': {
          const attempts = await targets.numberAttempts(caller.info.accountSid, noun.number);
          return [{ noun, call: child(noun.number), plan: { ...base, attempts } }];
        }
        case 'sip': {
          const user = targets.localUser(noun.uri);
          if (user !== null) return await this.deviceLegs(noun, user, noun.uri, sipHeaderFields(noun.headers));
          const creds = noun.username && noun.password ? { username: noun.username, password: noun.password } : null;
          const attempt = targets.sipAttempt(noun.uri, sipHeaderFields(noun.headers), creds);
          return [{ noun, call: child(noun.uri), plan: { ...base, attempts: [attempt] } }];
        }
        case 'client': {
          const params = noun.parameters.map(([name, value]) => ({ name: `X-PB-Param-${name}`, value }));
          return await this.deviceLegs(noun, noun.identity, `client:${noun.identity}`, params);
        }
      }
    } catch (err) {
      if (!(err instanceof DialTargetError)) throw err;
      caller.note('dial.unreachable', { noun: noun.noun, code: err.code, message: err.message });
      this.unreachable.push(err.code === 13224 ? 'failed' : 'no-answer');
      return [];
    }
  }

  private readonly unreachable: ('failed' | 'no-answer')[] = [];
  /** The first callee that answered but hung up in its whisper (refused the call). */
  private refused: Call | null = null;

  private async deviceLegs(noun: DialNoun, username: string, to: string, headers: HeaderField[]): Promise<Leg[]> {
    const { caller, request } = this;
    const attempts = this.deps.targets.clientAttempts(caller.info.accountSid, username, headers);
    if (attempts.length === 0) {
      caller.note('dial.unreachable', { noun: noun.noun, to, message: `${username} has no registered device` });
      this.unreachable.push('no-answer');
      return [];
    }
    const from = request.callerId ?? caller.info.from;
    const srtp = await this.userSrtpPolicy(username);
    return attempts.map((attempt) => ({ noun, call: this.childCall(noun, to), plan: { from, fromDisplayName: null, timeoutSeconds: request.timeout, attempts: [attempt], srtp } }));
  }

  /** The user's SRTP policy (registered devices are always the caller's account's users). */
  private async userSrtpPolicy(username: string): Promise<SrtpPolicy> {
    const user = await this.deps.users?.findSipUser(username);
    return user && user.accountSid === this.caller.info.accountSid ? (user.srtp ?? 'optional') : 'optional';
  }

  private childCall(noun: DialNoun, to: string): Call {
    const { caller, request } = this;
    const call = new Call(
      {
        sid: newSid('CA'),
        accountSid: caller.info.accountSid,
        authToken: caller.info.authToken,
        from: request.callerId ?? caller.info.from,
        to,
        direction: 'outbound-dial',
        sipCallId: '',
        sourceIp: '',
        sipHeaders: {},
        parentCallSid: caller.sid,
      },
      null,
      this.deps.callDeps,
    );
    if (noun.statusCallback) {
      call.statusCallback = { url: noun.statusCallback, method: noun.statusCallbackMethod, events: new Set<StatusCallbackEvent>(noun.statusCallbackEvent.length ? noun.statusCallbackEvent : ['completed']) };
    }
    return call;
  }

  /** The winner answered: whisper, digits, answer the caller, bridge. Null when the callee refused in its whisper. */
  private async connect(leg: Leg, stopRingback: () => void): Promise<DialResult | null> {
    const { caller, request, signal } = this;
    const callee = leg.call;
    if (leg.noun.url) {
      callee.note('dial.whisper', { url: leg.noun.url });
      await this.deps.runner.run(callee, { url: leg.noun.url, method: leg.noun.method, fallbackUrl: null, fallbackMethod: 'POST' }, { hangupAtEnd: false });
      if (callee.ended) {
        caller.note('dial.refused', { callSid: callee.sid, by: 'whisper' });
        this.refused ??= callee;
        return null;
      }
    }
    if (leg.noun.noun === 'number' && leg.noun.sendDigits) {
      await callee.sendDigits(leg.noun.sendDigits, callee.signal).catch((err: unknown) => callee.note('error', { message: `sendDigits: ${(err as Error).message}` }));
    }
    stopRingback();
    if (!caller.answered && !caller.ended) {
      try {
        await caller.answer();
      } catch {
        // The caller left while the callee answered.
      }
    }
    if (caller.ended || signal.aborted || callee.ended) {
      await callee.hangup(caller.ended ? 'caller-hangup' : 'dial-abandoned');
      if (caller.ended || signal.aborted) return this.answeredResult(callee, false);
      return null;
    }
    callee.setTimeLimit(request.timeLimit);
    if (request.record.startsWith('record-from-answer')) await this.startRecording(false);
    let current = callee;
    for (;;) {
      // A REFER from the callee (an agent handing the caller over) may swap the leg mid-bridge.
      const watch = new TransferWatch(current, request.referUrl !== null, (target, headers) => this.transferLeg(target, headers));
      const how: BridgeEnd = await bridgeCalls(caller, current, { hangupOnStar: request.hangupOnStar, recording: this.recording }, AbortSignal.any([signal, watch.signal]));
      if (how === 'callee-hangup' && !caller.ended && !signal.aborted) {
        // The transferor may leave before the target answers: the caller hears ringback meanwhile.
        const stopRingback = this.startRingback();
        await watch.settled();
        stopRingback();
      }
      watch.stop();
      caller.note('dial.end', { callSid: current.sid, how, ...(watch.replacement ? { transferredTo: watch.replacement.sid } : {}), ...(watch.appTarget ? { referTo: watch.appTarget } : {}) });
      if (watch.appTarget) {
        if (!current.ended) void this.releaseTransferor(current);
        return { ...this.answeredResult(current, true), referTransferTarget: watch.appTarget };
      }
      const next = watch.replacement;
      if (next && !caller.ended && !signal.aborted) {
        if (!current.ended) void this.releaseTransferor(current);
        next.setTimeLimit(request.timeLimit);
        current = next;
        continue;
      }
      if (next && !next.ended) await next.hangup('caller-hangup');
      if (!current.ended) await current.hangup(how === 'hangup-on-star' ? 'hangup-on-star' : signal.aborted && !caller.ended ? 'parent-redirected' : 'caller-hangup');
      return this.answeredResult(current, true);
    }
  }

  /** A transferor hangs up itself after the final NOTIFY (RFC 5589 §6); one that stays on past the grace gets our BYE. */
  private async releaseTransferor(transferor: Call): Promise<void> {
    const grace = new Promise<void>((resolve) => setTimeout(resolve, TRANSFEROR_GRACE_MS).unref());
    await Promise.race([transferor.whenEnded(), grace]);
    if (!transferor.ended) await transferor.hangup('transferred');
  }

  /** A transfer's new leg (Refer-To): rung like a `<Sip>` noun (or a number for tel:); the answered call or the final status. */
  private async transferLeg(target: string, headers: HeaderField[]): Promise<{ call: Call | null; status: number }> {
    const callbacks = { url: null, method: 'POST' as const, statusCallback: null, statusCallbackMethod: 'POST' as const, statusCallbackEvent: [] };
    const noun: DialNoun = /^tel:/i.test(target)
      ? { noun: 'number', number: target.slice(4).split(';')[0]!, sendDigits: null, ...callbacks }
      : { noun: 'sip', uri: target, headers: headers.map((h): [string, string] => [h.name, h.value]), username: null, password: null, ...callbacks };
    const before = this.legs.length;
    const winner = await this.ring([noun]);
    if (winner) return { call: winner.call, status: 200 };
    const tried = this.legs.slice(before);
    return { call: null, status: tried[tried.length - 1]?.call.sipResponseCode ?? 480 };
  }

  private answeredResult(callee: Call, bridged: boolean): DialResult {
    return {
      status: 'completed',
      callSid: callee.sid,
      durationSeconds: callee.durationSeconds(),
      bridged,
      sipCallId: callee.info.sipCallId || null,
      sipResponseCode: 200,
      sipHeaders: xHeaders(callee.answerResponse),
      recordingUrl: this.recordingUrl,
    };
  }

  /** Nobody answered: the legs' outcomes summed up (all busy → busy; any no-answer → no-answer...). */
  private unansweredResult(): DialResult {
    const last = this.legs[this.legs.length - 1] ?? null;
    const statuses = [...this.legs.map((l) => l.call.state), ...this.unreachable];
    let status: DialResult['status'];
    if (this.caller.ended || this.signal.aborted) status = 'canceled';
    else if (statuses.length > 0 && statuses.every((s) => s === 'busy')) status = 'busy';
    else if (statuses.includes('no-answer')) status = 'no-answer';
    else if (statuses.includes('busy')) status = 'busy';
    else status = 'failed';
    return {
      status,
      callSid: last?.call.sid ?? null,
      durationSeconds: null,
      bridged: false,
      sipCallId: last?.call.info.sipCallId || null,
      sipResponseCode: last?.call.sipResponseCode ?? null,
      sipHeaders: {},
      recordingUrl: this.recordingUrl,
    };
  }
}
