/**
 * Masking for what the CLI prints about failures: the manager masks its own
 * errors, but a config error can come before it exists, so the CLI also masks
 * every value of the configuration that is, or looks like, a credential.
 */
import { type DriverRegistry, looksSecret, type StoreConfig, secretRedactor } from '@store/core';

/**
 * A redactor for `config`: masks URI userinfo and the values of options declared
 * secret by their driver (when it loads) or whose name looks like a credential.
 */
export async function configRedactor(
  config: StoreConfig,
  registry: DriverRegistry | undefined,
): Promise<(text: string) => string> {
  const secrets: string[] = [];
  for (const [id, options] of Object.entries(config.backends ?? {})) {
    const type = config.enabledBackends?.[id];
    const declared = new Set<string>();
    if (type && registry) {
      const definition = await registry.load(type).catch(() => undefined);
      for (const spec of definition?.options ?? []) if (spec.secret) declared.add(spec.name);
    }
    for (const [name, value] of Object.entries(options ?? {})) {
      if (!declared.has(name) && !looksSecret(name)) continue;
      for (const item of Array.isArray(value) ? value : [value]) {
        if (typeof item === 'string' && item !== '') secrets.push(item);
      }
    }
  }
  return secretRedactor(secrets);
}
