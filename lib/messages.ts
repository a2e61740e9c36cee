/**
 * Pieces of error and log messages that several parts of the library write the same way.
 * @internal
 */

/** The first line of an error's message (of anything thrown). @internal */
export function firstLine(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).split('\n')[0];
}

/**
 * `address` as messages show it: a user name or password in it (`https://user:pw@host/`,
 * `redis://:pw@host`) replaced by `***`. The address itself, credentials included, is what the
 * connection uses. @internal
 */
export function withoutCredentials(address: string): string {
  return address.replace(/\/\/[^/@]*@/, '//***@');
}
