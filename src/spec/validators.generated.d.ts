// Types of the standalone validators that scripts/build.mjs generates from schema/.
export interface AjvError {
  instancePath: string;
  schemaPath: string;
  keyword: string;
  params: Record<string, unknown>;
  message?: string;
}

export interface CompiledValidator {
  (data: unknown): boolean;
  errors?: AjvError[] | null;
}

export const config: CompiledValidator;
export const process: CompiledValidator;
export const resources: CompiledValidator;
export const state: CompiledValidator;
export const features: CompiledValidator;
