import { describe, expect, it } from 'vitest';
import { hashPassword, parsePasswordHash, verifyPassword } from '../../src/api/auth/password-hash';

describe('password hashing (scrypt)', () => {
  it('round-trips: the right password verifies, a wrong one does not', async () => {
    const stored = await hashPassword('correct horse');
    expect(await verifyPassword('correct horse', stored)).toBe(true);
    expect(await verifyPassword('correct hors', stored)).toBe(false);
    expect(await verifyPassword('', stored)).toBe(false);
  });

  it('stores a self-describing string with the cost, a random salt and no password', async () => {
    const a = await hashPassword('same');
    const b = await hashPassword('same');
    expect(a).toMatch(/^scrypt\$ln=15,r=8,p=1\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/);
    expect(a).not.toBe(b);
    expect(a).not.toContain('same');
    const parsed = parsePasswordHash(a);
    expect(parsed?.salt.length).toBe(16);
    expect(parsed?.key.length).toBe(32);
  });

  it('treats the same text in another Unicode normal form as the same password', async () => {
    const stored = await hashPassword('caf\u00e9');
    expect(await verifyPassword('cafe\u0301', stored)).toBe(true);
  });

  it('refuses malformed, tampered or too costly stored hashes without throwing', async () => {
    const stored = await hashPassword('pw');
    // One character of the stored key changed.
    const at = stored.lastIndexOf('$') + 1;
    const tampered = stored.slice(0, at) + (stored[at] === 'A' ? 'B' : 'A') + stored.slice(at + 1);
    expect(await verifyPassword('pw', tampered)).toBe(false);
    expect(await verifyPassword('pw', 'pw')).toBe(false);
    expect(
      await verifyPassword('pw', 'scrypt$ln=30,r=8,p=1$AAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'),
    ).toBe(false);
    expect(parsePasswordHash('bcrypt$2b$10$abc')).toBeNull();
  });
});
