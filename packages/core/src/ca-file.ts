/**
 * The CA bundle a driver option names (https_ca_certificates_file,
 * s3_store_cacert, azure_store_ca_certificates_file, swift_store_cacert),
 * read once when the backend is created.
 */
import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { BadStoreConfiguration } from './errors.js';

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[^-]*-----END CERTIFICATE-----/g;

/**
 * Reads the CA bundle at `path` (PEM), for a TLS `ca` option; undefined when
 * `path` is unset or empty. Every certificate in it is parsed here, so a file
 * holding none, or a damaged one, fails at start-up rather than as a
 * verification failure of every request (TLS contexts take such files silently).
 * @param backendId - the backend, for the message.
 * @param option - the option that names the file, for the message.
 * @throws BadStoreConfiguration naming the backend, the option, the path and
 * why (an errno code, or OpenSSL's reason); never the file's contents.
 */
export async function loadCaFile(
  backendId: string,
  option: string,
  path: string | undefined,
): Promise<Buffer | undefined> {
  if (!path) return undefined;
  try {
    const ca = await readFile(path);
    const blocks = ca.toString('latin1').match(PEM_CERTIFICATE) ?? [];
    if (blocks.length === 0) throw new Error('no PEM certificate in it');
    for (const block of blocks) new X509Certificate(block);
    return ca;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // A read error's message repeats the path; OpenSSL's names the PEM problem only.
    const why = code?.startsWith('E') ? code : (err as Error).message;
    throw new BadStoreConfiguration(
      `Backend '${backendId}': option '${option}' ${path} cannot be used (${why})`,
      { cause: err },
    );
  }
}
