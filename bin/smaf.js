#!/usr/bin/env node
// TypeScript runs through tsx, a runtime dependency (README: "Why tsx at run time").
import { register } from 'tsx/esm/api';

register();
await import('../src/main/smaf.ts');
