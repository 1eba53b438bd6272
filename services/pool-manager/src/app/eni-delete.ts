/**
 * Removing ENIs: a shrink's delete (drain every CIDR, tear the link down, detach, delete,
 * retrying "in use"), a delete that failed queued for later, and `repair`, which each cycle
 * does what creates and deletes left undone (DeleteOnTermination, queued deletes).
 */
import { ec2Code } from "../core/ports.ts";
import type { DeviceIndexes } from "./device-indexes.ts";
import { isInUse, isThrottle } from "./ec2-failures.ts";
import { drained } from "./eni-addresses.ts";
import type { ExecutorDeps } from "./executor.ts";
import { eniSetupOf } from "./pool-model.ts";

/** DeleteOnTermination waits for a calm account at most this long after the ENI's creation. */
export const DOT_MAX_DEFER_MS = 600_000;

/**
 * Does what grows left for later or what failed: DeleteOnTermination on attached ENIs that
 * lack it (skipped while the pool is short or, for up to 10 min, while the account throttles), and ENIs queued for deletion (NotFound = done, "in use" = later). `failed` when a call
 * failed other than "in use" (the cycle backs off).
 */
export async function repair(d: ExecutorDeps, o: { deleteOnTermination: boolean; ec2Busy?: boolean }): Promise<{ errors: string[]; failed: boolean }> {
  const { model, ec2, opts } = d;
  const errors: string[] = [];
  let failed = false;
  for (const m of model.enis.values()) {
    if (!o.deleteOnTermination || m.deleteOnTermination !== false || !m.attachmentId || m.removing) continue;
    // While the account throttles this node's addressing calls, other nodes' pods come first,
    // for at most DOT_MAX_DEFER_MS after the ENI was created (the window in which it could leak).
    if (o.ec2Busy && opts.now() - m.pool.createdAtMs < DOT_MAX_DEFER_MS) continue;
    try {
      await ec2.setDeleteOnTermination(m.pool.id, m.attachmentId);
      m.deleteOnTermination = true;
    } catch (err) {
      if (/NotFound/.test(ec2Code(err) ?? "")) {
        m.deleteOnTermination = undefined; // gone or re-attached: reconcile finds out
        continue;
      }
      failed = true;
      errors.push(`DeleteOnTermination ${m.pool.id}: ${String((err as Error).message ?? err)}`);
      if (isThrottle(err)) return { errors, failed };
    }
  }
  for (const [id, p] of model.pendingDeletes) {
    p.tries++;
    try {
      await ec2.deleteEni(id);
      model.pendingDeletes.delete(id);
    } catch (err) {
      const code = ec2Code(err) ?? "";
      if (code === "InvalidNetworkInterfaceID.NotFound") {
        model.pendingDeletes.delete(id);
        continue;
      }
      p.lastError = `${code}: ${String((err as Error).message ?? err)}`;
      p.lastTryAtMs = opts.now();
      if (isInUse(err)) continue;
      failed = true;
      errors.push(`delete ${id}: ${p.lastError}`);
      if (isThrottle(err)) return { errors, failed };
    }
  }
  return { errors, failed };
}

/** One DeleteNetworkInterface for an ENI this node created but does not use; queued for `repair` when it fails. */
export async function deleteOrQueue(d: ExecutorDeps, eniId: string, why: string): Promise<void> {
  try {
    await d.ec2.deleteEni(eniId);
  } catch (err) {
    if (ec2Code(err) === "InvalidNetworkInterfaceID.NotFound") return;
    d.opts.awsUtilsError?.("AllocENIDeleteErr", err);
    queueDelete(d, eniId, why, err);
  }
}

export function queueDelete(d: ExecutorDeps, eniId: string, why: string, err?: unknown): void {
  const p = d.model.pendingDeletes.get(eniId) ?? { sinceMs: d.opts.now(), why, tries: 0 };
  if (err !== undefined) p.lastError = `${ec2Code(err) ?? ""}: ${String((err as Error)?.message ?? err)}`;
  d.model.pendingDeletes.set(eniId, p);
  d.model.bump();
}

export async function deleteEni(d: ExecutorDeps, devices: DeviceIndexes, eniId: string): Promise<void> {
  const { model, ec2, net } = d;
  const m = model.enis.get(eniId);
  if (!m || m.pool.primary) return;
  const all = m.pool.cidrs.map((c) => c.cidr);
  const { refused } = await drained(d, eniId, all);
  if (refused.length) {
    model.setDraining(eniId, all, false);
    return;
  }
  m.removing = true;
  model.bump();
  if (m.ready) await net.teardownEni(eniSetupOf(m)).catch(() => undefined);
  const attachment =
    m.attachmentId ??
    (
      await ec2.eni(eniId).catch((err) => {
        d.opts.awsUtilsError?.("getENIAttachmentIDFailed", err);
        m.removing = false;
        model.setDraining(eniId, all, false);
        throw err;
      })
    )?.attachment?.id;
  if (attachment) {
    devices.forget();
    try {
      await ec2.detachEni(attachment);
    } catch (err) {
      if (!/NotFound/.test(ec2Code(err) ?? "")) {
        m.removing = false;
        model.setDraining(eniId, all, false);
        throw err;
      }
    }
  }
  try {
    await deleteDetached(d, eniId);
  } catch (err) {
    // Detached but not deleted: out of the pool, deleted in a later cycle.
    d.opts.awsUtilsError?.("FreeENIDeleteErr", err);
    queueDelete(d, eniId, "detached by a pool shrink", err);
    model.enis.delete(eniId);
    model.bump();
    throw err;
  }
  model.enis.delete(eniId);
  model.bump();
}

/** DeleteNetworkInterface, retrying "in use" (normal right after a detach); NotFound is success. */
export async function deleteDetached(d: ExecutorDeps, eniId: string): Promise<void> {
  const tries = d.opts.deleteTries ?? 20;
  for (let i = 0; ; i++) {
    try {
      await d.ec2.deleteEni(eniId);
      return;
    } catch (err) {
      const code = ec2Code(err) ?? "";
      if (code === "InvalidNetworkInterfaceID.NotFound") return;
      if (!isInUse(err) || i + 1 >= tries) throw err;
      await d.opts.sleep(Math.min(100 * 2 ** i, 5_000));
    }
  }
}
