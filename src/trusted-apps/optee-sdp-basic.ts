/**
 * OP-TEE's SDP basic test TA (optee_test's sdp_basic, what `xtest sdp-basic` drives): INJECT 0,
 * TRANSFORM 1, DUMP 2 (sdp-test-commands.ts says what each does).
 */
import type { EventLog, TrustedApp } from '../platform/index.ts';
import { createSdpTestTa } from './sdp-test-commands.ts';

export const OPTEE_SDP_BASIC_UUID = '12345678-5b69-11e4-9dbb-101f74f00099';
export const OpteeSdpBasicCommand = { INJECT: 0, TRANSFORM: 1, DUMP: 2 } as const;

export function createOpteeSdpBasicTa(events: EventLog): TrustedApp {
  return createSdpTestTa({
    uuid: OPTEE_SDP_BASIC_UUID,
    name: 'sdp-basic',
    description: 'OP-TEE\'s SDP basic test TA: INJECT 0, TRANSFORM 1, DUMP 2',
    commands: { inject: OpteeSdpBasicCommand.INJECT, transform: OpteeSdpBasicCommand.TRANSFORM, dump: OpteeSdpBasicCommand.DUMP },
    events,
  });
}
