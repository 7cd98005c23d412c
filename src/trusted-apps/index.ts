/**
 * Trusted applications: plugins of the TEE emulator (platform/tee.ts). Each file exports a factory
 * for one TA; a preset registers them by UUID (the optee-sdp TA is the platform's own: its firewall
 * enforces that TA's table).
 */
export * from './optee-sdp-basic.ts';
export * from './smaf-sdp-test.ts';
