/** CSS imports are bundled by esbuild into app.css; to the type checker they are side effects only. */
declare module '*.css';
