/**
 * The composition root of tests: a small platform with every region kind, a recording secure
 * module, and whole systems from the default preset. Tests of any layer may import this folder;
 * nothing else may (the layering rule in .dependency-cruiser.cjs), so core and platform code
 * never depend on plugins or presets, and their tests reach plugins through here only.
 */
export { testPlatformSpec } from './test-platform.ts';
export { createRecordingSecureModule } from './recording-secure.ts';
export { createSmafSystem, registerPlatformAllocators } from '../presets/default.ts';
export { createOpteeSdpModule } from '../secure/optee-sdp.ts';
export { failingAt, SECURE_HOOKS } from '../secure/secure-contract.ts';
export { createFakeAddon, type FakeConnection } from './fake-addon.ts';
