// Entry of the V8 startup snapshot (dist/tsrunc.blob): the whole CLI is loaded and
// initialised at build time, and each run only deserialises it and calls main — about 30 ms
// less per command than loading dist/tsrunc.cjs (bin/tsrunc uses it when it is current).
import * as v8 from 'node:v8';
import { main } from './main';

if (v8.startupSnapshot.isBuildingSnapshot()) {
  v8.startupSnapshot.setDeserializeMainFunction(() => {
    main(process.argv.slice(1)).then(
      (code) => process.exit(code),
      (err: unknown) => {
        process.stderr.write(`tsrunc: ${String(err)}\n`);
        process.exit(1);
      },
    );
  });
}
