// A small typed CRI client (Kubernetes runtime.v1) over gRPC, for driving containerd's CRI
// plugin the way a kubelet does (Debian has no crictl). Only what test/e2e/cri.test.ts uses,
// from the proto subset in test/e2e/cri/runtime-v1.proto.
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import * as path from 'node:path';
import { REPO_ROOT, TSRUNC } from './tsrunc';

export const CRI_PROTO = path.join(REPO_ROOT, 'test', 'e2e', 'cri', 'runtime-v1.proto');

/**
 * The CRI plugin's config for a private containerd in `dir`: tsrunc as the runtime named
 * `handler` (the config.toml snippet of docs/integration.md), runc kept as the default for pods
 * without a RuntimeClass, the sandbox image `pause`, and what keeps the daemon private.
 */
export function criPluginConfig(
  dir: string,
  opts: { pause: string; handler: string; systemdCgroup?: boolean },
): string {
  const cri = 'plugins."io.containerd.grpc.v1.cri"';
  return `
[${cri}]
  sandbox_image = "${opts.pause}"
  # This VM lacks CAP_SYS_RESOURCE: the sandbox's oom_score_adj -998 would fail (with runc too).
  restrict_oom_score_adj = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
[${cri}.cni]
  bin_dir = "${dir}/cni/bin"
  conf_dir = "${dir}/cni/net.d"
[${cri}.containerd]
  default_runtime_name = "runc"
# Naming any runtime replaces the built-in table, so runc (the default for pods without a RuntimeClass) is named again.
[${cri}.containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"
[${cri}.containerd.runtimes.${opts.handler}]
  runtime_type = "io.containerd.runc.v2"
[${cri}.containerd.runtimes.${opts.handler}.options]
  BinaryName = "${TSRUNC}"
  Root = "${dir}/tsrunc-root"${opts.systemdCgroup === true ? '\n  SystemdCgroup = true' : ''}
`;
}

export type NamespaceMode = 'POD' | 'CONTAINER' | 'NODE' | 'TARGET';
export type ContainerState = 'CONTAINER_CREATED' | 'CONTAINER_RUNNING' | 'CONTAINER_EXITED' | 'CONTAINER_UNKNOWN';
export type PodSandboxState = 'SANDBOX_READY' | 'SANDBOX_NOTREADY';

export interface NamespaceOption {
  network?: NamespaceMode;
  pid?: NamespaceMode;
  ipc?: NamespaceMode;
  target_id?: string;
}

export interface PodSandboxConfig {
  metadata: { name: string; uid: string; namespace: string; attempt?: number };
  hostname?: string;
  log_directory?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  linux?: { cgroup_parent?: string; security_context?: { namespace_options?: NamespaceOption } };
}

/** int64 fields are plain numbers here (every value the tests use is far below 2^53). */
export interface LinuxContainerResources {
  cpu_period?: number;
  cpu_quota?: number;
  cpu_shares?: number;
  memory_limit_in_bytes?: number;
  oom_score_adj?: number;
  cpuset_cpus?: string;
  cpuset_mems?: string;
  memory_swap_limit_in_bytes?: number;
}

export interface ContainerConfig {
  metadata: { name: string; attempt?: number };
  image: { image: string };
  command?: string[];
  args?: string[];
  working_dir?: string;
  envs?: { key: string; value: string }[];
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  /** Relative to the sandbox's log_directory. */
  log_path?: string;
  linux?: { resources?: LinuxContainerResources; security_context?: { namespace_options?: NamespaceOption } };
}

export interface ContainerStatus {
  id: string;
  metadata: { name: string; attempt: number } | null;
  state: ContainerState;
  created_at: number;
  started_at: number;
  finished_at: number;
  exit_code: number;
  image: { image: string } | null;
  image_ref: string;
  reason: string;
  message: string;
  log_path: string;
}

export interface PodSandboxStatus {
  id: string;
  metadata: { name: string; uid: string; namespace: string; attempt: number } | null;
  state: PodSandboxState;
  created_at: number;
  runtime_handler: string;
}

export interface ExecSyncResult {
  stdout: string;
  stderr: string;
  exit_code: number;
}

export interface CriClient {
  version(): Promise<{ version: string; runtime_name: string; runtime_version: string; runtime_api_version: string }>;
  runPodSandbox(config: PodSandboxConfig, runtimeHandler: string): Promise<string>;
  stopPodSandbox(id: string): Promise<void>;
  removePodSandbox(id: string): Promise<void>;
  /** With verbose, `info.info` is containerd's JSON about the sandbox (pid, runtimeHandler, runtimeOptions, ...). */
  podSandboxStatus(id: string, verbose?: boolean): Promise<{ status: PodSandboxStatus; info: Record<string, string> }>;
  listPodSandbox(): Promise<{ id: string; state: PodSandboxState; runtime_handler: string }[]>;
  createContainer(podSandboxId: string, config: ContainerConfig, sandboxConfig: PodSandboxConfig): Promise<string>;
  startContainer(id: string): Promise<void>;
  /** `timeoutSeconds` of grace after the stop signal, then SIGKILL. */
  stopContainer(id: string, timeoutSeconds: number): Promise<void>;
  removeContainer(id: string): Promise<void>;
  containerStatus(id: string, verbose?: boolean): Promise<{ status: ContainerStatus; info: Record<string, string> }>;
  listContainers(podSandboxId?: string): Promise<{ id: string; pod_sandbox_id: string; state: ContainerState }[]>;
  updateContainerResources(id: string, linux: LinuxContainerResources): Promise<void>;
  execSync(id: string, cmd: string[], timeoutSeconds?: number): Promise<ExecSyncResult>;
  imageStatus(image: string): Promise<{ id: string; repo_tags: string[]; size: number } | null>;
  close(): void;
}

/** A gRPC error from the server, with its status code and message (what a kubelet would log). */
export class CriError extends Error {
  constructor(
    readonly method: string,
    readonly code: grpc.status,
    readonly details: string,
  ) {
    super(`${method}: ${grpc.status[code]}: ${details}`);
  }
}

const LOADER_OPTIONS: protoLoader.Options = {
  keepCase: true,
  longs: Number,
  enums: String,
  bytes: Buffer,
  defaults: true,
  oneofs: true,
};

let definition: protoLoader.PackageDefinition | undefined;

function method(
  service: 'RuntimeService' | 'ImageService',
  name: string,
): protoLoader.MethodDefinition<object, object> {
  definition ??= protoLoader.loadSync(CRI_PROTO, LOADER_OPTIONS);
  const svc = definition[`runtime.v1.${service}`];
  const m = svc !== undefined && !('format' in svc) ? svc[name] : undefined;
  if (m === undefined) throw new Error(`runtime.v1.${service}/${name} is not in ${CRI_PROTO}`);
  return m;
}

/** A client of the CRI server at the unix socket `socket`; every call fails after `deadlineMs`. */
export function criClient(socket: string, deadlineMs = 60_000): CriClient {
  const client = new grpc.Client(`unix://${socket}`, grpc.credentials.createInsecure());
  function call<Res>(service: 'RuntimeService' | 'ImageService', name: string, request: object): Promise<Res> {
    const m = method(service, name);
    return new Promise((resolve, reject) => {
      client.makeUnaryRequest(
        m.path,
        m.requestSerialize,
        m.responseDeserialize,
        request,
        { deadline: Date.now() + deadlineMs },
        (err, res) => {
          if (err !== null) reject(new CriError(name, err.code, err.details));
          else resolve(res as Res);
        },
      );
    });
  }
  const rt = <Res>(name: string, request: object): Promise<Res> => call<Res>('RuntimeService', name, request);
  return {
    version: () => rt('Version', { version: 'v1' }),
    runPodSandbox: async (config, runtime_handler) =>
      (await rt<{ pod_sandbox_id: string }>('RunPodSandbox', { config, runtime_handler })).pod_sandbox_id,
    stopPodSandbox: async (pod_sandbox_id) => void (await rt('StopPodSandbox', { pod_sandbox_id })),
    removePodSandbox: async (pod_sandbox_id) => void (await rt('RemovePodSandbox', { pod_sandbox_id })),
    podSandboxStatus: (pod_sandbox_id, verbose = false) => rt('PodSandboxStatus', { pod_sandbox_id, verbose }),
    listPodSandbox: async () =>
      (await rt<{ items: { id: string; state: PodSandboxState; runtime_handler: string }[] }>('ListPodSandbox', {}))
        .items,
    createContainer: async (pod_sandbox_id, config, sandbox_config) =>
      (await rt<{ container_id: string }>('CreateContainer', { pod_sandbox_id, config, sandbox_config })).container_id,
    startContainer: async (container_id) => void (await rt('StartContainer', { container_id })),
    stopContainer: async (container_id, timeout) => void (await rt('StopContainer', { container_id, timeout })),
    removeContainer: async (container_id) => void (await rt('RemoveContainer', { container_id })),
    containerStatus: (container_id, verbose = false) => rt('ContainerStatus', { container_id, verbose }),
    listContainers: async (pod_sandbox_id) =>
      (
        await rt<{ containers: { id: string; pod_sandbox_id: string; state: ContainerState }[] }>(
          'ListContainers',
          pod_sandbox_id === undefined ? {} : { filter: { pod_sandbox_id } },
        )
      ).containers,
    updateContainerResources: async (container_id, linux) =>
      void (await rt('UpdateContainerResources', { container_id, linux })),
    execSync: async (container_id, cmd, timeout = 0) => {
      const r = await rt<{ stdout: Buffer; stderr: Buffer; exit_code: number }>('ExecSync', {
        container_id,
        cmd,
        timeout,
      });
      return { stdout: r.stdout.toString('utf8'), stderr: r.stderr.toString('utf8'), exit_code: r.exit_code };
    },
    imageStatus: async (image) =>
      (
        await call<{ image: { id: string; repo_tags: string[]; size: number } | null }>('ImageService', 'ImageStatus', {
          image: { image },
        })
      ).image,
    close: () => client.close(),
  };
}
