/**
 * What a bench made, undone when the bench is interrupted (SIGINT or SIGTERM: Ctrl-C, `timeout`,
 * a CI job cancelled). A signal ends the process without running any `finally`, so every
 * deployment and namespace a bench makes registers its undo here; the first signal runs them
 * all, newest first (a node's deployment before the pod namespaces made for it), then exits
 * with 130. A second signal while they run is left to its default (the process ends at once).
 */
type Undo = () => Promise<void> | void;

const undos = new Set<Undo>();
let installed = false;

/** Registers `undo`; the returned function unregisters it (call it once the bench undid it itself). */
export function onInterrupt(undo: Undo): () => void {
  undos.add(undo);
  if (!installed) {
    installed = true;
    for (const sig of ["SIGINT", "SIGTERM"] as const) process.once(sig, () => void undoAll(sig));
  }
  return () => void undos.delete(undo);
}

async function undoAll(sig: string): Promise<void> {
  console.error(`${sig}: removing what this bench made`);
  for (const undo of [...undos].reverse()) {
    undos.delete(undo);
    try {
      await undo();
    } catch (err) {
      console.error(`  cleanup failed: ${(err as Error).message}`);
    }
  }
  process.exit(130);
}
