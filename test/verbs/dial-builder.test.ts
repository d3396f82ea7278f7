/**
 * `<Dial>` in both readers: Twilio's defaults, every attribute and noun, the 132xx codes, and TwiML
 * and JSON giving the same model (and the same code for the same mistake).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readTwiml } from '../../src/verbs/twiml-reader.js';
import { readJsonVerbs } from '../../src/verbs/json-reader.js';
import { VerbDocumentError } from '../../src/verbs/verb-errors.js';
import type { DialVerb } from '../../src/verbs/verb-model.js';

const r = (body: string): string => `<Response>${body}</Response>`;

function dialOf(xml: string): DialVerb {
  const verb = readTwiml(r(xml)).verbs[0];
  assert.ok(verb?.verb === 'dial', `expected a dial, got ${JSON.stringify(verb)}`);
  return verb;
}

function codeOf(fn: () => unknown): number {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof VerbDocumentError, `expected VerbDocumentError, got ${String(err)}`);
    return err.code;
  }
  assert.fail('no error');
}

const twimlCode = (xml: string): number => codeOf(() => readTwiml(r(xml)));
const jsonCode = (json: unknown): number => codeOf(() => readJsonVerbs([json]));

const leg = { url: null, method: 'POST', statusCallback: null, statusCallbackMethod: 'POST', statusCallbackEvent: ['completed'] };

describe('<Dial>: defaults and attributes', () => {
  it("reads a number as text with Twilio's defaults", () => {
    assert.deepEqual(dialOf('<Dial> +1 (415) 555-0100 </Dial>'), {
      verb: 'dial',
      action: null,
      method: 'POST',
      timeout: 30,
      timeLimit: 14400,
      callerId: null,
      answerOnBridge: false,
      ringTone: null,
      hangupOnStar: false,
      record: 'do-not-record',
      recordingStatusCallback: null,
      recordingStatusCallbackMethod: 'POST',
      recordingStatusCallbackEvent: ['completed'],
      recordingTrack: 'both',
      trim: 'do-not-trim',
      sequential: false,
      referUrl: null,
      referMethod: 'POST',
      targets: [{ noun: 'number', number: '+14155550100', sendDigits: null, ...leg }],
    });
  });

  it('reads every attribute, and JSON gives the same verb', () => {
    const attrs = {
      action: '/after-dial', method: 'GET', timeout: 5, timeLimit: 60, callerId: '+15550001111', answerOnBridge: true,
      ringTone: 'uk', hangupOnStar: true, record: 'record-from-ringing-dual', recordingStatusCallback: 'rec-status',
      recordingStatusCallbackMethod: 'GET', recordingStatusCallbackEvent: 'in-progress completed', recordingTrack: 'inbound',
      trim: 'trim-silence', sequential: true, referUrl: '/refer', referMethod: 'GET',
    };
    const xmlAttrs = Object.entries(attrs).map(([k, v]) => `${k}="${String(v)}"`).join(' ');
    const xml = readTwiml(r(`<Dial ${xmlAttrs}>1000</Dial>`));
    const json = readJsonVerbs([{ verb: 'dial', ...attrs, recordingStatusCallbackEvent: ['in-progress', 'completed'], targets: [{ type: 'number', number: '1000' }] }]);
    assert.deepEqual(xml, json);
    assert.deepEqual(xml.warnings, []);
    const { targets, ...rest } = xml.verbs[0] as DialVerb;
    assert.deepEqual(rest, { verb: 'dial', ...attrs, recordingStatusCallbackEvent: ['in-progress', 'completed'] });
    assert.deepEqual(targets, [{ noun: 'number', number: '1000', sendDigits: null, ...leg }]);
  });

  it('maps record="true"/"false" to record-from-answer/do-not-record, and ringTone case-insensitively', () => {
    assert.equal(dialOf('<Dial record="true">1</Dial>').record, 'record-from-answer');
    assert.equal(dialOf('<Dial record="false">1</Dial>').record, 'do-not-record');
    assert.equal(readJsonVerbs([{ verb: 'dial', record: true, targets: [{ type: 'number', number: '1' }] }]).verbs[0]?.verb === 'dial' && (readJsonVerbs([{ verb: 'dial', record: true, targets: [{ type: 'number', number: '1' }] }]).verbs[0] as DialVerb).record, 'record-from-answer');
    assert.equal(dialOf('<Dial ringTone="DE">1</Dial>').ringTone, 'de');
  });

  it('accepts the caller IDs Twilio accepts', () => {
    for (const id of ['+15551234567', '1000', 'client:alice', 'sip:support@pbx.example.com', 'Patchbay_Support-1.0', 'sips:bob@example.com:5061']) {
      assert.equal(dialOf(`<Dial callerId="${id}">1</Dial>`).callerId, id);
    }
    assert.equal(dialOf('<Dial callerId="">1</Dial>').callerId, null);
  });

  it('warns (12200) about unknown attributes and about text next to nouns', () => {
    const doc = readTwiml(r('<Dial answerOnBrige="true" events="x">+1555<Number byoc="BY1">+1666</Number></Dial>'));
    assert.deepEqual((doc.verbs[0] as DialVerb).targets.map((t) => t.noun === 'number' && t.number), ['+1666']);
    assert.deepEqual(doc.warnings.map((w) => w.code), [12200, 12200, 12200, 12200]);
    assert.ok(doc.warnings.some((w) => /byoc/.test(w.message)));
    assert.ok(doc.warnings.some((w) => /\+1555/.test(w.message)));
  });
});

describe('<Dial> nouns', () => {
  it('<Number>: normalized number, sendDigits, whisper url and status callbacks', () => {
    const dial = dialOf('<Dial><Number sendDigits="ww1234#" url="/whisper" method="GET" statusCallback="https://cb.test/leg" statusCallbackMethod="GET" statusCallbackEvent="initiated ringing answered completed">+44 20.7946-0000</Number></Dial>');
    assert.deepEqual(dial.targets, [{
      noun: 'number', number: '+442079460000', sendDigits: 'ww1234#', url: '/whisper', method: 'GET',
      statusCallback: 'https://cb.test/leg', statusCallbackMethod: 'GET', statusCallbackEvent: ['initiated', 'ringing', 'answered', 'completed'],
    }]);
  });

  it('<Sip>: the URI header part becomes headers (decoded), then <Headers>, with credentials', () => {
    const dial = dialOf(
      '<Dial><Sip username="pb" password="s3cret" url="whisper.xml" statusCallback="/leg">sip:bob@pbx.example.com;transport=tcp?X-Ticket=4%2042&amp;User-to-User=56a3;encoding=hex' +
        '<Headers><Header name="P-Called-Party-ID" value="&lt;sip:sales@example.com&gt;"/><Header name="x-lower" value="ok"/></Headers></Sip></Dial>',
    );
    assert.deepEqual(dial.targets, [{
      noun: 'sip', uri: 'sip:bob@pbx.example.com;transport=tcp',
      headers: [['X-Ticket', '4 42'], ['User-to-User', '56a3;encoding=hex'], ['P-Called-Party-ID', '<sip:sales@example.com>'], ['x-lower', 'ok']],
      username: 'pb', password: 's3cret', ...leg, url: 'whisper.xml', statusCallback: '/leg',
    }]);
  });

  it('<Client>: text or <Identity>, a client: prefix dropped, <Parameter>s in order', () => {
    const dial = dialOf('<Dial><Client statusCallbackEvent="answered">alice</Client><Client><Identity>client:bob</Identity><Parameter name="ticket" value="42"/><Parameter name="vip" value="yes"/></Client></Dial>');
    assert.deepEqual(dial.targets, [
      { noun: 'client', identity: 'alice', parameters: [], ...leg, statusCallbackEvent: ['answered'] },
      { noun: 'client', identity: 'bob', parameters: [['ticket', '42'], ['vip', 'yes']], ...leg },
    ]);
  });

  it('rings up to 10 nouns of mixed kinds, in document order', () => {
    const nouns = Array.from({ length: 10 }, (_, i) => (i % 3 === 0 ? `<Number>+1555000${i}</Number>` : i % 3 === 1 ? `<Sip>sip:u${i}@h.example</Sip>` : `<Client>c${i}</Client>`));
    const dial = dialOf(`<Dial sequential="true">${nouns.join('')}</Dial>`);
    assert.deepEqual(dial.targets.map((t) => t.noun), ['number', 'sip', 'client', 'number', 'sip', 'client', 'number', 'sip', 'client', 'number']);
    assert.equal(dial.sequential, true);
  });
});

describe('<Dial>: errors (TwiML and JSON report the same code)', () => {
  const one = { type: 'number', number: '+1555' };
  const cases: Array<[string, string, unknown, number]> = [
    ['no target', '<Dial/>', { verb: 'dial' }, 13223],
    ['empty targets', '<Dial>  </Dial>', { verb: 'dial', targets: [] }, 13223],
    ['bad number', '<Dial>call me</Dial>', { verb: 'dial', targets: [{ type: 'number', number: 'call me' }] }, 13223],
    ['empty <Number>', '<Dial><Number/></Dial>', { verb: 'dial', targets: [{ type: 'number', number: '' }] }, 13223],
    ['number not a string', '<Dial><Number>+1-x</Number></Dial>', { verb: 'dial', targets: [{ type: 'number', number: 15551234 }] }, 13223],
    ['11 nouns', `<Dial>${'<Number>1</Number>'.repeat(11)}</Dial>`, { verb: 'dial', targets: Array(11).fill(one) }, 13215],
    ['timeout below 5', '<Dial timeout="4">1</Dial>', { verb: 'dial', timeout: 4, targets: [one] }, 13212],
    ['timeout above 600', '<Dial timeout="601">1</Dial>', { verb: 'dial', timeout: 601, targets: [one] }, 13212],
    ['timeout not a number', '<Dial timeout="soon">1</Dial>', { verb: 'dial', timeout: 'soon', targets: [one] }, 13212],
    ['timeLimit 0', '<Dial timeLimit="0">1</Dial>', { verb: 'dial', timeLimit: 0, targets: [one] }, 13216],
    ['timeLimit above 24 h', '<Dial timeLimit="86401">1</Dial>', { verb: 'dial', timeLimit: 86401, targets: [one] }, 13216],
    ['record', '<Dial record="always">1</Dial>', { verb: 'dial', record: 'always', targets: [one] }, 13217],
    ['hangupOnStar', '<Dial hangupOnStar="maybe">1</Dial>', { verb: 'dial', hangupOnStar: 'maybe', targets: [one] }, 13213],
    ['method', '<Dial method="PUT">1</Dial>', { verb: 'dial', method: 'PUT', targets: [one] }, 13210],
    ['referMethod', '<Dial referMethod="PATCH">1</Dial>', { verb: 'dial', referMethod: 'PATCH', targets: [one] }, 13210],
    ['callerId with a space', '<Dial callerId="bad id">1</Dial>', { verb: 'dial', callerId: 'bad id', targets: [one] }, 13214],
    ['callerId with a slash', '<Dial callerId="a/b">1</Dial>', { verb: 'dial', callerId: 'a/b', targets: [one] }, 13214],
    ['ringTone', '<Dial ringTone="xx">1</Dial>', { verb: 'dial', ringTone: 'xx', targets: [one] }, 12200],
    ['recordingTrack', '<Dial recordingTrack="left">1</Dial>', { verb: 'dial', recordingTrack: 'left', targets: [one] }, 12200],
    ['trim', '<Dial trim="some">1</Dial>', { verb: 'dial', trim: 'some', targets: [one] }, 12200],
    ['recordingStatusCallbackEvent', '<Dial recordingStatusCallbackEvent="done">1</Dial>', { verb: 'dial', recordingStatusCallbackEvent: ['done'], targets: [one] }, 12200],
    ['action scheme', '<Dial action="ftp://x/y">1</Dial>', { verb: 'dial', action: 'ftp://x/y', targets: [one] }, 11100],
    ['sendDigits', '<Dial><Number sendDigits="12x">1</Number></Dial>', { verb: 'dial', targets: [{ ...one, sendDigits: '12x' }] }, 13222],
    ['Number method', '<Dial><Number method="PUT">1</Number></Dial>', { verb: 'dial', targets: [{ ...one, method: 'PUT' }] }, 13221],
    ['Number url', '<Dial><Number url="mailto:x">1</Number></Dial>', { verb: 'dial', targets: [{ ...one, url: 'mailto:x' }] }, 11100],
    ['statusCallbackEvent', '<Dial><Number statusCallbackEvent="hangup">1</Number></Dial>', { verb: 'dial', targets: [{ ...one, statusCallbackEvent: 'hangup' }] }, 12200],
    ['Sip not a SIP URI', '<Dial><Sip>tel:+1555</Sip></Dial>', { verb: 'dial', targets: [{ type: 'sip', uri: 'tel:+1555' }] }, 13243],
    ['Sip without host', '<Dial><Sip>sip:bob@</Sip></Dial>', { verb: 'dial', targets: [{ type: 'sip', uri: 'sip:bob@' }] }, 13243],
    ['Sip without URI', '<Dial><Sip/></Dial>', { verb: 'dial', targets: [{ type: 'sip' }] }, 13243],
    ['Sip bad escape', '<Dial><Sip>sip:b@h?X-A=%zz</Sip></Dial>', { verb: 'dial', targets: [{ type: 'sip', uri: 'sip:b@h?X-A=%zz' }] }, 13243],
    ['Sip header in URI', '<Dial><Sip>sip:b@h?Via=SIP/2.0/UDP%20evil</Sip></Dial>', { verb: 'dial', targets: [{ type: 'sip', uri: 'sip:b@h?Via=SIP/2.0/UDP%20evil' }] }, 13252],
    ['Sip header element', '<Dial><Sip>sip:b@h<Headers><Header name="Contact" value="x"/></Headers></Sip></Dial>', { verb: 'dial', targets: [{ type: 'sip', uri: 'sip:b@h', headers: { Contact: 'x' } }] }, 13252],
    ['Sip bare X-', '<Dial><Sip>sip:b@h?X-=1</Sip></Dial>', { verb: 'dial', targets: [{ type: 'sip', uri: 'sip:b@h', headers: [{ name: 'X-', value: '1' }] }] }, 13252],
    ['Sip headers too long', `<Dial><Sip>sip:b@h?X-Big=${'a'.repeat(1030)}</Sip></Dial>`, { verb: 'dial', targets: [{ type: 'sip', uri: 'sip:b@h', headers: { 'X-Big': 'a'.repeat(1030) } }] }, 13251],
    ['Sip header CRLF', '<Dial><Sip>sip:b@h?X-A=1%0D%0AVia:x</Sip></Dial>', { verb: 'dial', targets: [{ type: 'sip', uri: 'sip:b@h', headers: { 'X-A': '1\r\nVia:x' } }] }, 13243],
    ['Sip password alone', '<Dial><Sip password="p">sip:b@h</Sip></Dial>', { verb: 'dial', targets: [{ type: 'sip', uri: 'sip:b@h', password: 'p' }] }, 12200],
    ['Client without identity', '<Dial><Client/></Dial>', { verb: 'dial', targets: [{ type: 'client', identity: '' }] }, 12200],
    ['Client identity', '<Dial><Client>alice smith</Client></Dial>', { verb: 'dial', targets: [{ type: 'client', identity: 'alice smith' }] }, 12200],
    ['Conference', '<Dial><Conference>room</Conference></Dial>', { verb: 'dial', targets: [{ type: 'conference', name: 'room' }] }, 12200],
  ];
  for (const [name, xml, json, code] of cases) {
    it(`${name} -> ${code}`, () => {
      assert.equal(twimlCode(xml), code, xml);
      assert.equal(jsonCode(json), code, JSON.stringify(json).slice(0, 200));
    });
  }

  it('Conference, Queue, Application, Sim and WhatsApp are known but not supported yet (12200)', () => {
    for (const tag of ['Conference', 'Queue', 'Application', 'Sim', 'WhatsApp']) {
      assert.throws(() => readTwiml(r(`<Dial><${tag}>x</${tag}></Dial>`)), (err: unknown) => err instanceof VerbDocumentError && err.code === 12200 && /not supported yet/.test(err.message), tag);
    }
  });

  it('a verb or an unknown element inside <Dial> is 13215; <Sip><Uri> is not supported yet', () => {
    assert.equal(twimlCode('<Dial><Say>hi</Say></Dial>'), 13215);
    assert.equal(twimlCode('<Dial><Number>1<Say>x</Say></Number></Dial>'), 13215);
    assert.equal(twimlCode('<Dial><Sip>sip:b@h<Priority/></Sip></Dial>'), 13215);
    assert.equal(twimlCode('<Dial><Client>a<Header/></Client></Dial>'), 13215);
    assert.throws(() => readTwiml(r('<Dial><Sip><Uri>sip:b@h</Uri></Sip></Dial>')), /not supported yet/);
  });
});

describe('<Dial>: JSON targets', () => {
  it('reads number, sip and client targets into the same nouns as TwiML', () => {
    const xml = readTwiml(r(
      '<Dial timeout="20" callerId="client:support"><Number sendDigits="1">+1 555 0100</Number>' +
        '<Sip username="u" password="p" statusCallbackEvent="ringing completed">sip:b@h.example?X-A=1<Headers><Header name="X-B" value="2"/></Headers></Sip>' +
        '<Client url="/whisper"><Identity>alice</Identity><Parameter name="k" value="v"/></Client></Dial>',
    ));
    const json = readJsonVerbs([{
      verb: 'dial', timeout: 20, callerId: 'client:support',
      targets: [
        { type: 'number', number: '+1 555 0100', sendDigits: '1' },
        { type: 'sip', uri: 'sip:b@h.example?X-A=1', headers: { 'X-B': '2' }, username: 'u', password: 'p', statusCallbackEvent: ['ringing', 'completed'] },
        { type: 'client', identity: 'alice', url: '/whisper', parameters: [{ name: 'k', value: 'v' }] },
      ],
    }]);
    assert.deepEqual(json, xml);
    assert.deepEqual(json.warnings, []);
  });

  it('warns (12200) about unknown target properties', () => {
    const doc = readJsonVerbs([{ verb: 'dial', targets: [{ type: 'client', identity: 'alice', machineDetection: 'Enable' }] }]);
    assert.equal((doc.verbs[0] as DialVerb).targets.length, 1);
    assert.deepEqual(doc.warnings.map((w) => w.code), [12200]);
  });
});
