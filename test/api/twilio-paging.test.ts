import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readTwilioPaging, twilioPage, twilioPageMeta } from '../../src/api/twilio-paging.js';

describe('Twilio paging', () => {
  it('defaults to 50 records from page 0', () => {
    assert.deepEqual(readTwilioPaging({}), { pageSize: 50, page: 0 });
    assert.deepEqual(readTwilioPaging({ PageSize: '2', Page: '3', PageToken: 'tok' }), { pageSize: 2, page: 3, pageToken: 'tok' });
  });

  it('refuses bad PageSize, Page and PageToken with 20001 naming the field', () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ PageSize: '0' }, /PageSize/],
      [{ PageSize: '1001' }, /PageSize/],
      [{ PageSize: 'ten' }, /PageSize/],
      [{ PageSize: ['1', '2'] }, /PageSize was given 2 times/],
      [{ Page: '-1' }, /Page/],
      [{ Page: '2' }, /Page: pages after the first/],
      [{ PageToken: '' }, /PageToken/],
    ];
    for (const [query, re] of cases) {
      assert.throws(() => readTwilioPaging(query), (e: Error & { code?: number; status?: number }) => e.status === 400 && e.code === 20001 && re.test(e.message), JSON.stringify(query));
    }
  });

  it('builds relative URIs with filters, the next page carrying the store token', () => {
    const meta = twilioPageMeta({
      path: '/2010-04-01/Accounts/AC1/Applications.json',
      filters: { FriendlyName: 'a b', Other: undefined },
      paging: { pageSize: 2, page: 1, pageToken: 't1' },
      count: 2,
      nextPageToken: 't2',
    });
    assert.deepEqual(meta, {
      first_page_uri: '/2010-04-01/Accounts/AC1/Applications.json?FriendlyName=a+b&PageSize=2&Page=0',
      next_page_uri: '/2010-04-01/Accounts/AC1/Applications.json?FriendlyName=a+b&PageSize=2&Page=2&PageToken=t2',
      previous_page_uri: null,
      uri: '/2010-04-01/Accounts/AC1/Applications.json?FriendlyName=a+b&PageSize=2&Page=1&PageToken=t1',
      page: 1,
      page_size: 2,
      start: 2,
      end: 3,
    });
  });

  it('has no next page on the last page, and an empty page ends where it starts', () => {
    const meta = twilioPageMeta({ path: '/p.json', paging: { pageSize: 50, page: 0 }, count: 0, nextPageToken: null });
    assert.equal(meta.next_page_uri, null);
    assert.deepEqual([meta.start, meta.end], [0, 0]);
    const page = twilioPage('keys', [{ sid: 'SK1' }], meta);
    assert.deepEqual(page.keys, [{ sid: 'SK1' }]);
    assert.equal(page.uri, '/p.json?PageSize=50&Page=0');
  });
});
