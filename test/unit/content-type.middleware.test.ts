import { describe, expect, it } from 'vitest';
import { decideBodyContent } from '../../src/api/content-type.middleware';

describe('decideBodyContent (Nova wsgi.Request.get_content_type rules)', () => {
  const action = '/v2.1/servers/x/action';

  it('parses JSON and +json media types, with parameters and any case', () => {
    expect(decideBodyContent(action, 'application/json', true)).toBe('json');
    expect(decideBodyContent(action, 'Application/JSON; charset=utf-8', true)).toBe('json');
    expect(decideBodyContent(action, 'application/vnd.openstack.compute+json', true)).toBe('json');
    expect(decideBodyContent('/v1/admin/instances/sync', 'application/json', true)).toBe('json');
    // Glance's JSON-patch types, on Glance routes only
    for (const v of ['2.0', '2.1'])
      expect(
        decideBodyContent('/v2/images/x', `application/openstack-images-v${v}-json-patch`, true),
      ).toBe('json');
    expect(decideBodyContent(action, 'application/openstack-images-v2.1-json-patch', true)).toBe(
      'unsupported',
    );
  });

  it('reads a Nova body without a Content-Type, or text/plain, as JSON', () => {
    expect(decideBodyContent(action, undefined, true)).toBe('treat-as-json');
    expect(decideBodyContent(action, '', true)).toBe('treat-as-json');
    expect(decideBodyContent(action, 'text/plain; charset=utf-8', true)).toBe('treat-as-json');
  });

  it('refuses any other media type with a body (415), in every family', () => {
    for (const type of ['application/xml', 'text/html', 'multipart/form-data; boundary=b'])
      expect(decideBodyContent(action, type, true)).toBe('unsupported');
    expect(decideBodyContent('/v1/admin/instances/sync', 'text/plain', true)).toBe('unsupported');
    expect(decideBodyContent('/v2/images/x', 'application/xml', true)).toBe('unsupported');
  });

  it('leaves requests without a body, and GraphQL, alone', () => {
    expect(decideBodyContent(action, 'application/xml', false)).toBe('no-body');
    expect(decideBodyContent('/graphql', 'text/plain', true)).toBe('no-body');
  });
});
