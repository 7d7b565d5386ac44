// An OCI image archive (image layout in a tar) built from the busybox test rootfs, for the
// clients' own import commands (`ctr image import`, `docker load`/`import`, podman).
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

function blob(dir: string, data: Buffer): { digest: string; size: number } {
  const hex = createHash('sha256').update(data).digest('hex');
  fs.mkdirSync(path.join(dir, 'blobs', 'sha256'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'blobs', 'sha256', hex), data);
  return { digest: `sha256:${hex}`, size: data.length };
}

/** Writes `<workDir>/image.tar` (an OCI archive of `rootfs` named `name`, whose config has `cmd` as Cmd) and returns its path. */
export function buildOciArchive(rootfs: string, workDir: string, name: string, cmd: string[] = ['sh']): string {
  const layout = path.join(workDir, 'layout');
  fs.mkdirSync(layout, { recursive: true });
  const layerTar = path.join(workDir, 'layer.tar');
  execFileSync('tar', ['-C', rootfs, '--numeric-owner', '-cf', layerTar, '.']);
  const layer = blob(layout, fs.readFileSync(layerTar));
  const config = blob(
    layout,
    Buffer.from(
      JSON.stringify({
        architecture: 'amd64',
        os: 'linux',
        config: { Cmd: cmd, Env: ['PATH=/bin'] },
        rootfs: { type: 'layers', diff_ids: [layer.digest] },
      }),
    ),
  );
  const manifest = blob(
    layout,
    Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
        layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', ...layer }],
      }),
    ),
  );
  fs.writeFileSync(path.join(layout, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  fs.writeFileSync(
    path.join(layout, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [
        {
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          ...manifest,
          annotations: { 'io.containerd.image.name': name, 'org.opencontainers.image.ref.name': name.split(':').pop() },
        },
      ],
    }),
  );
  const archive = path.join(workDir, 'image.tar');
  execFileSync('tar', ['-C', layout, '-cf', archive, '.']);
  return archive;
}
