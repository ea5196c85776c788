import { describe, expect, it } from 'vitest';
import { imageStoreFrom } from '../../src/config/snapledger.config';
import { tokenNeedsRenewal } from '../../src/drivers/keystone-session';

const GLANCE = { SNAPLEDGER_IMAGE_STORE: 'glance', SNAPLEDGER_GLANCE_URL: 'http://127.0.0.1:9292' };
const SIGN_IN = {
  SNAPLEDGER_GLANCE_AUTH_URL: 'http://127.0.0.1:5000',
  SNAPLEDGER_GLANCE_USERNAME: 'snapledger',
  SNAPLEDGER_GLANCE_PASSWORD: ' secret with spaces ',
  SNAPLEDGER_GLANCE_PROJECT: 'service',
};

describe("the Glance image store's credentials", () => {
  it('takes a fixed token, or none', () => {
    expect(imageStoreFrom({ ...GLANCE, SNAPLEDGER_GLANCE_TOKEN: 'tok' })).toEqual({
      kind: 'glance',
      url: 'http://127.0.0.1:9292',
      token: 'tok',
      keystone: null,
    });
    expect(imageStoreFrom(GLANCE)).toMatchObject({ token: null, keystone: null });
  });

  it('takes a Keystone sign-in, adding /v3 to the auth URL when it is not there', () => {
    expect(imageStoreFrom({ ...GLANCE, ...SIGN_IN })).toEqual({
      kind: 'glance',
      url: 'http://127.0.0.1:9292',
      token: null,
      keystone: {
        authUrl: 'http://127.0.0.1:5000/v3',
        username: 'snapledger',
        password: ' secret with spaces ',
        projectName: 'service',
        userDomainName: 'Default',
        projectDomainName: 'Default',
      },
    });
    const named = imageStoreFrom({
      ...GLANCE,
      ...SIGN_IN,
      SNAPLEDGER_GLANCE_AUTH_URL: 'https://cloud.example:8774/identity/v3/',
      SNAPLEDGER_GLANCE_USER_DOMAIN: 'ops',
      SNAPLEDGER_GLANCE_PROJECT_DOMAIN: 'infra',
    });
    expect(named.kind === 'glance' && named.keystone).toMatchObject({
      authUrl: 'https://cloud.example:8774/identity/v3',
      userDomainName: 'ops',
      projectDomainName: 'infra',
    });
  });

  it('refuses half a sign-in, a sign-in beside a token, and a bad auth URL, at start-up', () => {
    expect(() => imageStoreFrom({ ...GLANCE, ...SIGN_IN, SNAPLEDGER_GLANCE_PASSWORD: '' })).toThrow(
      'SNAPLEDGER_GLANCE_AUTH_URL needs SNAPLEDGER_GLANCE_PASSWORD as well',
    );
    expect(() => imageStoreFrom({ ...GLANCE, SNAPLEDGER_GLANCE_USERNAME: 'x' })).toThrow(
      'SNAPLEDGER_GLANCE_USERNAME is set but SNAPLEDGER_GLANCE_AUTH_URL is not',
    );
    expect(() => imageStoreFrom({ ...GLANCE, ...SIGN_IN, SNAPLEDGER_GLANCE_TOKEN: 't' })).toThrow(
      /both set/,
    );
    expect(() =>
      imageStoreFrom({ ...GLANCE, ...SIGN_IN, SNAPLEDGER_GLANCE_AUTH_URL: 'ftp://k/v3' }),
    ).toThrow(/SNAPLEDGER_GLANCE_AUTH_URL must be an http/);
  });

  it('never puts the password in an error message', () => {
    const attempts = [
      { ...GLANCE, ...SIGN_IN, SNAPLEDGER_GLANCE_PROJECT: '' },
      { ...GLANCE, ...SIGN_IN, SNAPLEDGER_GLANCE_TOKEN: 't' },
    ];
    for (const env of attempts) {
      expect(() => imageStoreFrom(env)).toThrow();
      try {
        imageStoreFrom(env);
      } catch (error) {
        expect((error as Error).message).not.toContain('secret');
      }
    }
  });
});

describe('renewing a Keystone token', () => {
  const hour = 3_600_000;
  it('keeps a token until the last quarter of its life, and at most until two minutes before', () => {
    // One hour: renewed in its last two minutes.
    expect(tokenNeedsRenewal(0, hour, hour - 120_001)).toBe(false);
    expect(tokenNeedsRenewal(0, hour, hour - 120_000)).toBe(true);
    // One minute: renewed in its last 15 s.
    expect(tokenNeedsRenewal(0, 60_000, 44_999)).toBe(false);
    expect(tokenNeedsRenewal(0, 60_000, 45_000)).toBe(true);
    // Expired.
    expect(tokenNeedsRenewal(0, hour, hour + 1)).toBe(true);
  });
});
