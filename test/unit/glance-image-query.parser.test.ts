import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../src/domain/domain-errors';
import { effectiveSort } from '../../src/api/queries/image-list.query';
import {
  glanceListLinks,
  parseGlanceImageQuery,
  parseIsoTime,
  splitFilterOp,
  splitInValues,
  type QueryPairs,
} from '../../src/api/rest/glance-image-query.parser';

const q = (query: string): QueryPairs => [...new URLSearchParams(query)];
const parse = (query: string) => parseGlanceImageQuery(q(query));
const rejects = (query: string, message: string | RegExp) => {
  expect(() => parse(query)).toThrow(ValidationError);
  expect(() => parse(query)).toThrow(message);
};

describe('parseIsoTime', () => {
  it.each([
    ['2024-03-05T10:20:30Z', '2024-03-05T10:20:30'],
    ['2024-03-05T10:20:30', '2024-03-05T10:20:30'],
    ['2024-03-05T10:20:30.000Z', '2024-03-05T10:20:30'],
    ['2024-03-05T10:20:30.250Z', '2024-03-05T10:20:30.25'],
    ['2024-03-05T10:20:30,5Z', '2024-03-05T10:20:30.5'],
    ['2024-03-05T12:20:30+02:00', '2024-03-05T10:20:30'],
    ['2024-03-05T08:20:30-0200', '2024-03-05T10:20:30'],
    ['2024-03-05T12:20:30+02', '2024-03-05T10:20:30'],
    ['2024-03-05T00:30:00+01:00', '2024-03-04T23:30:00'],
    ['2024-03-05', '2024-03-05T00:00:00'],
    ['2024-03', '2024-03-01T00:00:00'],
    ['2024', '2024-01-01T00:00:00'],
    ['20240305', '2024-03-05T00:00:00'],
    ['20240305T102030Z', '2024-03-05T10:20:30'],
    ['2024-03-05 10:20', '2024-03-05T10:20:00'],
    ['2024-3-5T10:20:30Z', '2024-03-05T10:20:30'],
    ['2024-02-29T00:00:00Z', '2024-02-29T00:00:00'],
  ])('%s is %s in UTC', (text, expected) => {
    expect(parseIsoTime(text)).toBe(expected);
  });

  it.each([
    'yesterday',
    '',
    '2024-13-01',
    '2023-02-29',
    '2024-03-05T24:00:00Z',
    '2024-03-05T10:60:00Z',
    '2024-03-05T10:20:61Z',
    '2024-03-05T10:20:30+25:00',
    '2024-03-05T10:20:30Q',
    '2024-03-05Z',
    '0000-01-01',
    '9999-12-31T23:00:00-02:00',
    ' 2024-03-05',
    '2024-03-05T10:20:30Zjunk',
  ])('%j is not a time', (text) => {
    expect(parseIsoTime(text)).toBeNull();
  });
});

describe('splitFilterOp (Glance split_filter_op)', () => {
  it('defaults to eq without a colon', () => {
    expect(splitFilterOp('snap')).toEqual({ op: 'eq', value: 'snap' });
  });
  it('splits at the first colon', () => {
    expect(splitFilterOp('in:a,b')).toEqual({ op: 'in', value: 'a,b' });
    expect(splitFilterOp('eq:x:y')).toEqual({ op: 'eq', value: 'x:y' });
    expect(splitFilterOp('gt:2024-01-01T00:00:00Z')).toEqual({
      op: 'gt',
      value: '2024-01-01T00:00:00Z',
    });
  });
  it('does not split a bare ISO time', () => {
    expect(splitFilterOp('2024-01-01T10:00:00Z')).toEqual({
      op: 'eq',
      value: '2024-01-01T10:00:00Z',
    });
  });
});

describe('splitInValues (Glance split_filter_value_for_quotes)', () => {
  it('splits on commas', () => {
    expect(splitInValues('a,b,c')).toEqual(['a', 'b', 'c']);
  });
  it('keeps commas inside quotes and unescapes nothing else', () => {
    expect(splitInValues('"a,b",c')).toEqual(['a,b', 'c']);
    expect(splitInValues('"say \\"hi\\"",x')).toEqual(['say \\"hi\\"', 'x']);
  });
  it('gives an empty value for an empty element', () => {
    expect(splitInValues('a,,b')).toEqual(['a', '', 'b']);
  });
  it.each([
    ['a"b"', 'no comma before opening quotation mark'],
    ['"a"b', 'no comma after closing quotation mark'],
    ['"a,b', 'The quote is not closed'],
  ])('refuses %s', (value, message) => {
    expect(() => splitInValues(value)).toThrow(message);
  });
});

describe('parseGlanceImageQuery: paging', () => {
  it('defaults to 25 images, newest first, no marker', () => {
    const { page, filter } = parse('');
    expect(page).toEqual({ limit: 25, sort: [{ key: 'created_at', dir: 'desc' }] });
    expect(filter).toEqual({ memberStatus: 'accepted' });
  });
  it('takes the limit and caps it at 1000 as Glance does', () => {
    expect(parse('limit=3').page.limit).toBe(3);
    expect(parse('limit=0').page.limit).toBe(0);
    expect(parse('limit=+7').page.limit).toBe(7);
    expect(parse('limit=5000').page.limit).toBe(1000);
    expect(parse('limit=99999999999999999999999').page.limit).toBe(1000);
  });
  it.each(['abc', '1.5', '', '1e3', '0x10'])('refuses limit=%s', (value) => {
    rejects(`limit=${value}`, 'limit param must be an integer');
  });
  it('refuses a negative limit', () => {
    rejects('limit=-1', 'limit param must be positive');
  });
  it('passes the marker through (the query checks it)', () => {
    expect(parse('marker=abc').page.marker).toBe('abc');
  });
});

describe('parseGlanceImageQuery: sorting', () => {
  it('reads classic sort_key / sort_dir pairs', () => {
    expect(parse('sort_key=name&sort_dir=asc&sort_key=size&sort_dir=desc').page.sort).toEqual([
      { key: 'name', dir: 'asc' },
      { key: 'size', dir: 'desc' },
    ]);
  });
  it('applies one sort_dir to every key', () => {
    expect(parse('sort_key=name&sort_key=status&sort_dir=asc').page.sort).toEqual([
      { key: 'name', dir: 'asc' },
      { key: 'status', dir: 'asc' },
    ]);
  });
  it('defaults keys to created_at and directions to desc', () => {
    expect(parse('sort_dir=asc').page.sort).toEqual([{ key: 'created_at', dir: 'asc' }]);
    expect(parse('sort_key=name').page.sort).toEqual([{ key: 'name', dir: 'desc' }]);
  });
  it('refuses a count of directions that does not match the keys', () => {
    rejects(
      'sort_key=name&sort_dir=asc&sort_dir=desc&sort_dir=asc&sort_key=size',
      'Number of sort dirs does not match the number of sort keys',
    );
    rejects('sort_dir=asc&sort_dir=desc', 'Number of sort dirs');
  });
  it('reads the sort=key:dir syntax, with desc as the default direction', () => {
    expect(parse('sort=name:asc,size, status:desc').page.sort).toEqual([
      { key: 'name', dir: 'asc' },
      { key: 'size', dir: 'desc' },
      { key: 'status', dir: 'desc' },
    ]);
  });
  it('refuses mixing both syntaxes', () => {
    rejects('sort=name&sort_key=size', 'Old and new sorting syntax cannot be combined');
    rejects('sort=name&sort_dir=asc', 'Old and new sorting syntax cannot be combined');
  });
  it.each(['sort_key=owner', 'sort_key=bogus', 'sort=visibility:asc', 'sort=', 'sort=name:asc,'])(
    'refuses an unknown sort key: %s',
    (query) => rejects(query, 'Invalid sort key'),
  );
  it.each(['sort_dir=up', 'sort=name:ASC', 'sort_key=name&sort_dir=descending'])(
    'refuses a bad direction: %s',
    (query) => rejects(query, 'Invalid sort direction'),
  );
  it('accepts every Glance sort key', () => {
    for (const key of [
      'name',
      'status',
      'container_format',
      'disk_format',
      'size',
      'id',
      'created_at',
      'updated_at',
    ])
      expect(parse(`sort_key=${key}`).page.sort).toEqual([{ key, dir: 'desc' }]);
  });
});

describe('effectiveSort', () => {
  it('always ends with created_at and id, following a single direction', () => {
    expect(effectiveSort([{ key: 'name', dir: 'asc' }])).toEqual([
      { key: 'name', dir: 'asc' },
      { key: 'created_at', dir: 'asc' },
      { key: 'id', dir: 'asc' },
    ]);
    expect(
      effectiveSort([
        { key: 'name', dir: 'asc' },
        { key: 'size', dir: 'asc' },
      ]),
    ).toEqual([
      { key: 'name', dir: 'asc' },
      { key: 'size', dir: 'asc' },
      { key: 'created_at', dir: 'desc' },
      { key: 'id', dir: 'desc' },
    ]);
    expect(effectiveSort(undefined)).toEqual([
      { key: 'created_at', dir: 'desc' },
      { key: 'id', dir: 'desc' },
    ]);
    expect(effectiveSort([{ key: 'id', dir: 'asc' }])).toEqual([
      { key: 'id', dir: 'asc' },
      { key: 'created_at', dir: 'asc' },
    ]);
  });
});

describe('parseGlanceImageQuery: filters', () => {
  it('reads name, status, id and formats with eq (default) and in', () => {
    expect(parse('name=snap-1').filter.names).toEqual(['snap-1']);
    expect(parse('name=eq:a:b').filter.names).toEqual(['a:b']);
    expect(parse('name=in:a,"b,c"').filter.names).toEqual(['a', 'b,c']);
    expect(parse('status=in:active,killed').filter.statuses).toEqual(['active', 'killed']);
    expect(parse('id=in:x,y').filter.ids).toEqual(['x', 'y']);
    expect(parse('disk_format=qcow2').filter.diskFormats).toEqual(['qcow2']);
    expect(parse('container_format=bare').filter.containerFormats).toEqual(['bare']);
  });
  it('refuses an unknown operator on those (a bare colon means an operator, as in Glance)', () => {
    rejects('name=gt:a', "Unable to filter by unknown operator 'gt'.");
    rejects('status=snap:1', "Unable to filter by unknown operator 'snap'.");
  });
  it('keeps the last value of a repeated filter', () => {
    expect(parse('status=queued&status=active').filter.statuses).toEqual(['active']);
  });
  it('reads visibility, refusing unknown values', () => {
    for (const v of ['private', 'shared', 'public', 'community', 'all'])
      expect(parse(`visibility=${v}`).filter.visibility).toBe(v);
    rejects('visibility=everyone', 'Invalid visibility value: everyone');
  });
  it('reads member_status, refusing unknown values', () => {
    expect(parse('member_status=all').filter.memberStatus).toBe('all');
    rejects('member_status=maybe', 'Invalid status: maybe');
  });
  it('reads owner, instance_uuid and image_type', () => {
    const { filter } = parse('owner=p1&instance_uuid=u-1&image_type=snapshot');
    expect(filter).toMatchObject({ owner: 'p1', instanceUuid: 'u-1', imageType: 'snapshot' });
  });
  it('makes any other parameter a property filter', () => {
    expect(parse('purpose=e2e&user_id=u').filter.properties).toEqual({
      purpose: 'e2e',
      user_id: 'u',
    });
  });
  it('reads created_at / updated_at with every Glance operator, in UTC', () => {
    for (const op of ['gt', 'gte', 'lt', 'lte', 'eq', 'neq'])
      expect(parse(`created_at=${op}:2024-01-02T03:04:05Z`).filter.createdAt).toEqual([
        { op, at: '2024-01-02T03:04:05' },
      ]);
    expect(parse('updated_at=lt:2024-01-02T05:04:05%2B02:00').filter.updatedAt).toEqual([
      { op: 'lt', at: '2024-01-02T03:04:05' },
    ]);
  });
  it('takes a bare time as eq, and keeps every repeated time condition (a range)', () => {
    expect(parse('created_at=2024-01-02T03:04:05Z').filter.createdAt).toEqual([
      { op: 'eq', at: '2024-01-02T03:04:05' },
    ]);
    expect(
      parse('created_at=gt:2024-01-01T00:00:00Z&created_at=lt:2024-02-01T00:00:00Z').filter
        .createdAt,
    ).toEqual([
      { op: 'gt', at: '2024-01-01T00:00:00' },
      { op: 'lt', at: '2024-02-01T00:00:00' },
    ]);
  });
  it('refuses a bad time or operator in created_at / updated_at', () => {
    rejects('created_at=gt:yesterday', 'Bad "created_at" query filter format');
    rejects('updated_at=tomorrow', 'Bad "updated_at" query filter format');
    rejects('created_at=gt:', 'Bad "created_at" query filter format');
    rejects('created_at=in:2024-01-01T00:00:00Z', 'Unable to filter on a unknown operator.');
    rejects('created_at=after:2024-01-01', 'Unable to filter on a unknown operator.');
  });
  it('reads size ranges and refuses non-numbers', () => {
    expect(parse('size_min=10&size_max=20').filter).toMatchObject({ sizeMin: 10, sizeMax: 20 });
    expect(parse('virtual_size_min=1&virtual_size_max=2').filter).toMatchObject({
      virtualSizeMin: 1,
      virtualSizeMax: 2,
    });
    rejects('size_min=big', 'Unable to filter on a range with a non-numeric value.');
    rejects('min_ram_max=x', 'Unable to filter on a range with a non-numeric value.');
  });
  it('reads column equality filters', () => {
    expect(parse('checksum=abc&os_hash_value=def&size=42').filter.columns).toEqual([
      { column: 'checksum', value: 'abc' },
      { column: 'osHashValue', value: 'def' },
      { column: 'size', value: 42 },
    ]);
  });
  it('matches nothing for what no snapledger image has', () => {
    for (const query of [
      'tag=x',
      'os_hidden=true',
      'protected=TRUE',
      'min_ram=512',
      'min_disk_min=1',
      'size=abc',
      'deleted_at=2024-01-01',
    ])
      expect(parse(query).filter.matchNothing).toBe(true);
    for (const query of ['os_hidden=false', 'protected=false', 'min_ram=0', 'deleted=true'])
      expect(parse(query).filter.matchNothing).toBeUndefined();
  });
  it('refuses bad booleans and the retired changes-since', () => {
    rejects('os_hidden=yes', "Invalid value 'yes' for 'os_hidden' filter.");
    rejects('protected=1', "Invalid value '1' for 'protected' filter.");
    rejects('changes-since=2024-01-01', 'The "changes-since" filter is no longer available on v2.');
  });
  it('does not treat paging and sorting parameters as filters', () => {
    expect(parse('limit=2&marker=m&sort=name&member_status=all').filter).toEqual({
      memberStatus: 'all',
    });
  });
});

describe('glanceListLinks', () => {
  it('gives first without marker, and next with the new marker and the other parameters', () => {
    const pairs = q('status=active&marker=old&limit=2&name=a b');
    expect(glanceListLinks(pairs, 'new-id')).toEqual({
      first: '/v2/images?status=active&limit=2&name=a+b',
      next: '/v2/images?status=active&limit=2&name=a+b&marker=new-id',
    });
  });
  it('omits next at the end and the query when there is none', () => {
    expect(glanceListLinks([], null)).toEqual({ first: '/v2/images' });
    expect(glanceListLinks(q('marker=x'), null)).toEqual({ first: '/v2/images' });
  });
});
