/** The radosgw Swift account of tools/services, as the swift interop tests use it. */
import { serviceEnv } from '@store/testkit';

/** The Swift subuser's v1 credentials (undefined when the services are not up). */
export const swiftEnv = serviceEnv('ceph radosgw (Swift)', [
  'STORE_TEST_SWIFT_AUTH_URL',
  'STORE_TEST_SWIFT_USER',
  'STORE_TEST_SWIFT_KEY',
] as const);

/** glance_store's MB. */
export const MB = 1024 * 1000;

/** A fresh v1 token and the account's storage URL. */
export async function v1Session(): Promise<{ token: string; storageUrl: string }> {
  const auth = await fetch(swiftEnv!.STORE_TEST_SWIFT_AUTH_URL, {
    headers: {
      'x-auth-user': swiftEnv!.STORE_TEST_SWIFT_USER,
      'x-auth-key': swiftEnv!.STORE_TEST_SWIFT_KEY,
    },
  });
  await auth.body?.cancel();
  return {
    token: auth.headers.get('x-auth-token')!,
    storageUrl: auth.headers.get('x-storage-url')!,
  };
}
