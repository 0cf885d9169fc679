/** Test access to radosgw's Swift API (tools/services): env, scratch containers, a look behind the driver's back. */
import { randomUUID } from 'node:crypto';
import { serviceEnv } from '@store/testkit';

export const env = serviceEnv('ceph radosgw (Swift)', [
  'STORE_TEST_SWIFT_AUTH_URL',
  'STORE_TEST_SWIFT_USER',
  'STORE_TEST_SWIFT_KEY',
] as const);

/** A fresh container name, so suites running at the same time never see each other's objects. */
export function scratchContainer(prefix: string): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`;
}

/** Backend options for radosgw in single-tenant mode with credentials in the options. */
export function swiftOptions(
  container: string,
  extra: Record<string, string> = {},
): Record<string, string> {
  if (!env) throw new Error('radosgw is not configured');
  return {
    swift_store_auth_address: env.STORE_TEST_SWIFT_AUTH_URL,
    swift_store_user: env.STORE_TEST_SWIFT_USER,
    swift_store_key: env.STORE_TEST_SWIFT_KEY,
    swift_store_auth_version: '1',
    swift_store_container: container,
    swift_store_create_container_on_put: 'true',
    ...extra,
  };
}

/** A v1 token and storage URL, straight from radosgw. */
export async function adminSession(): Promise<{ token: string; storageUrl: string }> {
  const answer = await fetch(env!.STORE_TEST_SWIFT_AUTH_URL, {
    headers: { 'x-auth-user': env!.STORE_TEST_SWIFT_USER, 'x-auth-key': env!.STORE_TEST_SWIFT_KEY },
  });
  if (!answer.ok) throw new Error(`radosgw auth answered ${answer.status}`);
  return {
    token: answer.headers.get('x-auth-token')!,
    storageUrl: answer.headers.get('x-storage-url')!,
  };
}

/** One Swift request with an admin token. */
export async function swiftFetch(path: string, init: RequestInit = {}): Promise<Response> {
  const { token, storageUrl } = await adminSession();
  return fetch(`${storageUrl}${path}`, {
    ...init,
    headers: { ...(init.headers as Record<string, string>), 'x-auth-token': token },
  });
}

/** Every object name in `container` ([] when it does not exist). */
export async function listContainer(container: string): Promise<string[]> {
  const names: string[] = [];
  let marker = '';
  for (;;) {
    const answer = await swiftFetch(
      `/${encodeURIComponent(container)}?format=json${marker ? `&marker=${encodeURIComponent(marker)}` : ''}`,
    );
    if (answer.status === 404) return names;
    if (!answer.ok) throw new Error(`listing ${container} answered ${answer.status}`);
    const page = (await answer.json()) as { name: string }[];
    if (page.length === 0) return names;
    names.push(...page.map((entry) => entry.name));
    marker = page.at(-1)!.name;
  }
}

/** Headers of an object (undefined when missing). */
export async function headObject(container: string, object: string): Promise<Headers | undefined> {
  const answer = await swiftFetch(
    `/${encodeURIComponent(container)}/${encodeURIComponent(object)}`,
    {
      method: 'HEAD',
    },
  );
  if (answer.status === 404) return undefined;
  if (!answer.ok) throw new Error(`HEAD ${container}/${object} answered ${answer.status}`);
  return answer.headers;
}

/** Removes `container` and everything in it. */
export async function dropContainer(container: string): Promise<void> {
  for (const name of await listContainer(container)) {
    await swiftFetch(`/${encodeURIComponent(container)}/${encodeURIComponent(name)}`, {
      method: 'DELETE',
    });
  }
  await swiftFetch(`/${encodeURIComponent(container)}`, { method: 'DELETE' });
}
