/**
 * The HTTP server: health, Prometheus metrics and the REST APIs (native `/v1`, Twilio-compatible
 * `/2010-04-01/Accounts/:AccountSid`), as fastify plugins, plus the native API's OpenAPI document
 * (`/v1/openapi.json`). The composition root builds it, may register more route plugins on the
 * returned instance, then calls `listen()`. Errors anywhere become coded JSON (api-errors.ts).
 */
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { CallService } from '../calls/call-service.js';
import type { RegistrationDirectory } from '../calls/registrar-types.js';
import type {
  AccountStore,
  ApiKeyStore,
  ApplicationStore,
  CallStore,
  CarrierStore,
  NumberStore,
  RecordingStore,
  SipUserStore,
} from '../store/store-types.js';
import { installErrorHandlers } from './api-errors.js';
import { apiKeysResource } from './api-keys.js';
import { applicationsResource } from './applications.js';
import { carriersResource } from './carriers.js';
import type { CarrierRegistrationView } from '../calls/carrier-registrations.js';
import type { ConfigRecord, ConfigResource, TypedResourceInput } from './config-resource.js';
import { incomingNumbersResource } from './incoming-numbers.js';
import { nativeConfigRoutes } from './native-config-routes.js';
import { registerOpenApi } from './openapi.js';
import { twilioCallsRoutes } from './twilio-calls-routes.js';
import { hasTwilioPart, twilioConfigRoutes } from './twilio-config-routes.js';
import { registrationsRoutes } from './registrations-routes.js';
import { sipUsersResource } from './sip-users.js';
import { callsRoutes } from './calls-routes.js';
import { recordingsRoutes } from './recordings-routes.js';
import { twilioRecordingsRoutes } from './twilio-recordings-routes.js';
import { accountSpeechRoutes } from './account-speech-routes.js';
import { streamsRoutes, type LiveCalls } from './streams-routes.js';
import { metrics as defaultRegistry, PROMETHEUS_CONTENT_TYPE, type MetricsRegistry } from './metrics.js';

export interface HttpServerDeps {
  store: CallStore & AccountStore & RecordingStore & NumberStore & ApplicationStore & ApiKeyStore & CarrierStore & SipUserStore;
  /** The call engine, for creating and controlling calls over REST; without it those routes are not served. */
  calls?: CallService;
  /**
   * The data directory (recordings' relative file paths resolve against it). Without it the
   * recording routes are not served.
   */
  dataDir?: string;
  /**
   * How clients and apps reach this API, e.g. `https://voice.example.com`, for `mediaUrl` /
   * `media_url`. Default: the scheme and Host of each request.
   */
  publicBaseUrl?: string;
  /**
   * The server's own account (created/checked at start-up). Informational: authentication
   * accepts any account in the store, and each sees only its own calls.
   */
  accountSid: string;
  /** False while starting and while draining: /healthz answers 503 so load balancers move on. */
  isReady: () => boolean;
  /** Prometheus text for GET /metrics. */
  metrics: () => string | Promise<string>;
  /** The server's speech recognizers, for the account speech settings API (default: the embedded one). */
  speech?: { serverRecognizers: readonly string[]; defaultRecognizer: string };
  /** The live calls REST may start and stop Media Streams on; without it those routes are not served. */
  liveCalls?: LiveCalls;
  /**
   * The SIP registrar's digest realm (config `sipRealm`): SIP users' stored HA1s are computed for
   * it. Without it /v1/users is not served (a user created for the wrong realm could never register).
   */
  sipRealm?: string;
  /** The registrar's live bindings, for /v1/registrations; without it the lists are empty. */
  registrations?: RegistrationDirectory;
  /** Outbound registrations to carriers: shown as each carrier's `registration`; without it the field is left out. */
  carrierRegistrations?: CarrierRegistrationView;
  /** Structured logger (pino); silent when omitted. */
  logger?: FastifyBaseLogger;
  /** Where the HTTP server's own request metrics go (default: the process-wide registry). */
  registry?: MetricsRegistry;
}

export function createHttpServer(deps: HttpServerDeps): FastifyInstance {
  const app = (deps.logger
    ? Fastify({ loggerInstance: deps.logger, disableRequestLogging: true, routerOptions: { ignoreTrailingSlash: true } })
    : Fastify({ logger: false, routerOptions: { ignoreTrailingSlash: true } })) as unknown as FastifyInstance;

  const registry = deps.registry ?? defaultRegistry;
  const requests = registry.counter('patchbay_http_requests_total', 'HTTP requests answered, by route and status', ['method', 'route', 'status']);
  const latency = registry.histogram('patchbay_http_request_duration_seconds', 'HTTP request handling time', [0.005, 0.01, 0.05, 0.1, 0.5, 1, 5], ['route']);
  app.addHook('onResponse', async (request, reply) => {
    // The route pattern, not the URL, keeps label cardinality bounded (SIDs are in URLs).
    const route = request.routeOptions.url ?? 'unmatched';
    requests.inc({ method: request.method, route, status: reply.statusCode });
    latency.observe({ route }, reply.elapsedTime / 1000);
    request.log.debug({ method: request.method, url: request.url, status: reply.statusCode, ms: Math.round(reply.elapsedTime) }, 'http request');
  });

  installErrorHandlers(app);
  // Before any route: swagger documents routes as they are added.
  registerOpenApi(app);

  app.get('/healthz', async (_request, reply) => {
    if (!deps.isReady()) return reply.code(503).send({ status: 'unavailable' });
    return { status: 'ok' };
  });

  app.get('/metrics', async (_request, reply) => {
    const text = await deps.metrics();
    return reply.type(PROMETHEUS_CONTENT_TYPE).send(text);
  });

  const TWILIO_PREFIX = '/2010-04-01/Accounts/:AccountSid';
  void app.register(callsRoutes, { prefix: '/v1', store: deps.store, ...(deps.calls ? { calls: deps.calls } : {}) });
  if (deps.calls) void app.register(twilioCallsRoutes, { prefix: TWILIO_PREFIX, store: deps.store, calls: deps.calls, publicBaseUrl: deps.publicBaseUrl });
  const resources: ConfigResource<ConfigRecord, TypedResourceInput>[] = [
    incomingNumbersResource(deps.store),
    applicationsResource(deps.store),
    apiKeysResource(deps.store),
    carriersResource(deps.store, deps.carrierRegistrations),
  ];
  if (deps.sipRealm !== undefined) resources.push(sipUsersResource(deps.store, { realm: deps.sipRealm }));
  for (const resource of resources) {
    void app.register(nativeConfigRoutes, { prefix: '/v1', store: deps.store, resource });
    if (hasTwilioPart(resource)) void app.register(twilioConfigRoutes, { prefix: TWILIO_PREFIX, store: deps.store, resource });
  }
  void app.register(registrationsRoutes, { prefix: '/v1', store: deps.store, ...(deps.registrations ? { directory: deps.registrations } : {}) });
  const speech = deps.speech ?? { serverRecognizers: ['pocketsphinx'], defaultRecognizer: 'pocketsphinx' };
  void app.register(accountSpeechRoutes, { prefix: '/v1', store: deps.store, ...speech });
  if (deps.dataDir !== undefined) {
    const recordings = { store: deps.store, dataDir: deps.dataDir, publicBaseUrl: deps.publicBaseUrl };
    void app.register(recordingsRoutes, { prefix: '/v1', ...recordings });
    void app.register(twilioRecordingsRoutes, { prefix: TWILIO_PREFIX, ...recordings });
  }
  if (deps.liveCalls) void app.register(streamsRoutes, { store: deps.store, liveCalls: deps.liveCalls });
  return app;
}
