/** The platform substrate: an emulated SoC. No Node imports here. */
export * from './bitmap.ts';
export * from './bus.ts';
export * from './default-platform.ts';
export * from './device.ts';
export * from './events.ts';
export * from './iommu.ts';
export * from './loader.ts';
export * from './memory.ts';
export * from './platform.ts';
export * from './provenance.ts';
export * from './region.ts';
export * from './sg-table.ts';
export * from './firewall.ts';
export * from './sdp-ta.ts';
export * from './tee.ts';
export * from './tee-memory.ts';
export * from './content-key.ts';
