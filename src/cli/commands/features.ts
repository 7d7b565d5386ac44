import { features } from '../../features';
import { defineCommand, out } from '../context';

export default defineCommand<object>({
  command: 'features',
  describe: 'show the enabled features (runtime-spec features document, JSON)',
  builder: (y) => y,
  handler: () => {
    out(JSON.stringify(features(), null, 4) + '\n');
  },
});
