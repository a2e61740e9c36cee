/**
 * Pieces of error and log messages that several parts of the library write the same way.
 * @internal
 */

/**
 * The first line of an error's message: of anything thrown, or of a message itself (a string).
 * Something without a message (`undefined`, a thrown non-error) is shown as `String(e)`. @internal
 */
export function firstLine(e: unknown): string {
  const message =
    e instanceof Error || (typeof e === 'object' && e !== null && typeof (e as Error).message === 'string')
      ? (e as Error).message
      : e === undefined || e === null
        ? 'unknown error'
        : String(e);
  return message.split('\n')[0];
}

/** `1 epoch`, `2 epochs`, `8,770 parameters`. @internal */
export function plural(n: number, word: string): string {
  return `${n.toLocaleString('en-US')} ${word}${n === 1 ? '' : 's'}`;
}

/** An accuracy as the commands and sweeps print it: `97.12 %`, or `n/a` where there is none. @internal */
export function percent(v: number | undefined): string {
  return v === undefined ? 'n/a' : `${(100 * v).toFixed(2)} %`;
}

/**
 * `address` as messages show it: a user name or password in it (`https://user:pw@host/`,
 * `redis://:pw@host`) replaced by `***`. The address itself, credentials included, is what the
 * connection uses. @internal
 */
export function withoutCredentials(address: string): string {
  return address.replace(/\/\/[^/@]*@/, '//***@');
}
