// smaf-ts/client: the Node client of smafd (types: types/client/client.d.ts).
import { load } from './load.js';

export const { SmafClient } = await load('../src/client/client.ts');
