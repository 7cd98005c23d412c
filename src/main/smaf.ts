/** `smaf`'s entry point: the command-line tool (src/cli/), with Unix manners for a closed stdout. */
import { main } from '../cli/main.ts';
import { onClosedPipe } from '../common/stdio.ts';

onClosedPipe();
process.exitCode = await main(process.argv);
