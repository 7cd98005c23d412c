/**
 * The layering rule of docs/architecture.md, enforced by `npm run lint` (depcruise):
 * a folder of src/ imports only its own folder and the layers below its own; never a layer above,
 * never a sibling folder of its own layer; no import cycles; only tests import src/testing/.
 */
// top to bottom; folders on one line are siblings (none imports another)
const LAYERS = [
  ['main'], // one composition file per binary
  ['cli', 'web'], // the smaf tool, the dashboard
  ['daemon', 'client', 'demo', 'replay'], // smafd's library, the Node client, the in-process demo, replay and what-if
  ['presets', 'platform-file', 'native'], // composition roots (which plugins), platform files from disk, the C parts built on this host
  ['uapi'], // the wire: ioctl table, codecs, socket paths
  ['allocators', 'secure', 'trusted-apps'], // plugins
  ['core'], // registry, buffer lifecycle, deferred allocation; declares the plugin contracts
  ['platform'], // the emulated SoC
  ['common'], // errors, units, schemas: used everywhere
];

const folder = (names) => `^src/(${names.join('|')})/`;
const layerRules = LAYERS.flatMap((layer, i) => layer.map((name) => {
  const above = LAYERS.slice(0, i).flat();
  const siblings = layer.filter((n) => n !== name);
  return {
    name: `layer-${name}`,
    comment: `src/${name}/ may import only its own folder and the layers below it (docs/architecture.md)`,
    severity: 'error',
    from: { path: folder([name]) },
    to: { path: folder([...above, ...siblings, 'testing']), pathNot: '^src/testing/' },
  };
}));

module.exports = {
  forbidden: [
    { name: 'no-circular', comment: 'an import cycle: two modules that cannot be understood apart', severity: 'error', from: {}, to: { circular: true } },
    ...layerRules,
    {
      name: 'testing-only-in-tests',
      comment: 'src/testing/ is the composition root of tests: production code never imports it',
      severity: 'error',
      from: { path: '^src/', pathNot: ['\\.test\\.ts$', '^src/testing/'] },
      to: { path: '^src/testing/' },
    },
    {
      name: 'not-to-unresolvable',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    includeOnly: '^src/',
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.js'] },
    doNotFollow: { path: 'node_modules' },
  },
};
