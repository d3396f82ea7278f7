import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join, resolve } from 'node:path';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { ConfigError, configHelp, loadConfig } from '../src/config.js';

function configError(setting: string | undefined, pattern: RegExp) {
  return (err: unknown) => {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
    assert.equal(err.setting, setting);
    assert.match(err.message, pattern);
    return true;
  };
}

describe('loadConfig', () => {
  it('has documented defaults', () => {
    assert.deepEqual(loadConfig([], {}), {
      sipHost: '0.0.0.0', sipPort: 5060, httpHost: '0.0.0.0', httpPort: 8080, rtpPortMin: 20000, rtpPortMax: 29999,
      publicIp: null, dataDir: resolve('data'), voiceUrl: null, voiceMethod: 'POST', statusCallback: null,
      statusCallbackMethod: 'POST', statusCallbackEvents: ['completed'], fallbackUrl: null, fallbackMethod: 'POST',
      webhookTimeoutMs: 15000, accountSid: null, authToken: null, drainGraceMs: 30000, logLevel: 'info', maxCalls: 2000, accountCallsPerSecond: 10, accountMaxCalls: 100, accountInboundCallsPerSecond: 50, accountInboundMaxCalls: 500,
      sipRealm: 'patchbay', sipDigestAlgorithms: ['SHA-256', 'MD5'], registerMinExpires: 60, registerMaxExpires: 3600,
      publicUrl: null, mode: 'development',
      sipGuard: { requestsPerSecond: 50, burst: 100, banMs: 600000, authFailuresBeforeBan: 10, authFailureWindowMs: 60000, maxConnectionsPerSource: 50, trustedSources: [] },
      sipTransports: { tlsPort: 5061, wsPort: 8088, wssPort: 8089, certFile: null, keyFile: null },
      speech: { defaultRecognizer: 'pocketsphinx', deepgramApiKey: null, openaiApiKey: null, elevenlabsApiKey: null, recognizerUrl: null },
      appUrls: { blockPrivate: false, allowedNetworks: [], caPem: null, mediaMaxBytes: 50 * 1024 * 1024 },
      metricsAuth: false,
    });
  });

  it('reads every setting from flags (both --flag value and --flag=value)', () => {
    const c = loadConfig(
      [
        '--sip-host', '127.0.0.1', '--sip-port=5070', '--http-host', '::1', '--http-port', '0', '--rtp-ports', '30000-30999',
        '--public-ip', '192.0.2.10', '--data-dir', '/tmp/pb', '--voice-url', 'https://app.example/voice?x=1', '--voice-method', 'get',
        '--status-callback', 'http://127.0.0.1:9/status', '--status-callback-method', 'GET',
        '--status-callback-event', 'completed, ringing initiated', '--fallback-url', 'http://127.0.0.1:9/fb', '--fallback-method', 'POST',
        '--webhook-timeout', '2.5', '--account-sid', 'AC' + 'ab'.repeat(16), '--drain-grace', '0', '--log-level', 'DEBUG', '--max-calls', '42', '--account-cps', '3', '--account-max-calls', '7', '--account-inbound-cps', '0', '--account-inbound-max-calls', '9',
        '--sip-realm', 'pbx.example', '--sip-digest-algorithms', 'md5', '--register-min-expires', '30', '--register-max-expires', '600',
        '--public-url', 'https://pbx.example', '--mode', 'Production',
        '--sip-rate-limit', '20', '--sip-ban-seconds', '2', '--sip-auth-failures-before-ban', '3/10', '--sip-max-connections-per-source', '5',
        '--sip-trusted-sources', '10.0.0.0/8, 2001:db8::/32 192.0.2.7', '--speech-recognizer', 'WebSocket', '--recognizer-url', 'ws://127.0.0.1:9/asr',
        '--block-private-webhooks', 'true', '--webhook-allowed-networks', '10.1.0.0/16', '--media-max-size', '2', '--metrics-auth', 'yes',
        '--tls-port', '0', '--ws-port', 'off', '--wss-port', '9443', '--tls-cert', '/etc/pb/cert.pem', '--tls-key', 'key.pem',
      ],
      { PATCHBAY_DEEPGRAM_API_KEY: 'dg-key', PATCHBAY_OPENAI_API_KEY: 'sk-test', PATCHBAY_ELEVENLABS_API_KEY: 'el-key' },
    );
    assert.deepEqual(c, {
      sipHost: '127.0.0.1', sipPort: 5070, httpHost: '::1', httpPort: 0, rtpPortMin: 30000, rtpPortMax: 30999, publicIp: '192.0.2.10',
      dataDir: '/tmp/pb', voiceUrl: 'https://app.example/voice?x=1', voiceMethod: 'GET', statusCallback: 'http://127.0.0.1:9/status',
      statusCallbackMethod: 'GET', statusCallbackEvents: ['initiated', 'ringing', 'completed'], fallbackUrl: 'http://127.0.0.1:9/fb',
      fallbackMethod: 'POST', webhookTimeoutMs: 2500, accountSid: 'AC' + 'ab'.repeat(16), authToken: null, drainGraceMs: 0,
      logLevel: 'debug', maxCalls: 42, accountCallsPerSecond: 3, accountMaxCalls: 7, accountInboundCallsPerSecond: 0, accountInboundMaxCalls: 9,
      sipRealm: 'pbx.example', sipDigestAlgorithms: ['MD5'], registerMinExpires: 30, registerMaxExpires: 600, publicUrl: 'https://pbx.example', mode: 'production',
      sipGuard: { requestsPerSecond: 20, burst: 40, banMs: 2000, authFailuresBeforeBan: 3, authFailureWindowMs: 10000, maxConnectionsPerSource: 5, trustedSources: ['10.0.0.0/8', '2001:db8::/32', '192.0.2.7'] },
      sipTransports: { tlsPort: 0, wsPort: null, wssPort: 9443, certFile: '/etc/pb/cert.pem', keyFile: resolve('key.pem') },
      speech: { defaultRecognizer: 'websocket', deepgramApiKey: 'dg-key', openaiApiKey: 'sk-test', elevenlabsApiKey: 'el-key', recognizerUrl: 'ws://127.0.0.1:9/asr' },
      appUrls: { blockPrivate: true, allowedNetworks: ['10.1.0.0/16'], caPem: null, mediaMaxBytes: 2 * 1024 * 1024 },
      metricsAuth: true,
    });
  });

  it('reads the app URL hardening settings and refuses bad ones, naming the flag or variable', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pb-config-'));
    try {
      const pem = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
      writeFileSync(join(dir, 'ca.pem'), pem);
      writeFileSync(join(dir, 'junk.pem'), 'not a certificate');
      assert.equal(loadConfig([], { PATCHBAY_WEBHOOK_CA: join(dir, 'ca.pem') }).appUrls.caPem, pem);
      assert.equal(loadConfig([], { PATCHBAY_BLOCK_PRIVATE_WEBHOOKS: 'TRUE' }).appUrls.blockPrivate, true);
      assert.throws(() => loadConfig(['--webhook-ca', join(dir, 'junk.pem')], {}), configError('--webhook-ca', /no PEM certificate/));
      assert.throws(() => loadConfig(['--webhook-ca', join(dir, 'missing.pem')], {}), configError('--webhook-ca', /cannot be read \(ENOENT\)/));
      assert.throws(() => loadConfig(['--block-private-webhooks', 'maybe'], {}), configError('--block-private-webhooks', /true or false/));
      assert.throws(() => loadConfig([], { PATCHBAY_WEBHOOK_ALLOWED_NETWORKS: '10.0.0.0/99' }), configError('PATCHBAY_WEBHOOK_ALLOWED_NETWORKS', /prefix length/));
      assert.throws(() => loadConfig(['--media-max-size', '0'], {}), configError('--media-max-size', /size in MB/));
      assert.throws(() => loadConfig(['--metrics-auth', 'on?'], {}), configError('--metrics-auth', /true or false/));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reads the SIP TLS/WS/WSS settings and refuses half a certificate or a shared port, naming the flag or variable', () => {
    const c = loadConfig([], { PATCHBAY_TLS_PORT: 'OFF', PATCHBAY_WS_PORT: '0', PATCHBAY_WSS_PORT: 'disabled' });
    assert.deepEqual(c.sipTransports, { tlsPort: null, wsPort: 0, wssPort: null, certFile: null, keyFile: null });
    assert.throws(() => loadConfig(['--tls-port', 'tls']), configError('--tls-port', /not a port number \(0-65535\) or off/));
    assert.throws(() => loadConfig([], { PATCHBAY_WS_PORT: '70000' }), configError('PATCHBAY_WS_PORT', /or off/));
    assert.throws(() => loadConfig(['--tls-cert', 'c.pem']), configError('--tls-key', /--tls-cert: a TLS certificate needs both/));
    assert.throws(() => loadConfig([], { PATCHBAY_TLS_KEY: 'k.pem' }), configError('--tls-cert', /PATCHBAY_TLS_KEY: a TLS certificate needs both/));
    assert.throws(() => loadConfig(['--wss-port', '8088']), configError('--wss-port', /--ws-port and --wss-port are both set to port 8088/));
    assert.throws(() => loadConfig(['--tls-port', '5060']), configError('--tls-port', /--sip-port and --tls-port/));
    assert.throws(() => loadConfig(['--ws-port', '8080']), configError('--ws-port', /--http-port and --ws-port/));
    assert.doesNotThrow(() => loadConfig(['--tls-port', '0', '--ws-port', '0', '--wss-port', '0', '--sip-port', '0', '--http-port', '0']));
  });

  it('refuses a default recognizer without its credentials or URL, naming the variable', () => {
    assert.throws(() => loadConfig(['--speech-recognizer', 'deepgram'], {}), /PATCHBAY_DEEPGRAM_API_KEY/);
    assert.throws(() => loadConfig(['--speech-recognizer', 'websocket'], {}), /PATCHBAY_RECOGNIZER_URL/);
    assert.throws(() => loadConfig(['--speech-recognizer', 'vosk'], {}), /pocketsphinx, deepgram, openai, websocket/);
    assert.throws(() => loadConfig(['--recognizer-url', 'http://127.0.0.1/asr'], {}), /ws:\/\/ or wss:\/\//);
    assert.throws(() => loadConfig(['--sip-digest-algorithms', 'SHA-1'], {}), /unknown digest algorithm "SHA-1"/);
    assert.throws(() => loadConfig(['--register-min-expires', '600', '--register-max-expires', '60'], {}), /longer than --register-max-expires/);
    assert.deepEqual(loadConfig([], { PATCHBAY_SIP_DIGEST_ALGORITHMS: 'md5, sha-256' }).sipDigestAlgorithms, ['MD5', 'SHA-256']);
    assert.equal(loadConfig([], { PATCHBAY_SIP_RATE_LIMIT: '30/200' }).sipGuard.burst, 200);
    assert.throws(() => loadConfig(['--sip-rate-limit', '0'], {}), configError('--sip-rate-limit', /is not a rate/));
    assert.throws(() => loadConfig(['--sip-rate-limit', '50/10'], {}), configError('--sip-rate-limit', /burst smaller than the rate/));
    assert.throws(() => loadConfig(['--sip-ban-seconds', '0'], {}), configError('--sip-ban-seconds', /between 1 and/));
    assert.throws(() => loadConfig([], { PATCHBAY_SIP_TRUSTED_SOURCES: '10.0.0.0/40' }), configError('PATCHBAY_SIP_TRUSTED_SOURCES', /prefix length/));
    assert.throws(() => loadConfig(['--sip-max-connections-per-source', 'x'], {}), configError('--sip-max-connections-per-source', /positive whole number/));
  });

  it('reads PATCHBAY_* variables; a flag wins over its variable; empty variables are unset', () => {
    const env = {
      PATCHBAY_SIP_PORT: '5080', PATCHBAY_HTTP_PORT: '9000', PATCHBAY_VOICE_URL: 'http://127.0.0.1:1/v', PATCHBAY_AUTH_TOKEN: 'sekrit',
      PATCHBAY_WEBHOOK_TIMEOUT: '1', PATCHBAY_STATUS_CALLBACK_EVENT: 'initiated ringing answered completed', PATCHBAY_PUBLIC_IP: '',
      PATCHBAY_DRAIN_GRACE: '2', UNRELATED: 'x',
    };
    const c = loadConfig(['--http-port', '9001'], env);
    assert.equal(c.sipPort, 5080);
    assert.equal(c.httpPort, 9001);
    assert.equal(c.voiceUrl, 'http://127.0.0.1:1/v');
    assert.equal(c.authToken, 'sekrit');
    assert.equal(c.webhookTimeoutMs, 1000);
    assert.equal(c.drainGraceMs, 2000);
    assert.equal(c.publicIp, null);
    assert.deepEqual(c.statusCallbackEvents, ['initiated', 'ringing', 'answered', 'completed']);
  });

  it('rejects bad values with a message naming the flag or variable used', () => {
    const cases: [string[], NodeJS.ProcessEnv, string | undefined, RegExp][] = [
      [['--sip-port', 'abc'], {}, '--sip-port', /--sip-port: "abc" is not a port number/],
      [[], { PATCHBAY_SIP_PORT: '70000' }, 'PATCHBAY_SIP_PORT', /^PATCHBAY_SIP_PORT: "70000" is not a port/],
      [['--http-port', '-1'], {}, undefined, /--http-port/],
      [['--rtp-ports', '3000'], {}, '--rtp-ports', /port range like 20000-29999/],
      [['--rtp-ports', '30000-20000'], {}, '--rtp-ports', /at least 2 ports/],
      [['--rtp-ports', '0-100'], {}, '--rtp-ports', /port range/],
      [['--voice-url', 'not a url'], {}, '--voice-url', /not a valid URL/],
      [[], { PATCHBAY_VOICE_URL: 'ftp://x/y' }, 'PATCHBAY_VOICE_URL', /http:\/\/ or https:\/\//],
      [['--voice-method', 'PUT'], {}, '--voice-method', /GET or POST/],
      [['--fallback-method', 'DELETE'], {}, '--fallback-method', /GET or POST/],
      [['--webhook-timeout', '0'], {}, '--webhook-timeout', /seconds between/],
      [['--webhook-timeout', '15s'], {}, '--webhook-timeout', /seconds between/],
      [['--drain-grace', '-5'], {}, undefined, /drain-grace/],
      [['--sip-host', 'example.com'], {}, '--sip-host', /not an IP address/],
      [['--public-ip', '0.0.0.0'], {}, '--public-ip', /wildcard/],
      [[], { PATCHBAY_ACCOUNT_SID: 'AC123' }, 'PATCHBAY_ACCOUNT_SID', /32 lower-case hex/],
      [['--account-sid', 'AC' + 'AB'.repeat(16)], {}, '--account-sid', /account SID/],
      [['--log-level', 'loud'], {}, '--log-level', /not a log level/],
      [['--max-calls', '0'], {}, '--max-calls', /positive whole number/],
      [['--account-cps', '1.5'], {}, '--account-cps', /positive whole number/],
      [['--status-callback-event', 'answered hungup'], {}, '--status-callback-event', /unknown event "hungup"/],
      [['--sip-port', '5060', '--http-port', '5060'], {}, '--http-port', /different ports/],
      [['--bogus', '1'], {}, undefined, /Unknown option '--bogus'.*patchbay start --help/],
      [['stray'], {}, undefined, /stray/],
      [['--auth-token', 'x'], {}, '--auth-token', /PATCHBAY_AUTH_TOKEN/],
      [['--mode', 'prod'], {}, '--mode', /not a mode/],
      [['--production', '--mode', 'development'], {}, '--mode', /contradicts/],
    ];
    for (const [argv, env, setting, pattern] of cases) {
      assert.throws(() => loadConfig(argv, env), configError(setting, pattern), argv.join(' ') || JSON.stringify(env));
    }
  });

  it('runs in production mode with --production or PATCHBAY_MODE=production, development otherwise', () => {
    assert.equal(loadConfig(['--production'], {}).mode, 'production');
    assert.equal(loadConfig([], { PATCHBAY_MODE: 'production' }).mode, 'production');
    assert.equal(loadConfig(['--mode', 'development'], { PATCHBAY_MODE: 'production' }).mode, 'development', 'a flag wins over the environment');
    assert.equal(loadConfig([], {}).mode, 'development');
  });

  it('allows ephemeral ports 0 for both SIP and HTTP', () => {
    const c = loadConfig(['--sip-port', '0', '--http-port', '0'], {});
    assert.equal(c.sipPort, 0);
    assert.equal(c.httpPort, 0);
  });

  it('documents every setting in the help text', () => {
    const help = configHelp();
    for (const flag of ['--sip-port', '--http-port', '--rtp-ports', '--public-ip', '--data-dir', '--voice-url', '--voice-method', '--status-callback',
      '--fallback-url', '--webhook-timeout', '--sip-host', '--http-host', '--drain-grace', '--log-level', '--max-calls', 'PATCHBAY_AUTH_TOKEN=']) {
      assert.ok(help.includes(flag), flag);
    }
    assert.match(help, /--sip-port <port>\s+SIP port.*\[5060\]\s+\(PATCHBAY_SIP_PORT\)/);
  });
});
