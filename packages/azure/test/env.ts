/** Azurite access for the tests, and helpers shared by them. */
import { randomBytes } from 'node:crypto';
import { BlobServiceClient, type ContainerClient } from '@azure/storage-blob';
import { serviceEnv } from '@store/testkit';

export const env = serviceEnv('Azurite (Azure Blob emulator)', [
  'STORE_TEST_AZURE_CONNECTION_STRING',
  'STORE_TEST_AZURE_ACCOUNT',
  'STORE_TEST_AZURE_KEY',
  'STORE_TEST_AZURE_BLOB_ENDPOINT',
] as const);

/** A container name no other test run uses. */
export function uniqueContainer(prefix: string): string {
  return `${prefix}-${randomBytes(6).toString('hex')}`;
}

/** A client of the test account, independent of the driver under test. */
export function adminContainer(name: string): ContainerClient {
  if (!env) throw new Error('Azurite is not configured');
  return BlobServiceClient.fromConnectionString(
    env.STORE_TEST_AZURE_CONNECTION_STRING,
  ).getContainerClient(name);
}

/** Names of the committed blobs in `container` (what readers can see). */
export async function committedBlobs(
  container: ContainerClient,
  prefix?: string,
): Promise<string[]> {
  const names: string[] = [];
  try {
    for await (const item of container.listBlobsFlat(prefix ? { prefix } : {}))
      names.push(item.name);
  } catch (err) {
    if ((err as { statusCode?: number }).statusCode === 404) return [];
    throw err;
  }
  return names;
}
