/** Keystone's v3 version documents, with links from the configured public URL. */

/** The Identity API minor version whose token shapes this subset follows. */
export const IDENTITY_VERSION = 'v3.14';
const UPDATED = '2020-04-07T00:00:00Z';

/** The v3 entry, as `GET /identity/v3` shows it and `GET /identity` lists it. */
export function identityVersion(publicUrl: string) {
  return {
    id: IDENTITY_VERSION,
    status: 'stable',
    updated: UPDATED,
    links: [{ rel: 'self', href: `${publicUrl}/identity/v3/` }],
    'media-types': [
      { base: 'application/json', type: 'application/vnd.openstack.identity-v3+json' },
    ],
  };
}

/** `GET /identity`: the list of versions (Keystone answers it with 300 Multiple Choices). */
export function identityVersions(publicUrl: string) {
  return { versions: { values: [identityVersion(publicUrl)] } };
}
