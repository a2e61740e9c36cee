/**
 * Built-in module types declared beside their classes (the activations, in
 * lib/nn/activations.ts), in declaration order. The registry (lib/nn/registry.ts) registers them
 * with its own, so a new activation is its class and one `declareBuiltIn` call, with no line
 * in the registry and no export to add. A leaf module: the class files declare here without
 * importing the registry, which imports them.
 * @internal
 */
import type { Module } from './base';
import type { ModuleSchema } from './schema';
import type { ModuleExample } from './registry';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Constructor = new (...args: any[]) => Module;

/** A built-in type: its class, what its constructor accepts, and a generator of small examples for the tests. @internal */
export interface BuiltInDeclaration {
  readonly module: Constructor;
  readonly schema: ModuleSchema;
  readonly example: (pick: (lo: number, hi: number) => number) => ModuleExample;
}

const declared: BuiltInDeclaration[] = [];

/** Declares a built-in module type (its `config()` type is the class name). @internal */
export function declareBuiltIn(module: Constructor, schema: ModuleSchema, example: BuiltInDeclaration['example']): void {
  declared.push({ module, schema, example });
}

/** The types declared so far, in declaration order. @internal */
export function declaredBuiltIns(): readonly BuiltInDeclaration[] {
  return declared;
}
