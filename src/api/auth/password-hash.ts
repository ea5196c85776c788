import { randomBytes, scrypt, type ScryptOptions, timingSafeEqual } from 'node:crypto';

/** scrypt cost: N = 2^15, r = 8, p = 1 (about 32 MiB and ~100 ms per hash). */
const LOG_N = 15;
const BLOCK_SIZE = 8;
const PARALLELISM = 1;
const SALT_BYTES = 16;
const KEY_BYTES = 32;
/** Stored hashes with a higher cost than this are refused, so a tampered row cannot stall us. */
const MAX_LOG_N = 20;

function derive(password: string, salt: Buffer, options: ScryptOptions, length: number) {
  return new Promise<Buffer>((resolve, reject) =>
    scrypt(password.normalize('NFC'), salt, length, options, (error, key) =>
      error ? reject(error) : resolve(key),
    ),
  );
}

const optionsFor = (logN: number, r: number, p: number): ScryptOptions => ({
  N: 2 ** logN,
  r,
  p,
  // scrypt needs 128 * N * r bytes; Node's default cap (32 MiB) is exactly that for N=2^15.
  maxmem: 256 * 2 ** logN * r,
});

/**
 * Hashes a password with scrypt and a random salt into a self-describing string:
 * `scrypt$ln=15,r=8,p=1$<salt base64>$<key base64>`. The plain password is never stored.
 */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  const key = await derive(password, salt, optionsFor(LOG_N, BLOCK_SIZE, PARALLELISM), KEY_BYTES);
  return `scrypt$ln=${LOG_N},r=${BLOCK_SIZE},p=${PARALLELISM}$${salt.toString('base64')}$${key.toString('base64')}`;
}

interface ParsedHash {
  readonly logN: number;
  readonly r: number;
  readonly p: number;
  readonly salt: Buffer;
  readonly key: Buffer;
}

/** The parts of a stored hash, or null when it is not one this module wrote. */
export function parsePasswordHash(stored: string): ParsedHash | null {
  const match =
    /^scrypt\$ln=(\d{1,2}),r=(\d{1,2}),p=(\d{1,2})\$([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+)$/.exec(
      stored,
    );
  if (!match) return null;
  const [logN, r, p] = [Number(match[1]), Number(match[2]), Number(match[3])];
  if (logN < 1 || logN > MAX_LOG_N || r < 1 || p < 1) return null;
  const salt = Buffer.from(match[4]!, 'base64');
  const key = Buffer.from(match[5]!, 'base64');
  if (salt.length === 0 || key.length < 16) return null;
  return { logN, r, p, salt, key };
}

/** Whether `password` matches the stored hash; compared in constant time. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parsed = parsePasswordHash(stored);
  if (!parsed) return false;
  const key = await derive(
    password,
    parsed.salt,
    optionsFor(parsed.logN, parsed.r, parsed.p),
    parsed.key.length,
  );
  return timingSafeEqual(key, parsed.key);
}

/**
 * A hash of no one's password, checked against when the user does not exist, so that an
 * unknown name costs as long as a wrong password and names cannot be probed by timing.
 */
let decoy: Promise<string> | null = null;
export function decoyPasswordHash(): Promise<string> {
  decoy ??= hashPassword(randomBytes(16).toString('hex'));
  return decoy;
}
