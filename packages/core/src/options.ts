/**
 * Option schemas: each driver declares its options once (name, type, default,
 * limits, help), as oslo.config does for glance_store. Config is checked against
 * them by option-values.ts, masked by option-redaction.ts and turned into sample
 * configs by option-sample.ts.
 */
import { RETRY_OPTIONS } from './retry.js';

/** Value types an option can take, after the names oslo.config uses. */
export type OptionType = 'string' | 'int' | 'float' | 'bool' | 'multistring' | 'list' | 'dict';

/** One option a driver accepts. */
export interface OptionSpec {
  /** The option name, exactly as glance_store spells it (e.g. `filesystem_store_datadir`). */
  readonly name: string;
  readonly type: OptionType;
  /** Default used when the option is absent. */
  readonly default?: unknown;
  /** Default for a reserved store (e.g. the file store's `/var/lib/glance/<id>`). */
  readonly reservedDefault?: (backendId: string) => unknown;
  /** Lower bound for int/float options. */
  readonly min?: number;
  /** Upper bound for int/float options. */
  readonly max?: number;
  /** Allowed values. */
  readonly choices?: readonly (string | number)[];
  /** A secret is never logged, printed or put in an error message. */
  readonly secret?: boolean;
  /** The backend cannot start without it. */
  readonly required?: boolean;
  /** One or more sentences for operators; becomes the comment in sample configs. */
  readonly help: string;
}

/** Validated option values of one backend, keyed by option name. */
export type OptionValues = Readonly<Record<string, unknown>>;

/** Options every backend accepts, whatever its driver. */
export const COMMON_OPTIONS: readonly OptionSpec[] = [
  {
    name: 'store_description',
    type: 'string',
    help: 'A human-readable description of this backend, shown to end users by the consuming service.',
  },
  ...RETRY_OPTIONS,
];
