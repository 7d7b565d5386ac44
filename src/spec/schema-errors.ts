// Turns ajv's error objects into Problems: a JSON pointer to the field at fault and a
// message a person can act on.
import type { Problem } from '../errors';
import type { AjvError, CompiledValidator } from './validators.generated';

export function schemaProblems(validator: CompiledValidator, doc: unknown): Problem[] {
  if (validator(doc)) return [];
  const errors = validator.errors ?? [];
  // anyOf/if wrappers only repeat what their branches said.
  const useful = errors.filter((e) => e.keyword !== 'anyOf' && e.keyword !== 'if' && e.keyword !== 'oneOf');
  const problems = (useful.length > 0 ? useful : errors).map(toProblem);
  return dedupe(problems);
}

function toProblem(e: AjvError): Problem {
  const p = e.params;
  switch (e.keyword) {
    case 'required':
      return { pointer: `${e.instancePath}/${escapePointer(String(p['missingProperty']))}`, message: 'is required' };
    case 'type':
      return { pointer: e.instancePath, message: `must be ${article(String(p['type']))}` };
    case 'enum':
      return {
        pointer: e.instancePath,
        message: `must be one of: ${(p['allowedValues'] as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`,
      };
    case 'const':
      return { pointer: e.instancePath, message: `must be ${JSON.stringify(p['allowedValue'])}` };
    case 'minItems':
      return {
        pointer: e.instancePath,
        message: `must have at least ${String(p['limit'])} item${p['limit'] === 1 ? '' : 's'}`,
      };
    case 'maxItems':
      return { pointer: e.instancePath, message: `must have at most ${String(p['limit'])} items` };
    case 'minLength':
      return {
        pointer: e.instancePath,
        message: p['limit'] === 1 ? 'must not be empty' : `must be at least ${String(p['limit'])} characters long`,
      };
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum': {
      // (the bound of int64/uint64 in the schema: what a double holds exactly)
      const why =
        Math.abs(Number(p['limit'])) === Number.MAX_SAFE_INTEGER ? ' (larger integers are not held exactly)' : '';
      return { pointer: e.instancePath, message: `must be ${String(p['comparison'])} ${String(p['limit'])}${why}` };
    }
    case 'pattern':
      return { pointer: e.instancePath, message: `must match the pattern ${String(p['pattern'])}` };
    case 'propertyNames':
      return { pointer: e.instancePath, message: `has an invalid property name ${JSON.stringify(p['propertyName'])}` };
    case 'uniqueItems':
      return {
        pointer: e.instancePath,
        message: `must not repeat items (items ${String(p['j'])} and ${String(p['i'])} are equal)`,
      };
    case 'dependencies':
    case 'dependentRequired':
      return {
        pointer: e.instancePath,
        message: `must have property '${String(p['missingProperty'])}' when '${String(p['property'])}' is set`,
      };
    default:
      return { pointer: e.instancePath, message: e.message ?? `fails ${e.keyword}` };
  }
}

function article(type: string): string {
  const t = type.replace(/,/g, ' or ');
  return /^[aeiou]/.test(t) ? `an ${t}` : `a ${t}`;
}

export function escapePointer(token: string): string {
  return token.replace(/~/g, '~0').replace(/\//g, '~1');
}

function dedupe(problems: Problem[]): Problem[] {
  const seen = new Set<string>();
  return problems.filter((p) => {
    const key = `${p.pointer}\0${p.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
