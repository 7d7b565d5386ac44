export const MARKER: string;
export const REGION: number;
export interface FrontConfig {
  node?: string;
  boot?: string;
  daemon?: string;
  socket?: string;
  build?: string;
  flags?: string[];
  replyTimeoutMs?: number;
}
export function patchFrontConfig(image: Buffer, config: FrontConfig): Buffer;
export function readFrontConfig(image: Buffer): FrontConfig;
