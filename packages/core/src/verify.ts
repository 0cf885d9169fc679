/**
 * Integrity on read: the digests a caller expects of an image, and the check of
 * the digests recomputed while it streamed. glance_store leaves this to its
 * caller; the manager offers it as `get(uri, { verify })`.
 */
import { ChecksumMismatch, Invalid } from './errors.js';
import { type ImageDigests, resolveHashAlgorithm } from './hashing.js';

/**
 * What to check on read: the digests recorded when the image was added (Glance's
 * `checksum`, `os_hash_value` and `os_hash_algo`). At least one of `checksum` and
 * `multihash` is needed.
 */
export interface VerifyOptions {
  /** md5 hex digest the bytes must have. */
  readonly checksum?: string;
  /** Hex digest in `hashingAlgo` the bytes must have. */
  readonly multihash?: string;
  /** Algorithm of `multihash` (`sha512` unless told; hashlib or Node spelling). */
  readonly hashingAlgo?: string;
}

/** A validated {@link VerifyOptions}: lower-case digests, resolved algorithm. */
export interface Verification {
  readonly algorithm: string;
  readonly checksum?: string;
  readonly multihash?: string;
}

const HEX = /^[0-9a-f]+$/;

function expectedDigest(name: string, value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !HEX.test(value.toLowerCase())) {
    throw new Invalid(`verify.${name} must be a hex digest`);
  }
  return value.toLowerCase();
}

/**
 * Validates what the caller asked to verify, before any byte is read.
 * @throws Invalid when neither digest is given or one is not hex,
 * UnknownHashingAlgo for an algorithm this Node.js build lacks.
 */
export function resolveVerification(options: VerifyOptions): Verification {
  const checksum = expectedDigest('checksum', options.checksum);
  const multihash = expectedDigest('multihash', options.multihash);
  if (checksum === undefined && multihash === undefined) {
    throw new Invalid('verify needs a checksum or a multihash to compare with');
  }
  return {
    // Without a multihash only md5 is needed: no second hash runs.
    algorithm:
      multihash === undefined ? 'md5' : resolveHashAlgorithm(options.hashingAlgo ?? 'sha512'),
    ...(checksum !== undefined ? { checksum } : {}),
    ...(multihash !== undefined ? { multihash } : {}),
  };
}

/**
 * Compares the digests of the bytes read with the expected ones.
 * @throws ChecksumMismatch naming the digest that differs (never the bytes).
 */
export function checkDigests(actual: ImageDigests, expected: Verification): void {
  if (expected.checksum !== undefined && actual.checksum !== expected.checksum) {
    throw new ChecksumMismatch('Image data does not match its md5 checksum');
  }
  if (expected.multihash !== undefined && actual.multihash !== expected.multihash) {
    throw new ChecksumMismatch(`Image data does not match its ${expected.algorithm} multihash`);
  }
}
