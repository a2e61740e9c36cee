// A TypeDoc plugin (typedoc.json, "plugin"): every parameter of the documented API needs an
// @param description, so that a new function cannot reach the API pages with bare parameter names.
// TypeDoc's own check ("Parameter" in requiredToBeDocumented) would also require one for each
// kernel of the Backend interface (162 parameters), whose methods are generated from the op table
// (scripts/gen-ops.js, lib/backend/ops.ts) into BackendKernels with a doc that describes the
// arguments in prose; those are left out here, and only those.
import { Application, ReflectionKind } from 'typedoc';

/** The interface whose methods are generated, with their arguments described in prose. */
const GENERATED = 'BackendKernels';

/** @param {import('typedoc').Application} app */
export function load(app) {
  app.on(Application.EVENT_VALIDATE_PROJECT, (project) => {
    for (const param of project.getReflectionsByKind(ReflectionKind.Parameter)) {
      if (param.hasComment()) continue;
      // The parameters of a parameter's own function type are documented with it.
      let owner = param.parent;
      let nested = false;
      while (owner) {
        if (owner.kindOf(ReflectionKind.Parameter)) nested = true;
        owner = owner.parent;
      }
      if (nested) continue;
      // As TypeDoc's own check: only this package's code (not Error's members from @types/node).
      const id = project.getSymbolIdFromReflection(param);
      if (!id || id.packageName !== project.packageName) continue;
      const method = param.parent?.parent;
      const from = method?.inheritedFrom?.name ?? method?.implementationOf?.name ?? '';
      if (from.startsWith(`${GENERATED}.`)) continue;
      app.logger.warn(`${param.getFriendlyFullName()}: parameter without an @param description`);
    }
  });
}
