import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join, resolve } from 'node:path';
import {
  isSafeRelativePath, nativeRecordingMediaPath, recordingAbsolutePath, recordingRelativePath, recordingUrl, RecordingPathError, twilioRecordingPath,
} from '../../src/store/recording-paths.js';
import { newSid } from '../../src/ids.js';

describe('recording paths', () => {
  const ac = newSid('AC');
  const re = newSid('RE');

  it('lays files out per account under <dataDir>/recordings', () => {
    assert.equal(recordingRelativePath(ac, re), `recordings/${ac}/${re}.wav`);
    assert.equal(recordingAbsolutePath('/var/lib/patchbay', recordingRelativePath(ac, re)), join('/var/lib/patchbay', 'recordings', ac, `${re}.wav`));
    assert.equal(recordingAbsolutePath('rel/data', 'recordings/x.wav'), resolve('rel/data/recordings/x.wav'));
  });

  it('builds paths only from SIDs, and never resolves a stored path outside the data directory', () => {
    for (const [a, r] of [['../x', re], [ac, '../../etc/passwd'], [ac, 'CA' + re.slice(2)], [ac.toLowerCase(), re]]) {
      assert.throws(() => recordingRelativePath(a!, r!), RecordingPathError);
    }
    for (const p of ['', '/etc/passwd', '../x.wav', 'recordings/../../x.wav', 'recordings/./x.wav', 'a//b.wav', 'a\\b.wav', 'recordings/..', '.', 'a/.hidden/x']) {
      assert.equal(isSafeRelativePath(p), false, p);
      assert.throws(() => recordingAbsolutePath('/data', p), RecordingPathError, p);
    }
    assert.equal(isSafeRelativePath('recordings/AC1/RE1.wav'), true);
  });

  it('gives apps Twilio-shaped URLs (no extension) under the public base URL', () => {
    assert.equal(twilioRecordingPath(ac, re), `/2010-04-01/Accounts/${ac}/Recordings/${re}`);
    assert.equal(recordingUrl('https://voice.example.com', ac, re), `https://voice.example.com/2010-04-01/Accounts/${ac}/Recordings/${re}`);
    assert.equal(recordingUrl('http://10.0.0.5:8080/pb//', ac, re), `http://10.0.0.5:8080/pb/2010-04-01/Accounts/${ac}/Recordings/${re}`);
    assert.equal(nativeRecordingMediaPath(re), `/v1/recordings/${re}/media`);
  });
});
