import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import Fastify, { type FastifyInstance } from 'fastify';
import { installErrorHandlers } from '../../src/api/api-errors.js';
import { bool, formOf, installTwilioForm, list, parseTwilioForm, rejectUnknownFields, single } from '../../src/api/twilio-form.js';

describe('Twilio form dialect', () => {
  it('keeps repeated keys in order', () => {
    const form = parseTwilioForm('A=1&B=x+y&A=2&A=%2C3');
    assert.deepEqual([...form], [['A', ['1', '2', ',3']], ['B', ['x y']]]);
  });

  it('single() refuses a key sent twice, naming it', () => {
    const form = parseTwilioForm('A=1&A=2&B=3');
    assert.equal(single(form, 'B'), '3');
    assert.equal(single(form, 'C'), undefined);
    assert.throws(() => single(form, 'A'), (e: Error & { status?: number; code?: number }) => e.status === 400 && e.code === 20001 && /A was given 2 times/.test(e.message));
  });

  it('list() takes repeated keys and space/comma separated values', () => {
    const form = parseTwilioForm('E=initiated&E=ringing+answered&E=completed,failed&E=');
    assert.deepEqual(list(form, 'E'), ['initiated', 'ringing', 'answered', 'completed', 'failed']);
    assert.equal(list(form, 'X'), undefined);
  });

  it('bool() reads true/false in any case and refuses anything else', () => {
    assert.equal(bool(parseTwilioForm('R=True'), 'R'), true);
    assert.equal(bool(parseTwilioForm('R=false'), 'R'), false);
    assert.equal(bool(parseTwilioForm(''), 'R'), undefined);
    assert.throws(() => bool(parseTwilioForm('R=yes'), 'R'), /Invalid R: expected true or false/);
  });

  it('rejectUnknownFields() names the first unknown key', () => {
    rejectUnknownFields(parseTwilioForm('A=1&B=2'), ['A', 'B']);
    assert.throws(() => rejectUnknownFields(parseTwilioForm('A=1&Bogus=2'), new Set(['A'])), (e: Error & { code?: number }) => e.code === 20001 && e.message === 'Unknown parameter "Bogus"');
  });

  describe('installTwilioForm', () => {
    let app: FastifyInstance;
    before(async () => {
      app = Fastify();
      installErrorHandlers(app);
      await app.register(async (tw) => {
        installTwilioForm(tw);
        tw.post('/echo', async (request) => Object.fromEntries(formOf(request)));
      });
      await app.ready();
    });
    after(() => app.close());

    it('parses form bodies into the form map', async () => {
      const res = await app.inject({ method: 'POST', url: '/echo', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: 'A=1&A=2&B=%2B1555' });
      assert.equal(res.statusCode, 200);
      assert.deepEqual(res.json(), { A: ['1', '2'], B: ['+1555'] });
    });

    it('gives an empty form for a POST without a body', async () => {
      const res = await app.inject({ method: 'POST', url: '/echo' });
      assert.equal(res.statusCode, 200);
      assert.deepEqual(res.json(), {});
    });

    it('refuses JSON bodies with 415', async () => {
      const res = await app.inject({ method: 'POST', url: '/echo', headers: { 'content-type': 'application/json' }, payload: '{"A":1}' });
      assert.equal(res.statusCode, 415);
      assert.equal(res.json().code, 20001);
      assert.match(res.json().message, /application\/x-www-form-urlencoded/);
    });
  });
});
