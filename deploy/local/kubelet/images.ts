// Which root filesystem a workload's image becomes: nothing is pulled. An image the machine's
// podman storage holds (e.g. localhost/aws-vpc-cni:0.1.0, built locally) runs as itself;
// any other name runs on the stack's busybox root filesystem. Answers are cached: an image
// found stays found, a missing one is looked up again after a while (it may be being built).
import type { RootFilesystem } from "./container-args.ts";
import type { Podman } from "./podman.ts";

export interface ResolvedImage {
  root: RootFilesystem;
  imageID: string;
  /** false: the image is not on the machine and the busybox root filesystem stands in. */
  local: boolean;
}

const RECHECK_MISSING_MS = 10_000;

export class Images {
  private readonly found = new Map<string, string>();
  private readonly missingUntil = new Map<string, number>();
  private readonly asking = new Map<string, Promise<string | undefined>>();

  constructor(
    private readonly podman: Podman,
    private readonly rootfs: string,
  ) {}

  /** Concurrent questions about one image share one `podman image inspect`. */
  private lookUp(image: string): Promise<string | undefined> {
    let pending = this.asking.get(image);
    if (!pending) {
      pending = this.podman.imageId(image).then((id) => {
        if (id) this.found.set(image, id);
        else this.missingUntil.set(image, Date.now() + RECHECK_MISSING_MS);
        return id;
      }).finally(() => this.asking.delete(image));
      this.asking.set(image, pending);
    }
    return pending;
  }

  async resolve(image: string): Promise<ResolvedImage> {
    let id = this.found.get(image);
    if (id === undefined && (this.missingUntil.get(image) ?? 0) <= Date.now()) id = await this.lookUp(image);
    if (id) return { root: { kind: "image", ref: image }, imageID: `sha256:${id}`, local: true };
    return { root: { kind: "rootfs", path: this.rootfs }, imageID: `rootfs://${this.rootfs}`, local: false };
  }
}
