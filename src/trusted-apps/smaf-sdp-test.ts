/**
 * libsmaf's SDP test TA (what libsmaf's test_smaf drives after allocating from smaf-optee): INJECT 1,
 * TRANSFORM 2, DUMP 3 (sdp-test-commands.ts says what each does).
 */
import type { EventLog, TrustedApp } from '../platform/index.ts';
import { createSdpTestTa } from './sdp-test-commands.ts';

export const SMAF_SDP_TEST_UUID = '12345678-5b69-11e4-9dbb-101f74f00001';
export const SmafSdpTestCommand = { INJECT: 1, TRANSFORM: 2, DUMP: 3 } as const;

export function createSmafSdpTestTa(events: EventLog): TrustedApp {
  return createSdpTestTa({
    uuid: SMAF_SDP_TEST_UUID,
    name: 'smaf-sdp-test',
    description: 'libsmaf\'s SDP test TA: INJECT 1, TRANSFORM 2, DUMP 3',
    commands: { inject: SmafSdpTestCommand.INJECT, transform: SmafSdpTestCommand.TRANSFORM, dump: SmafSdpTestCommand.DUMP },
    events,
  });
}
