// A TypeDoc plugin (typedoc.json, "plugin"): a class whose parent is an unexported base (BCELoss
// extends FusedLoss, Conv2D extends Convolution2D) is shown as a child of its nearest exported
// ancestor (Loss, Module). TypeDoc would print the hidden base's name, unlinked, as the parent,
// leave the class out of the ancestor's hierarchy ("Loss: MSELoss, CrossEntropyLoss, HingeLoss")
// and mark each inherited member "Inherited from FusedLoss.forward". The bases stay unexported:
// they are how the library shares code, not API. A member a hidden base declares itself is shown
// as the class's own; one it inherits names the exported ancestor's.
import { Converter, ReferenceType, ReflectionKind } from 'typedoc';

/** @param {import('typedoc').Application} app */
export function load(app) {
  /** Each class's ancestors, nearest first, read while the checker is there (it is not at resolution). */
  const ancestors = new Map();
  app.converter.on(Converter.EVENT_CREATE_DECLARATION, (context, reflection) => {
    if (!reflection.kindOf(ReflectionKind.Class)) return;
    const symbol = context.getSymbolFromReflection(reflection);
    if (!symbol) return;
    const { checker } = context;
    const chain = [];
    let type = checker.getDeclaredTypeOfSymbol(symbol);
    for (;;) {
      const base = type.isClassOrInterface() ? checker.getBaseTypes(type)[0] : undefined;
      if (!base?.symbol) break;
      chain.push(base.symbol);
      type = base;
    }
    ancestors.set(reflection, chain);
  });
  app.converter.on(Converter.EVENT_RESOLVE_BEGIN, (context) => {
    const { project } = context;
    for (const [cls, chain] of ancestors) {
      const parent = cls.extendedTypes?.[0];
      if (!(parent instanceof ReferenceType) || parent.reflection) continue;
      // The first ancestor with a page of its own.
      const ancestor = chain.map((s) => context.getReflectionFromSymbol(s)).find((r) => r !== undefined);
      if (!ancestor) {
        delete cls.extendedTypes; // no exported ancestor: no parent to show
        continue;
      }
      cls.extendedTypes = [ReferenceType.createResolvedReference(ancestor.name, ancestor, project)];
      for (const member of cls.children ?? []) {
        const own = ancestor.getChildByName?.(member.name);
        for (const target of [member, ...(member.signatures ?? []), ...(member.getSignature ? [member.getSignature] : [])]) {
          for (const key of ['inheritedFrom', 'overwrites']) {
            const ref = target[key];
            if (!(ref instanceof ReferenceType) || ref.reflection) continue;
            if (own) target[key] = ReferenceType.createResolvedReference(`${ancestor.name}.${member.name}`, own, project);
            else delete target[key];
          }
        }
      }
    }
  });
}
