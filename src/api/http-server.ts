/**
 * The HTTP server: health, Prometheus metrics and the REST APIs (native `/v1`, Twilio-compatible
 * `/2010-04-01/Accounts/:AccountSid`), as fastify plugins, plus the native API's OpenAPI document
 * (`/v1/openapi.json`). The composition root builds it, may register more route plugins on the
 * returned instance, then calls `listen()`. Errors anywhere become coded JSON (api-errors.ts).
 *
 * Fail closed: every route answers only authenticated callers (basic-auth.ts) except PUBLIC_ROUTES.
 * Route plugins authenticate in their own onRequest hook; a root preHandler then refuses (401) any
 * request that reached a non-public handler without having been authenticated, so a route added
 * without auth is refused rather than served. Bodies are capped (BODY_LIMIT_BYTES, 413) and JSON
 * nested deeper than MAX_JSON_DEPTH is refused (400) before it is parsed.
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
import { ApiError, errorBody, installErrorHandlers, styleFor, unauthorized } from './api-errors.js';
import { basicAuth, isAuthenticated } from './basic-auth.js';
import { jsonDepthExceeds } from './json-depth.js';
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
  /** GET /metrics asks for an account's credentials (default false: public, as scrapers expect). */
  metricsAuth?: boolean;
}

/** Largest request body accepted (JSON or form): 1 MiB; the API's bodies are a few KB. */
export const BODY_LIMIT_BYTES = 1024 * 1024;
/** Deepest JSON nesting accepted; the native API's bodies nest two or three levels. */
export const MAX_JSON_DEPTH = 32;
/** Routes served without credentials: health for load balancers, the API description. /metrics unless metricsAuth. */
export const PUBLIC_ROUTES: readonly string[] = ['/healthz', '/v1/openapi.json', '/metrics'];

export function createHttpServer(deps: HttpServerDeps): FastifyInstance {
  const base = { bodyLimit: BODY_LIMIT_BYTES, routerOptions: { ignoreTrailingSlash: true } };
  const app = (deps.logger
    ? Fastify({ ...base, loggerInstance: deps.logger, disableRequestLogging: true })
    : Fastify({ ...base, logger: false })) as unknown as FastifyInstance;
  const publicRoutes = new Set(PUBLIC_ROUTES.filter((r) => r !== '/metrics' || deps.metricsAuth !== true));

  // Checked on the text before JSON.parse builds anything: depth costs nothing to count.
  const defaultJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    if (jsonDepthExceeds(body as string, MAX_JSON_DEPTH)) {
      done(new ApiError(400, 20001, `JSON body nested deeper than ${MAX_JSON_DEPTH} levels`), undefined);
      return;
    }
    defaultJson(request, body as string, done);
  });
  // Runs after every plugin's onRequest hooks: a handler is reached only by an authenticated
  // caller, or on a public route, or for the not-found handler (which reveals nothing).
  app.addHook('preHandler', async (request, reply) => {
    if (request.is404 || publicRoutes.has(request.routeOptions.url ?? '') || isAuthenticated(request)) return;
    return reply.code(401).type('application/json; charset=utf-8').send(errorBody(unauthorized(), styleFor(request)));
  });

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

  app.get('/metrics', deps.metricsAuth ? { onRequest: basicAuth(deps.store) } : {}, async (_request, reply) => {
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
    carriersResource(deps.store, deps.carrierRegistrations, deps.sipRealm),
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
