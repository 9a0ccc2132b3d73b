/**
 * The block tree of a FIF file, built from its tag list as MNE's `make_dir_tree` does: a
 * FIFF_BLOCK_START opens a child block (its payload is the block kind), FIFF_BLOCK_END closes the
 * current one, every other tag belongs to the innermost open block.
 *
 * Owns: nesting and lookup (`findBlocks`, `findTag`). Must not: decode tag payloads other than
 * the block kinds.
 */
import { FIFF } from './fifConstants.js';
import type { FifFile, TagEntry } from './fifFile.js';

export interface FifNode {
  /** Block kind (0 for the file's root). */
  block: number;
  /** Byte offset of the FIFF_BLOCK_START tag (−1 for the root). */
  pos: number;
  /** The non-block tags directly in this block, in logical order. */
  entries: TagEntry[];
  children: FifNode[];
}

/** Deepest nesting accepted; real files nest < 10 deep, a damaged one could claim thousands. */
const MAX_DEPTH = 64;

export async function buildTree(file: FifFile, entries: readonly TagEntry[]): Promise<FifNode> {
  const root: FifNode = { block: 0, pos: -1, entries: [], children: [] };
  const stack: FifNode[] = [root];
  for (const e of entries) {
    const top = stack[stack.length - 1];
    if (e.kind === FIFF.BLOCK_START) {
      const kind = await file.readInt(e, 'block kind');
      if (stack.length > MAX_DEPTH) throw file.error(e.pos, e.kind, `blocks nested at most ${MAX_DEPTH} deep`);
      const child: FifNode = { block: kind, pos: e.pos, entries: [], children: [] };
      top.children.push(child);
      stack.push(child);
    } else if (e.kind === FIFF.BLOCK_END) {
      // MNE ends the current block whatever kind the end tag names; a stray end at the root is ignored.
      if (stack.length > 1) stack.pop();
    } else {
      top.entries.push(e);
    }
  }
  return root;
}

/** All blocks of `kind` in the subtree (depth-first, document order), the node itself included. */
export function findBlocks(node: FifNode, kind: number): FifNode[] {
  const out: FifNode[] = [];
  const visit = (n: FifNode): void => {
    if (n.block === kind) out.push(n);
    for (const c of n.children) visit(c);
  };
  visit(node);
  return out;
}

/** The first tag of `kind` directly in `node`. */
export function findTag(node: FifNode, kind: number): TagEntry | undefined {
  return node.entries.find((e) => e.kind === kind);
}
