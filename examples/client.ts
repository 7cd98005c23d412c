// The Node client of smafd, imported by package name as an application would. With smafd running
// (`npm start`), run: SMAF_SOCKET=/path/printed/by/smafd npx tsx examples/client.ts
import { SmafClient } from 'smaf-ts/client';

const socket = process.env.SMAF_SOCKET;
if (!socket) throw new Error('set SMAF_SOCKET to the socket smafd printed ("listening on ...")');

const c = await SmafClient.connect(socket);
await c.hello(); // who this client is: shown by `smaf info`, `smaf events` and the dashboard
const { fd, layout } = await c.createFrame('1920x1080:NV12', { align: 64 }); // one buffer, both planes
const display = await c.attach(fd, 'display'); // no IOMMU: it needs contiguous memory
const segments = await c.map(fd, display, 1); // to the device; the memory is chosen now
const st = await c.stat(fd);
console.log(`a ${layout.width}x${layout.height} ${layout.format} frame: ${layout.size} bytes in ${layout.planes.length} planes`);
console.log(`allocated by ${st.allocator}: ${segments.length} segment at 0x${segments[0]!.dma.toString(16)}`);
await c.close(); // like a process exit: the buffer goes with the last fd
