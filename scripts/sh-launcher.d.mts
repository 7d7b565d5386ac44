export const MAX_PRESERVED_FDS: number;
export function shLauncher(node: string, flags: string[], boot: string): string;
