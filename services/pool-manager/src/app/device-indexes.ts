/**
 * The device index a new ENI attaches at: the lowest free one from 1, counting EC2's answer
 * on the instance's used indexes (read at most once per DEVICE_READ_TTL_MS), the pool's own
 * ENIs and the attaches in flight (concurrent creates pick different ones).
 */
import type { ExecutorDeps } from "./executor.ts";

/** How long EC2's answer on the used device indexes is reused for the next ENI attaches (an attach that fails drops it at once). */
export const DEVICE_READ_TTL_MS = 600_000;

export class DeviceIndexes {
  /** Device indexes taken by attaches in flight (concurrent creates pick different ones). */
  private readonly attaching = new Set<number>();
  /** EC2's answer on the instance's used device indexes, and when it was read. */
  private deviceRead: { atMs: number; used: number[] } | undefined;

  constructor(private readonly d: ExecutorDeps) {}

  /** The used device indexes as an EC2 read other than DescribeInstances saw them (start-up's DescribeNetworkInterfaces of the instance). */
  note(used: number[]): void {
    this.deviceRead = { atMs: this.d.opts.now(), used: [...used] };
  }

  /** Drops EC2's answer: after an attach failed (e.g. the device was taken by someone else) and after a detach. */
  forget(): void {
    this.deviceRead = undefined;
  }

  /** The lowest free device index from 1, held for this attach until `unclaim`. */
  async claimFree(): Promise<number> {
    const used = new Set([...(await this.usedDeviceIndexes()), ...[...this.d.model.enis.values()].map((m) => m.pool.deviceNumber), ...this.attaching]);
    let d = 1;
    while (used.has(d)) d++;
    this.attaching.add(d);
    return d;
  }

  unclaim(device: number): void {
    this.attaching.delete(device);
  }

  /**
   * The instance's used device indexes from EC2, read at most once per DEVICE_READ_TTL_MS:
   * on a throttling account a grow is retried cycle after cycle, and a DescribeInstances
   * before each try took the Describe budget nodes starting up need. Dropped after an attach
   * failed and after this executor detached an ENI; the pool's own ENIs and the attaches in
   * flight are added by the caller.
   */
  private async usedDeviceIndexes(): Promise<number[]> {
    const now = this.d.opts.now();
    if (this.deviceRead && now - this.deviceRead.atMs < DEVICE_READ_TTL_MS) return this.deviceRead.used;
    const used = await this.d.ec2.usedDeviceIndexes(this.d.facts.instanceId);
    this.deviceRead = { atMs: now, used };
    return used;
  }
}
