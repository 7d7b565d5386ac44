// CRIU's RPC as runc drives it (issue 18): `criu swrk 3` is started with exactly the fds it needs
// (stdio, its end of a SOCK_SEQPACKET pair on fd 3, the namespace fds it inherits from 4 up) and
// answers criu_req messages (criu's rpc.proto) with criu_resp ones; while it works it sends NOTIFY
// messages (action scripts: setup-namespaces, post-restore, orphan-pts-master...) that the caller
// answers before it goes on. The protocol's schema is the rpc.proto of the criu that runs (the
// Debian package installs it beside the binary's headers): read at run time, with protobufjs.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { TsruncError, isErrno, systemError } from '../errors';
import { native } from '../native/addon';
import { sleepMs } from '../util/sleep';

/** criu_req_type of rpc.proto, by name. */
export type CriuReqType = 'DUMP' | 'RESTORE' | 'PRE_DUMP' | 'NOTIFY' | 'FEATURE_CHECK' | 'VERSION';

/** The fields of criu_opts tsrunc sets (rpc.proto's names). */
export interface CriuOpts {
  images_dir_fd: number;
  pid?: number;
  leave_running?: boolean;
  ext_unix_sk?: boolean;
  tcp_established?: boolean;
  evasive_devices?: boolean;
  shell_job?: boolean;
  file_locks?: boolean;
  log_level?: number;
  log_file?: string;
  ps?: { address: string; port: number };
  notify_scripts?: boolean;
  root?: string;
  parent_img?: string;
  track_mem?: boolean;
  auto_dedup?: boolean;
  work_dir_fd?: number;
  ext_mnt?: { key: string; val: string }[];
  manage_cgroups?: boolean;
  cg_root?: { ctrl?: string; path: string }[];
  rst_sibling?: boolean;
  inherit_fd?: { key: string; fd: number }[];
  manage_cgroups_mode?: CriuCgMode;
  external?: string[];
  empty_ns?: number;
  freeze_cgroup?: string;
  lazy_pages?: boolean;
  status_fd?: number;
  orphan_pts_master?: boolean;
  config_file?: string;
  lsm_profile?: string;
  lsm_mount_context?: string;
}

export type CriuCgMode = 'IGNORE' | 'SOFT' | 'FULL' | 'STRICT';

export interface CriuFeatures {
  mem_track?: boolean;
  lazy_pages?: boolean;
}

export interface CriuReq {
  type: CriuReqType;
  opts?: CriuOpts;
  notify_success?: boolean;
  keep_open?: boolean;
  features?: CriuFeatures;
}

export interface CriuResp {
  type: string;
  success: boolean;
  restore?: { pid: number };
  notify?: { script?: string; pid?: number };
  cr_errno?: number;
  cr_errmsg?: string;
  features?: CriuFeatures;
  version?: { major_number: number; minor_number: number; sublevel?: number };
}

/** Where criu's rpc.proto is looked for: beside the criu binary's prefix, then the usual places. */
export function rpcProtoCandidates(criuBinary: string): string[] {
  const prefix = path.dirname(path.dirname(criuBinary));
  return [
    ...new Set([
      path.join(prefix, 'include/criu/rpc.proto'),
      '/usr/include/criu/rpc.proto',
      '/usr/local/include/criu/rpc.proto',
    ]),
  ];
}

interface Codec {
  encode(req: CriuReq): Buffer;
  decode(data: Buffer): CriuResp;
}

const codecs = new Map<string, Codec>();

/** The codec for criu_req/criu_resp of the rpc.proto that came with `criuBinary`. */
export function criuCodec(criuBinary: string): Codec {
  const file = rpcProtoCandidates(criuBinary).find((f) => fs.existsSync(f));
  if (file === undefined)
    throw new TsruncError(
      'system',
      `criu's RPC schema (rpc.proto) is not installed (looked for ${rpcProtoCandidates(criuBinary).join(', ')}): Debian's criu package installs /usr/include/criu/rpc.proto`,
      { errno: 'ENOENT' },
    );
  const known = codecs.get(file);
  if (known !== undefined) return known;
  // (loaded here only: no other command pays for protobufjs)
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const protobuf = require('protobufjs') as typeof import('protobufjs');
  let root: import('protobufjs').Root;
  try {
    root = protobuf.parse(fs.readFileSync(file, 'utf8'), { keepCase: true }).root;
  } catch (err) {
    throw systemError(`reading criu's RPC schema ${file}`, err);
  }
  const req = root.lookupType('criu_req');
  const resp = root.lookupType('criu_resp');
  const codec: Codec = {
    encode: (message) => {
      const m = req.fromObject(message);
      const problem = req.verify(m);
      if (problem !== null) throw new TsruncError('system', `a criu request tsrunc built is invalid: ${problem}`);
      return Buffer.from(req.encode(m).finish());
    },
    decode: (data) => {
      try {
        return resp.toObject(resp.decode(data), { enums: String, longs: Number }) as CriuResp;
      } catch (err) {
        throw systemError('decoding a message of criu', err);
      }
    },
  };
  codecs.set(file, codec);
  return codec;
}

/** The criu binary: an absolute --criu as given, else found on PATH (as exec.LookPath does for runc). */
export function findCriu(criu: string): string {
  if (criu.includes('/')) {
    const abs = path.resolve(criu);
    if (fs.existsSync(abs)) return abs;
    throw new TsruncError('system', `criu binary ${abs} does not exist (--criu)`, { errno: 'ENOENT' });
  }
  for (const dir of (process.env.PATH ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin').split(':')) {
    if (dir === '') continue;
    const candidate = path.join(dir, criu);
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      if (fs.statSync(candidate).isFile()) return candidate;
    } catch {
      // not here
    }
  }
  throw new TsruncError(
    'system',
    `exec: "${criu}": executable file not found in $PATH (criu is needed for checkpoint and restore)`,
    {
      errno: 'ENOENT',
    },
  );
}

/** What the caller answers a NOTIFY with: fds it was sent are the caller's to close. */
export type NotifyHandler = (script: string, pid: number, fds: number[]) => void;

/** One `criu swrk` process and its socket. */
export class CriuSwrk {
  readonly pid: number;
  private readonly sock: number;
  private readonly codec: Codec;
  private exited: { exitCode: number | null; signal: number | null } | undefined;

  /**
   * Starts `criu swrk 3`: criu's fd 0..2 are `stdio` (-1: /dev/null), 3 its socket, 4.. `extra`
   * (inherit_fd numbers count from there: see extraFdSlot).
   */
  constructor(
    readonly binary: string,
    stdio: [number, number, number],
    extra: number[] = [],
  ) {
    this.codec = criuCodec(binary);
    const n = native();
    const [mine, theirs] = n.socketPair();
    try {
      const env = Object.entries(process.env)
        .filter(([, v]) => v !== undefined)
        .map(([k, v]) => `${k}=${v as string}`);
      this.pid = n.spawnProgram(binary, [binary, 'swrk', '3'], env, [...stdio, theirs, ...extra]);
    } catch (err) {
      n.closeFd(mine);
      throw systemError(`starting ${binary} swrk`, err);
    } finally {
      n.closeFd(theirs);
    }
    this.sock = mine;
  }

  /** The fd number in criu of extra[i]. */
  static extraFdSlot(i: number): number {
    return 4 + i;
  }

  /** Sends `req` and answers its notifications until criu's final response, which is returned. */
  call(req: CriuReq, onNotify: NotifyHandler = () => undefined): CriuResp {
    const n = native();
    this.send(req);
    for (;;) {
      const packet = this.receive();
      const resp = this.codec.decode(packet.data);
      if (resp.type !== 'NOTIFY') {
        for (const fd of packet.fds) n.closeFd(fd);
        return resp;
      }
      let ok = true;
      let failure: unknown;
      try {
        onNotify(resp.notify?.script ?? '', resp.notify?.pid ?? 0, packet.fds);
      } catch (err) {
        ok = false;
        failure = err;
      }
      // (criu stops at a failed notification and rolls back: its answer comes before ours is thrown)
      this.send({ type: 'NOTIFY', notify_success: ok });
      if (!ok) {
        this.finish();
        throw failure;
      }
    }
  }

  private send(req: CriuReq): void {
    try {
      native().sendPacket(this.sock, this.codec.encode(req));
    } catch (err) {
      if (isErrno(err, 'EPIPE') || isErrno(err, 'ECONNRESET')) throw this.gone();
      throw systemError('sending a request to criu', err);
    }
  }

  /** The next message, waiting while criu runs; an error naming how criu ended if it ends first. */
  private receive(): { data: Buffer; fds: number[] } {
    const n = native();
    for (;;) {
      const packet = n.recvPacket(this.sock, 1000);
      if (packet !== null) {
        if (packet.data.length === 0) throw this.gone();
        return packet;
      }
      const status = n.waitPid(this.pid, true);
      if (status !== null) {
        this.exited = { exitCode: status.exitCode, signal: status.signal };
        // (what it sent before it went is still read)
        const last = n.recvPacket(this.sock, 0);
        if (last !== null && last.data.length > 0) return last;
        throw this.gone();
      }
    }
  }

  private gone(): TsruncError {
    const how = this.finish();
    return new TsruncError('system', `criu swrk ended without an answer (${how})`);
  }

  /** Closes the socket and reaps criu (which exits once its socket is closed); how it ended. */
  finish(): string {
    const n = native();
    try {
      n.closeFd(this.sock);
    } catch {
      // closed already
    }
    if (this.exited === undefined) {
      const deadline = Date.now() + 30_000;
      for (;;) {
        let status: ReturnType<typeof n.waitPid>;
        try {
          status = n.waitPid(this.pid, true);
        } catch {
          this.exited = { exitCode: null, signal: null };
          break;
        }
        if (status !== null) {
          this.exited = { exitCode: status.exitCode, signal: status.signal };
          break;
        }
        if (Date.now() > deadline) n.kill(this.pid, 9);
        sleepMs(10);
      }
    }
    const e = this.exited;
    return e.signal !== null ? `killed by signal ${e.signal}` : `exit status ${e.exitCode ?? 'unknown'}`;
  }
}

/** criu's version as runc compares it: major*10000 + minor*100 + sublevel. */
export function versionNumber(v: NonNullable<CriuResp['version']>): number {
  return v.major_number * 10000 + v.minor_number * 100 + (v.sublevel ?? 0);
}
