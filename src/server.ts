/**
 * Composition root: reads the typed config, builds every part (store, SIP stack, media clock,
 * speech, webhooks, call engine, HTTP API), wires their events, and stops them in order.
 * Shutdown drains: new calls get 503, live calls get a grace period, then end cleanly with records.
 */
import { join } from 'node:path';
import { mkdirSync } from 'node:fs';
import { hostname, networkInterfaces } from 'node:os';
import type { Logger } from 'pino';
import { createLogger } from './logging/logger.js';
import type { PatchbayConfig } from './config.js';
import { PgliteStore } from './store/pglite-store.js';
import { SipStack } from './sip/sip-stack.js';
import { SourceGuard } from './sip/source-guard.js';
import { developmentCredentials, loadTlsCredentials, type TlsCredentials } from './sip/tls-credentials.js';
import { attachSourceGuardMetrics } from './api/source-guard-metrics.js';
import type { IncomingInvite } from './sip/incoming-invite.js';
import { MediaClock } from './media/media-clock.js';
import { PortAllocator } from './media/port-allocator.js';
import { MediaFetcher } from './media/media-fetcher.js';
import { EspeakTts } from './speech/espeak-tts.js';
import { CachedTts } from './speech/tts-cache.js';
import { TtsRouter } from './speech/tts-router.js';
import { ElevenLabsTts } from './speech/elevenlabs-tts.js';
import { OpenAiTts } from './speech/openai-tts.js';
import { TelephonySpeech } from './speech/telephony-speech.js';
import { RecognizerCatalog } from './speech/recognizer-catalog.js';
import { PocketsphinxRecognizer } from './speech/pocketsphinx-recognizer.js';
import { DeepgramRecognizer } from './speech/deepgram-recognizer.js';
import { OpenAiRecognizer } from './speech/openai-recognizer.js';
import { WebSocketRecognizer } from './speech/websocket-recognizer.js';
import { accountRecognizers } from './speech/account-recognizers.js';
import { closeInterruptedRecordings } from './store/recording-recovery.js';
import { CallRecordings } from './calls/call-recordings.js';
import { WebhookClient } from './webhooks/webhook-client.js';
import { EgressPolicy } from './webhooks/egress-policy.js';
import { mediaHttpGet } from './webhooks/media-http-get.js';
import { StatusCallbackSender } from './webhooks/status-callback-sender.js';
import { CallRegistry } from './calls/call-registry.js';
import { CallRecorder } from './calls/call-recorder.js';
import { StatusNotifier, type StatusCallbackEvent } from './calls/status-notifier.js';
import { ApplicationRunner, DEFAULT_APOLOGY } from './calls/application-runner.js';
import { AccountCallLimits } from './calls/account-call-limits.js';
import { authenticateCarrier } from './calls/carrier-auth.js';
import { InboundPolicy } from './calls/inbound-policy.js';
import { InboundRouter } from './calls/inbound-router.js';
import { RouteLookup } from './calls/route-lookup.js';
import { OutboundDialer } from './calls/outbound-dialer.js';
import { DialTargets } from './calls/dial-targets.js';
import { OutboundQueue } from './calls/outbound-queue.js';
import { CallCommands } from './calls/call-commands.js';
import { systemClock } from './sip/clock.js';
import { DigestServer } from './sip/digest.js';
import { Registrar } from './calls/registrar.js';
import { CarrierRegistrations } from './calls/carrier-registrations.js';
import { CallMetrics } from './calls/call-metrics.js';
import { createHttpServer } from './api/http-server.js';
import { metrics } from './api/metrics.js';
import type { Call, CallDeps } from './calls/call.js';
import { DialConnector } from './calls/dial-connector.js';

export interface RunningServer {
  readonly sipPort: number;
  /** Bound TLS, WS and WSS ports; null for a transport that is off. */
  readonly sipTransportPorts: { tls: number | null; ws: number | null; wss: number | null };
  readonly httpPort: number;
  readonly accountSid: string;
  readonly authToken: string;
  readonly registry: CallRegistry;
  stop(reason?: string): Promise<void>;
}

/** The address peers should use to reach us when we are bound to every interface. */
function defaultPublicAddress(bind: string): string {
  if (bind !== '0.0.0.0' && bind !== '::') return bind;
  for (const addrs of Object.values(networkInterfaces())) {
    for (const a of addrs ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return '127.0.0.1';
}

/**
 * The certificate for SIP TLS and WSS: the configured PEM pair (unreadable or invalid: the start
 * fails), else in development a self-signed pair kept in <dataDir>/tls, else none (TLS/WSS off).
 */
function sipCertificate(config: PatchbayConfig, publicAddress: string, logger: Logger): TlsCredentials | null {
  const t = config.sipTransports;
  if (t.tlsPort === null && t.wssPort === null) return null;
  if (t.certFile !== null && t.keyFile !== null) return loadTlsCredentials(t.certFile, t.keyFile);
  if (config.mode === 'production') {
    logger.warn('no --tls-cert/--tls-key: SIP over TLS and WSS are off (production never uses a self-signed certificate)');
    return null;
  }
  const wildcard = config.sipHost === '0.0.0.0' || config.sipHost === '::';
  const host = hostname();
  const names = [...new Set(['localhost', '127.0.0.1', '::1', publicAddress, ...(wildcard ? [] : [config.sipHost]), ...(/^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$/.test(host) ? [host] : [])])];
  const dev = developmentCredentials(join(config.dataDir, 'tls'), names);
  logger.warn({ cert: dev.source, names: dev.names, generated: dev.generated }, 'SIP TLS/WSS use a self-signed development certificate: phones and browsers must be told to trust it (set --tls-cert/--tls-key for a real one)');
  return dev;
}

export async function startServer(config: PatchbayConfig, opts: { logger?: Logger } = {}): Promise<RunningServer> {
  const logger = opts.logger ?? createLogger({ level: config.logLevel });
  mkdirSync(config.dataDir, { recursive: true });
  // Before anything is opened: a configured certificate that cannot be used stops the start here.
  const certificate = sipCertificate(config, config.publicIp ?? defaultPublicAddress(config.sipHost), logger);

  const store = await PgliteStore.open(join(config.dataDir, 'db'));
  const closed = await store.closeInterruptedCalls('process-restart', new Date().toISOString());
  if (closed > 0) logger.warn({ closed }, 'closed calls interrupted by a previous crash');
  const recovered = await closeInterruptedRecordings(store, config.dataDir);
  if (recovered.completed.length + recovered.absent.length + recovered.failed.length > 0) {
    logger.warn({ completed: recovered.completed.length, absent: recovered.absent.length, failed: recovered.failed }, 'closed recordings interrupted by a previous crash');
  }
  const { account, created } = await store.ensureAccount({ sid: config.accountSid ?? undefined, authToken: config.authToken ?? undefined });
  if (created && !config.authToken) {
    // Printed once, on the first start: the token is stored and never logged again.
    process.stdout.write(`\nPatchbay account created.\n  Account SID: ${account.sid}\n  Auth token:  ${account.authToken}\n  (set PATCHBAY_ACCOUNT_SID / PATCHBAY_AUTH_TOKEN to choose your own)\n\n`);
  }

  const publicAddress = config.publicIp ?? defaultPublicAddress(config.sipHost);
  // A 2 ms precision margin: ticks start within ~0.1 ms of their due time instead of Node's 1 ms timer granularity.
  const clock = new MediaClock({ precisionMarginMs: 2, onError: (err: unknown) => logger.error({ err: (err as Error).message }, 'media clock subscriber failed') });
  clock.start();
  const ports = new PortAllocator(config.rtpPortMin, config.rtpPortMax);
  // Voices route by name: ElevenLabs.<id> and OpenAI.<voice> go to those engines when their keys are set.
  const voices = new TtsRouter({
    default: new EspeakTts(),
    ...(config.speech.elevenlabsApiKey ? { elevenLabs: new ElevenLabsTts({ apiKey: config.speech.elevenlabsApiKey }) } : {}),
    ...(config.speech.openaiApiKey ? { openAi: new OpenAiTts({ apiKey: config.speech.openaiApiKey }) } : {}),
    onWarning: (message) => logger.warn({ message }, 'text-to-speech'),
  });
  const tts = new CachedTts(voices, { cacheDir: join(config.dataDir, 'tts-cache') });
  const speech = new TelephonySpeech(tts);
  // Every connection to an app-supplied URL (documents, callbacks, <Play>, streams) follows one policy.
  const egress = new EgressPolicy({
    blockPrivate: config.appUrls.blockPrivate,
    allowedNetworks: config.appUrls.allowedNetworks,
    ...(config.appUrls.caPem ? { extraCa: config.appUrls.caPem } : {}),
  });
  const fetcher = new MediaFetcher({
    cacheDir: join(config.dataDir, 'media-cache'),
    maxBytes: config.appUrls.mediaMaxBytes,
    httpGet: mediaHttpGet(egress),
    // A tenant's <Play> must not read the server's files (other tenants' recordings) when tenants are untrusted.
    allowFiles: !config.appUrls.blockPrivate,
  });
  // Speech recognizers: the embedded one always; cloud and custom engines when configured.
  // Accounts may choose their default engine and language, and bring their own keys (/v1/account/speech).
  const recognizers = new RecognizerCatalog({
    engines: [
      new PocketsphinxRecognizer({ workDir: join(config.dataDir, 'asr') }),
      ...(config.speech.deepgramApiKey ? [new DeepgramRecognizer({ apiKey: config.speech.deepgramApiKey })] : []),
      ...(config.speech.openaiApiKey ? [new OpenAiRecognizer({ apiKey: config.speech.openaiApiKey })] : []),
      ...(config.speech.recognizerUrl ? [new WebSocketRecognizer({ url: config.speech.recognizerUrl })] : []),
    ],
    defaultEngine: config.speech.defaultRecognizer,
    accountSettings: (accountSid) => store.getSpeechSettings(accountSid),
    accountEngine: accountRecognizers,
  });
  const webhooks = new WebhookClient({ egress });
  const statusSender = new StatusCallbackSender(webhooks, { timeoutMs: config.webhookTimeoutMs });

  // Known once the HTTP port is bound (port 0 picks one); recordings read it when they start.
  let publicUrl = config.publicUrl ?? '';
  const recordings = new CallRecordings({
    store,
    dataDir: config.dataDir,
    publicUrl: () => publicUrl,
    onError: (err) => logger.error({ err: err.message }, 'recording store update failed'),
  });

  const registry = new CallRegistry();
  const recorder = new CallRecorder(store, logger);
  recorder.attach(registry);
  const statusEvents = new Set<StatusCallbackEvent>(config.statusCallbackEvents);
  const notifier = new StatusNotifier(statusSender, () =>
    config.statusCallback ? { url: config.statusCallback, method: config.statusCallbackMethod, events: statusEvents } : null,
  );
  notifier.attach(registry);
  const callMetrics = new CallMetrics(metrics, clock);
  callMetrics.attach(registry);
  registry.on('call', (call: Call) => {
    const log = logger.child({ callSid: call.sid, sipCallId: call.info.sipCallId });
    call.on('status', (status: string) => log.info({ status }, 'call status'));
    call.on('event', (e: { type: string; detail: Record<string, unknown> }) => {
      if (e.type === 'error') log.warn(e.detail, 'call error');
    });
  });

  const runner = new ApplicationRunner({ webhooks, timeoutMs: config.webhookTimeoutMs, apology: DEFAULT_APOLOGY });
  const callDeps: CallDeps = {
    media: { bindAddress: config.sipHost === '::' ? '::' : config.sipHost, publicAddress, ports, clock },
    speech,
    fetcher,
    recognizers,
    // Partial results, recording status...: queued per call with the status callbacks, signed the same way.
    callbacks: { send: (callSid: string, url: string, method: 'GET' | 'POST', params: Record<string, string>, authToken: string) => statusSender.enqueue({ callSid, url, method, params, authToken }) },
    recordings,
    // Media Streams: handshakes signed like webhooks; an app that does not answer within 5 s fails the stream (31920).
    streams: { connectTimeoutMs: 5000, egress },
  };

  // SIP users authenticate with digest (REGISTER and their own calls); the realm binds their stored secrets.
  const digest = new DigestServer({ realm: config.sipRealm });
  const routes = new RouteLookup({
    store,
    defaultAccount: account,
    catchAll: () => (config.voiceUrl ? { url: config.voiceUrl, method: config.voiceMethod, fallbackUrl: config.fallbackUrl, fallbackMethod: config.fallbackMethod } : null),
    digest,
    algorithms: config.sipDigestAlgorithms,
    onAuthFailure: (source) => stack.reportAuthFailure(source),
  });
  // Who may call in: carriers' inboundAddresses, SIP users (callerRoute), loopback in development.
  const inboundPolicy = new InboundPolicy({ mode: config.mode, carriers: () => store.allEnabledCarriers() });
  const refusedInvites = metrics.counter('patchbay_sip_invites_refused_total', 'INVITEs refused with 403: not from a configured carrier, a SIP user or (in development) loopback');
  // One tenant's numbers cannot take the whole server: each account has its own inbound rate and live-call cap.
  const accountLimits = new AccountCallLimits({ maxLiveCalls: config.accountInboundMaxCalls, callsPerSecond: config.accountInboundCallsPerSecond, clock: systemClock }, registry);
  const overLimit = metrics.counter('patchbay_sip_invites_over_limit_total', "INVITEs refused with 503 by the owning account's limits", ['limit']);
  const router = new InboundRouter(
    {
      maxCalls: config.maxCalls,
      admitSource: (address) => inboundPolicy.admitSource(address),
      // A carrier without a fixed address proves itself by digest (407) with its inbound credentials.
      authenticateCarrier: (invite) =>
        authenticateCarrier(invite, {
          findByInboundUsername: (username) => inboundPolicy.digestCarrier(username),
          anyDigestCarrier: () => inboundPolicy.anyDigestCarrier(),
          digest,
          algorithms: config.sipDigestAlgorithms,
          onAuthFailure: (source) => stack.reportAuthFailure(source),
        }),
      onRefused: (invite) => {
        refusedInvites.inc();
        // A source that keeps calling without being anyone we know is scanning: it counts towards a ban.
        stack.reportAuthFailure(invite.source);
        logger.debug({ sipCallId: invite.callId, source: invite.source.host }, 'INVITE refused: unknown source');
      },
      admitAccount: (accountSid) => accountLimits.admitInbound(accountSid),
      onOverLimit: (invite, accountSid, limit) => {
        overLimit.inc({ limit });
        logger.debug({ sipCallId: invite.callId, accountSid, limit }, 'INVITE refused: account limit');
      },
      // A SIP user's call runs the user's application; others the called number's, else the catch-all.
      callerRoute: (invite) => routes.callerRoute(invite),
      route: (to) => routes.route(to),
      onError: (err, invite) => logger.error({ sipCallId: invite.callId, err: err.message }, 'inbound routing failed'),
    },
    registry,
    callDeps,
    runner,
  );

  // The SIP edge on the open internet: floods and scanners dropped per source before parsing, repeat offenders banned.
  const g = config.sipGuard;
  const guard = new SourceGuard({
    requestsPerSecond: g.requestsPerSecond,
    burst: g.burst,
    banMs: g.banMs,
    authFailuresBeforeBan: g.authFailuresBeforeBan,
    authFailureWindowMs: g.authFailureWindowMs,
    maxConnectionsPerSource: g.maxConnectionsPerSource,
    trusted: g.trustedSources,
    // Carriers' addresses (and loopback in development) are trusted: a trunk legitimately sends far more than one phone.
    isTrusted: (host) => inboundPolicy.isTrustedSource(host),
  });
  const detachGuardMetrics = attachSourceGuardMetrics(metrics, guard);
  const st = config.sipTransports;
  const stack = new SipStack({
    host: config.sipHost,
    port: config.sipPort,
    publicHost: publicAddress,
    userAgent: 'Patchbay/0.1',
    sourceGuard: guard,
    // TLS and WSS need the certificate; WS does not (it is often behind a TLS-terminating proxy).
    ...(certificate && st.tlsPort !== null ? { tls: { port: st.tlsPort, key: certificate.key, cert: certificate.cert } } : {}),
    ...(st.wsPort !== null ? { ws: { port: st.wsPort } } : {}),
    ...(certificate && st.wssPort !== null ? { wss: { port: st.wssPort, key: certificate.key, cert: certificate.cert } } : {}),
  });
  stack.on('ban', (e) => logger.warn({ source: e.source, reason: e.reason, renewed: e.renewed, seconds: g.banMs / 1000 }, 'SIP source banned'));
  stack.on('unban', (e) => logger.info({ source: e.source, reason: e.reason }, 'SIP source released'));
  stack.on('invite', (invite: IncomingInvite) => {
    router.handle(invite).catch((err: unknown) => {
      logger.error({ sipCallId: invite.callId, err: (err as Error).message }, 'INVITE handling failed');
      if (!invite.finalResponseSent) invite.respond(500);
    });
  });
  // SIP users' devices register here (RFC 3261 §10.3); bindings live in memory, phones re-register after a restart.
  const registrar = new Registrar({
    users: store,
    digest,
    algorithms: config.sipDigestAlgorithms,
    minExpires: config.registerMinExpires,
    maxExpires: config.registerMaxExpires,
    onAuthFailure: (source) => stack.reportAuthFailure(source),
  });
  registrar.on('changed', (c) => logger.info({ username: c.username, reason: c.reason, bindings: c.bindings.length }, 'registrations changed'));
  stack.on('register', (req, source, respond) => {
    let answered = false;
    const once: typeof respond = (status, o) => {
      answered = true;
      respond(status, o);
    };
    registrar.handleRegister(req, source, once).catch((err: unknown) => {
      logger.error({ sipCallId: req.headers.get('call-id'), err: (err as Error).message }, 'REGISTER handling failed');
      if (!answered) respond(500);
    });
  });
  await stack.start();
  // Carriers with register: true get a REGISTER binding from us, kept in step with /v1/carriers.
  const carrierRegistrations = new CarrierRegistrations({
    carriers: store,
    stack,
    onError: (err) => logger.error({ err: err.message }, 'carrier registrations'),
    onStatus: (carrierSid, s) => {
      if (s.state === 'failed') logger.warn({ carrierSid, ...s }, 'carrier registration failed');
      else logger.info({ carrierSid, ...s }, 'carrier registration');
    },
  });
  await carrierRegistrations.start();

  // Outbound calls from the API: queued per account (calls per second, live calls), then dialled.
  let draining = false;
  const queue = new OutboundQueue(() => ({ maxConcurrent: config.accountMaxCalls, callsPerSecond: config.accountCallsPerSecond }), systemClock, (err) =>
    logger.error({ err: err.message }, 'outbound call failed'),
  );
  const localSipHost = `${publicAddress.includes(':') ? `[${publicAddress}]` : publicAddress}:${stack.udpPort}`;
  const dialer = new OutboundDialer({ invite: (o) => stack.invite(o), media: callDeps.media, runner }, localSipHost);
  // Phone numbers go through the account's carriers; users' devices through the registrar.
  const targets = new DialTargets({ carriers: store, registrations: registrar, localHosts: [localSipHost] });
  // <Dial> and <Refer>: child legs are calls like any other (registry, records, callbacks).
  // `users`: a user's devices are offered SRTP under the user's policy.
  callDeps.connector = new DialConnector({ registry, dialer, targets, runner, recordings, callDeps, users: store });
  const commands = new CallCommands({
    registry,
    runner,
    dialer,
    targets,
    queue,
    callDeps,
    applications: store,
    localSipHost,
    accepting: () => !draining,
    users: store,
  });

  let ready = false;
  const http = createHttpServer({
    store,
    accountSid: account.sid,
    isReady: () => ready,
    metrics: () => metrics.render(),
    metricsAuth: config.metricsAuth,
    // Request lines at debug, unexpected errors at error; credentials are redacted by createLogger.
    logger,
    dataDir: config.dataDir,
    liveCalls: registry,
    calls: commands,
    speech: { serverRecognizers: recognizers.names, defaultRecognizer: config.speech.defaultRecognizer },
    // /v1/users stores HA1s for this realm; /v1/registrations reads the registrar's live bindings.
    sipRealm: config.sipRealm,
    registrations: registrar,
    carrierRegistrations,
    ...(config.publicUrl ? { publicBaseUrl: config.publicUrl } : {}),
  });
  await http.listen({ host: config.httpHost, port: config.httpPort });
  const address = http.server.address();
  const httpPort = typeof address === 'object' && address ? address.port : config.httpPort;
  if (!config.publicUrl) {
    const host = config.httpHost === '0.0.0.0' || config.httpHost === '::' ? publicAddress : config.httpHost;
    publicUrl = `http://${host.includes(':') ? `[${host}]` : host}:${httpPort}`;
  }
  ready = true;
  logger.info({ sip: `${config.sipHost}:${stack.udpPort}`, sipTls: stack.portOf('tls'), sipWs: stack.portOf('ws'), sipWss: stack.portOf('wss'), http: `${config.httpHost}:${httpPort}`, publicAddress, voiceUrl: config.voiceUrl, mode: config.mode }, 'Patchbay is ready');

  let stopping: Promise<void> | null = null;
  async function stop(reason = 'shutdown'): Promise<void> {
    ready = false;
    draining = true;
    router.stopAccepting();
    queue.close();
    logger.info({ live: registry.size, graceMs: config.drainGraceMs, reason }, 'draining');
    const left = await registry.waitIdle(config.drainGraceMs);
    if (left > 0) {
      logger.warn({ left }, 'grace period over: ending live calls');
      // Each call's record is final as soon as hangup starts; only the BYE's answer is waited for, and a
      // peer that never answers (64×T1 = 32 s) must not hold the shutdown.
      await Promise.race([Promise.all(registry.list().map((c) => c.hangup('shutdown'))), new Promise((r) => setTimeout(r, 5000).unref())]);
    }
    // Recordings are finished (file final, row updated, callbacks queued) before the call records
    // are flushed and the store closes; otherwise they would be left to crash recovery.
    await recordings.flush(5000);
    await recorder.flush();
    await statusSender.drain(5000);
    await carrierRegistrations.stop(); // unregisters (Expires: 0) while the stack can still send
    await stack.stop();
    detachGuardMetrics();
    guard.dispose();
    registrar.close();
    clock.stop();
    await http.close();
    await tts.close?.();
    await recognizers.close();
    await store.close();
    logger.info('stopped');
  }

  return {
    sipPort: stack.udpPort,
    sipTransportPorts: { tls: stack.portOf('tls'), ws: stack.portOf('ws'), wss: stack.portOf('wss') },
    httpPort,
    accountSid: account.sid,
    authToken: account.authToken,
    registry,
    stop: (reason?: string) => (stopping ??= stop(reason)),
  };
}
