/**
 * The secret option values of a store's backends, gathered while their options
 * are validated and masked in everything the store logs or throws from then on.
 */

import { secretRedactor } from './redaction.js';

/** A growing set of secrets and the redactor that masks them. */
export class Secrets {
  readonly #values: string[] = [];
  #redactor: (text: string) => string = secretRedactor([]);

  /** Adds secret values: {@link Secrets.redact} masks them from now on. */
  add(values: Iterable<string>): void {
    const before = this.#values.length;
    this.#values.push(...values);
    // The matcher tables are built once per change, not per masked text.
    if (this.#values.length !== before) this.#redactor = secretRedactor(this.#values);
  }

  /** `text` with every secret known so far masked; bound, so it can be handed on. */
  readonly redact = (text: string): string => this.#redactor(text);
}
