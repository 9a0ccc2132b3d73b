/**
 * The import rules of lockstep, checked by dependency-cruiser in `npm test` (`npm run check:imports`).
 * The folders stack one way:   cli/  →  dashboard/, replay/, streams/  →  adapters/  →  src/
 * (test/ and bench/ are harnesses: they may import any folder, cli/ included, to drive commands).
 */
module.exports = {
  forbidden: [
    {
      name: 'src-is-the-bottom',
      comment: 'src/ is pure math and domain types: it imports nothing from the folders above it.',
      severity: 'error',
      from: { path: '^src/' },
      to: { path: '^(streams|adapters|dashboard|replay|cli|test|bench)/' },
    },
    {
      name: 'src-has-no-rxjs',
      comment: 'src/ has no streams: RxJS belongs to streams/ and above.',
      severity: 'error',
      from: { path: '^src/' },
      to: { path: 'node_modules/rxjs/' },
    },
    {
      name: 'adapters-below-streams',
      comment: 'adapters/ talk to the outside world; they do not know the pipeline, the dashboard, schedulers or commands.',
      severity: 'error',
      from: { path: '^adapters/' },
      to: { path: '^(streams|dashboard|replay|cli|test|bench)/' },
    },
    {
      name: 'middle-floor-below-cli',
      comment: 'streams/, replay/ and dashboard/ do not reach up to the commands.',
      severity: 'error',
      from: { path: '^(streams|replay|dashboard)/' },
      to: { path: '^(cli|test|bench)/' },
    },
    {
      name: 'nothing-imports-cli',
      comment: 'Commands sit on top: only other commands (and the test and bench harnesses) import cli/.',
      severity: 'error',
      from: { path: '^(src|streams|adapters|replay|dashboard)/' },
      to: { path: '^cli/' },
    },
    {
      name: 'no-file-cycles',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'no-folder-cycles',
      comment: 'No cycles between folders either (e.g. adapters/llm ↔ adapters/text).',
      severity: 'error',
      scope: 'folder',
      from: {},
      to: { circular: true },
    },
  ],
  options: {
    // TypeScript 7 has no JavaScript API for dependency-cruiser; swc parses the sources instead.
    parser: 'swc',
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(dist|node_modules)/' },
    enhancedResolveOptions: { extensions: ['.ts', '.js', '.json'] },
  },
};
