/**
 * Traces and platforms from disk, for `smaf replay` and `smaf what-if`: the trace read and checked
 * (TraceFileError, EINVAL, with the line and field at fault), and the platform to replay it on (a
 * file given, else the one the recording was made on, else the embedded default).
 */
import { readFileSync } from 'node:fs';
import { SmafError } from '../common/errors.ts';
import { defaultPlatformSpec, validatePlatform, type PlatformSpec } from '../platform/index.ts';
import { loadPlatformFile } from '../platform-file/load.ts';
import type { CmaRequest } from '../platform/devicetree/index.ts';
import { parseTraceFile, type Recording } from '../uapi/index.ts';
import { prepareRecording, type PreparedRecording } from './engine.ts';

export interface LoadedTrace {
  readonly text: string;
  readonly recording: PreparedRecording;
}

/** Read a trace file: ENOENT when it is not there, EINVAL (with the line and field) when it is not well formed. */
function readTrace(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new SmafError('ENOENT', `trace ${path} does not exist (write one with "smaf trace export -o ${path}")`);
    if (code === 'EISDIR') throw new SmafError('EINVAL', `trace ${path} is a directory`);
    throw new SmafError('EIO', `cannot read trace ${path}: ${(e as Error).message}`);
  }
}

/**
 * Load and check a trace. A recording smafd could not keep whole is refused (EINVAL) unless
 * `partial`: its prefix replays, but the run did more than it holds.
 */
export function loadTrace(path: string, partial = false): LoadedTrace {
  const text = readTrace(path);
  const rec: Recording = parseTraceFile(text, path);
  const h = rec.header;
  if (h && !h.complete && !partial) {
    const why = h.limit === 0
      ? 'smafd ran without a recording (--max-recorded-ops 0)'
      : `smafd kept its first ${h.limit} operations (--max-recorded-ops) and left out ${h.dropped} after them`;
    throw new SmafError('EINVAL', `${path}: the recording is incomplete: ${why}. A replay of what it holds may differ from the run; --partial replays it anyway (and says so), or record again with a larger --max-recorded-ops`);
  }
  return { text, recording: prepareRecording(rec) };
}

/** The platform a recording replays on: `file` when given, else the one it was recorded on, else the embedded default. */
export function replayPlatform(recording: PreparedRecording, file?: string, cma?: CmaRequest): { spec: PlatformSpec; from: string } {
  if (file !== undefined) return { spec: loadPlatformFile(file, cma ? { cma } : {}).spec, from: file };
  if (recording.header) return { spec: validatePlatform(recording.header.platform, `${recording.source}: smaf_recording.platform`), from: 'the platform it was recorded on' };
  return { spec: defaultPlatformSpec(), from: 'the embedded default platform' };
}
