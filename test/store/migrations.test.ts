import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { PGlite } from '@electric-sql/pglite';
import { MIGRATIONS, runMigrations, type SqlDatabase } from '../../src/store/migrations.js';
import { StoreError } from '../../src/store/store-types.js';

describe('runMigrations', () => {
  it('applies each migration once, refuses unknown versions and rolls back a failing one', async () => {
    const pg = await PGlite.create(); // in memory
    const db = pg as unknown as SqlDatabase;
    try {
      assert.deepEqual(await runMigrations(db), MIGRATIONS.map((m) => m.version));
      assert.deepEqual(await runMigrations(db), [], 'nothing left to apply');
      const tables = await db.query<{ tablename: string }>("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename");
      assert.deepEqual(tables.rows.map((r) => r.tablename), [
        'accounts', 'api_keys', 'applications', 'call_events', 'calls', 'carriers', 'incoming_numbers', 'patchbay_migrations', 'recordings', 'sip_users',
      ]);

      const next = Math.max(...MIGRATIONS.map((m) => m.version)) + 1;
      const broken = [...MIGRATIONS, { version: next, name: 'broken', sql: 'CREATE TABLE half_done (x int); SELECT * FROM no_such_table;' }];
      await assert.rejects(runMigrations(db, broken), (e: unknown) => e instanceof StoreError && e.code === 'MIGRATION_FAILED' && e.message.includes(`migration ${next} (broken)`));
      const half = await db.query("SELECT 1 FROM pg_tables WHERE tablename = 'half_done'");
      assert.equal(half.rows.length, 0, 'the failed migration left nothing behind');

      await db.query("INSERT INTO patchbay_migrations (version, name) VALUES (99, 'from the future')");
      await assert.rejects(runMigrations(db), (e: unknown) => e instanceof StoreError && e.code === 'MIGRATION_FAILED' && /version 99 is newer/.test(e.message));
    } finally {
      await pg.close();
    }
  });

  it('upgrades a version-1 database in place: existing calls and accounts stay, recordings and speech settings appear', async () => {
    const pg = await PGlite.create();
    const db = pg as unknown as SqlDatabase;
    try {
      assert.deepEqual(await runMigrations(db, MIGRATIONS.filter((m) => m.version === 1)), [1]);
      await db.query(`INSERT INTO calls (sid, account_sid, from_addr, to_addr, direction, status, start_time)
        VALUES ('CA1', 'AC1', 'a', 'b', 'inbound', 'completed', now())`);
      await db.query(`INSERT INTO accounts (sid, auth_token, friendly_name) VALUES ('AC1', 'tok', 'old')`);
      assert.deepEqual(await runMigrations(db), [2, 3, 4, 5, 6, 7]);
      assert.equal((await db.query('SELECT sid FROM calls')).rows.length, 1);
      assert.equal((await db.query('SELECT sid FROM recordings')).rows.length, 0);
      // Accounts from before per-account speech settings get the server defaults ({}).
      assert.deepEqual((await db.query<{ speech: unknown }>('SELECT speech FROM accounts')).rows, [{ speech: {} }]);
    } finally {
      await pg.close();
    }
  });

  it('upgrades a version-3 database in place: calls, recordings and settings stay; numbers, applications, keys and call-filter indexes appear', async () => {
    const pg = await PGlite.create();
    const db = pg as unknown as SqlDatabase;
    try {
      assert.deepEqual(await runMigrations(db, MIGRATIONS.filter((m) => m.version <= 3)), [1, 2, 3]);
      await db.query(`INSERT INTO accounts (sid, auth_token, friendly_name, speech) VALUES ('AC1', 'tok', 'old', '{"language":"fr-FR"}')`);
      await db.query(`INSERT INTO calls (sid, account_sid, from_addr, to_addr, direction, status, start_time, parent_call_sid)
        VALUES ('CA1', 'AC1', 'a', 'b', 'inbound', 'completed', now(), NULL), ('CA2', 'AC1', 'b', 'c', 'outbound-dial', 'completed', now(), 'CA1')`);
      await db.query(`INSERT INTO recordings (sid, account_sid, call_sid, status, source, channels, sample_rate, start_time, file_path)
        VALUES ('RE1', 'AC1', 'CA1', 'completed', 'RecordVerb', 1, 8000, now(), 'recordings/RE1.wav')`);

      assert.deepEqual(await runMigrations(db), [4, 5, 6, 7]);
      assert.equal((await db.query('SELECT sid FROM calls')).rows.length, 2);
      assert.equal((await db.query('SELECT sid FROM recordings')).rows.length, 1);
      assert.deepEqual((await db.query<{ speech: unknown }>('SELECT speech FROM accounts')).rows, [{ speech: { language: 'fr-FR' } }]);
      for (const table of ['incoming_numbers', 'applications', 'api_keys']) {
        assert.equal((await db.query(`SELECT * FROM ${table}`)).rows.length, 0, `${table} exists and is empty`);
      }
      const idx = await db.query<{ indexname: string }>("SELECT indexname FROM pg_indexes WHERE tablename = 'calls' ORDER BY indexname");
      for (const name of ['calls_account_from_start_idx', 'calls_account_parent_start_idx', 'calls_account_to_start_idx']) {
        assert.ok(idx.rows.some((r) => r.indexname === name), `index ${name}`);
      }
      // The new tables' constraints are live: methods are checked, phone numbers unique.
      const insert = (sid: string, phone: string, method: string) => db.query(
        `INSERT INTO incoming_numbers (sid, account_sid, phone_number, friendly_name, voice_method, voice_fallback_method, status_callback_method)
         VALUES ($1, 'AC1', $2, 'n', $3, 'POST', 'POST')`, [sid, phone, method]);
      await insert('PN1', '+15550001000', 'POST');
      await assert.rejects(insert('PN2', '+15550001000', 'POST'), (e: unknown) => (e as { code?: string }).code === '23505');
      await assert.rejects(insert('PN3', '+15550001001', 'PUT'), (e: unknown) => (e as { code?: string }).code === '23514');
    } finally {
      await pg.close();
    }
  });
  it('upgrades a version-4 database in place: numbers and applications stay; carriers and SIP users appear with their rules', async () => {
    const pg = await PGlite.create();
    const db = pg as unknown as SqlDatabase;
    try {
      assert.deepEqual(await runMigrations(db, MIGRATIONS.filter((m) => m.version <= 4)), [1, 2, 3, 4]);
      await db.query(`INSERT INTO applications (sid, account_sid, friendly_name, voice_method, voice_fallback_method, status_callback_method)
        VALUES ('AP1', 'AC1', 'app', 'POST', 'POST', 'POST')`);
      assert.deepEqual(await runMigrations(db), [5, 6, 7]);
      assert.equal((await db.query('SELECT sid FROM applications')).rows.length, 1);
      const user = (sid: string, account: string, username: string, app: string | null) => db.query(
        `INSERT INTO sip_users (sid, account_sid, username, friendly_name, realm, ha1_md5, ha1_sha256, voice_application_sid, voice_method, voice_fallback_method, status_callback_method)
         VALUES ($1, $2, $3, '', 'patchbay', $4, $5, $6, 'POST', 'POST', 'POST')`, [sid, account, username, '0'.repeat(32), '0'.repeat(64), app]);
      await user('US1', 'AC1', 'alice', 'AP1');
      await assert.rejects(user('US2', 'AC2', 'alice', null), (e: unknown) => (e as { constraint?: string }).constraint === 'sip_users_username_key');
      await assert.rejects(user('US3', 'AC2', 'bob', 'AP1'), (e: unknown) => (e as { constraint?: string }).constraint === 'sip_users_application_fkey');
      const carrier = (sid: string, username: string | null, password: string | null, register: boolean) => db.query(
        `INSERT INTO carriers (sid, account_sid, friendly_name, host, port, transport, username, password, register, register_expires, prefixes, priority, inbound_addresses, tech_prefix, enabled)
         VALUES ($1, 'AC1', '', 'sip.example', 5060, 'udp', $2, $3, $4, 3600, '{}', 10, '{}', '', true)`, [sid, username, password, register]);
      await carrier('TK1', 'u', 'p', true);
      await assert.rejects(carrier('TK2', null, null, true), (e: unknown) => (e as { constraint?: string }).constraint === 'carriers_register_check');
      await assert.rejects(carrier('TK3', 'u', null, false), (e: unknown) => (e as { constraint?: string }).constraint === 'carriers_credentials_check');
    } finally {
      await pg.close();
    }
  });

  it('upgrades a version-5 database in place: existing carriers and SIP users get SRTP policy optional; other values are refused', async () => {
    const pg = await PGlite.create();
    const db = pg as unknown as SqlDatabase;
    try {
      assert.deepEqual(await runMigrations(db, MIGRATIONS.filter((m) => m.version <= 5)), [1, 2, 3, 4, 5]);
      await db.query(`INSERT INTO carriers (sid, account_sid, friendly_name, host, port, transport, register, register_expires, prefixes, priority, inbound_addresses, tech_prefix, enabled)
        VALUES ('TK1', 'AC1', '', 'sip.example', 5060, 'udp', false, 3600, '{}', 10, '{}', '', true)`);
      await db.query(`INSERT INTO sip_users (sid, account_sid, username, friendly_name, realm, ha1_md5, ha1_sha256, voice_method, voice_fallback_method, status_callback_method)
        VALUES ('US1', 'AC1', 'alice', '', 'patchbay', $1, $2, 'POST', 'POST', 'POST')`, ['0'.repeat(32), '0'.repeat(64)]);
      assert.deepEqual(await runMigrations(db), [6, 7]);
      assert.deepEqual((await db.query('SELECT srtp FROM carriers')).rows, [{ srtp: 'optional' }]);
      assert.deepEqual((await db.query('SELECT srtp FROM sip_users')).rows, [{ srtp: 'optional' }]);
      await assert.rejects(db.query("UPDATE sip_users SET srtp = 'mandatory'"), (e: unknown) => (e as { code?: string }).code === '23514');
      await db.query("UPDATE carriers SET srtp = 'required'");
    } finally {
      await pg.close();
    }
  });

  it('upgrades a version-6 database in place: carriers get no inbound credentials; the four columns are set or cleared together and usernames are unique', async () => {
    const pg = await PGlite.create();
    const db = pg as unknown as SqlDatabase;
    try {
      assert.deepEqual(await runMigrations(db, MIGRATIONS.filter((m) => m.version <= 6)), [1, 2, 3, 4, 5, 6]);
      const carrier = (sid: string) =>
        db.query(`INSERT INTO carriers (sid, account_sid, friendly_name, host, port, transport, register, register_expires, prefixes, priority, inbound_addresses, tech_prefix, enabled)
          VALUES ($1, 'AC1', '', 'sip.example', 5060, 'udp', false, 3600, '{}', 10, '{}', '', true)`, [sid]);
      await carrier('TK1');
      await carrier('TK2');
      assert.deepEqual(await runMigrations(db), [7]);
      assert.deepEqual((await db.query("SELECT inbound_username, inbound_realm, inbound_ha1_md5, inbound_ha1_sha256 FROM carriers WHERE sid = 'TK1'")).rows, [
        { inbound_username: null, inbound_realm: null, inbound_ha1_md5: null, inbound_ha1_sha256: null },
      ]);
      const setCreds = (sid: string, username: string | null) =>
        db.query('UPDATE carriers SET inbound_username = $2, inbound_realm = $3, inbound_ha1_md5 = $4, inbound_ha1_sha256 = $5 WHERE sid = $1', [sid, username, 'patchbay', '0'.repeat(32), '0'.repeat(64)]);
      await setCreds('TK1', 'trunk');
      await assert.rejects(setCreds('TK2', 'trunk'), (e: unknown) => (e as { constraint?: string }).constraint === 'carriers_inbound_username_key');
      await assert.rejects(setCreds('TK2', null), (e: unknown) => (e as { constraint?: string }).constraint === 'carriers_inbound_credentials_check');
    } finally {
      await pg.close();
    }
  });
});
