/**
 * Where things are inside the aws-node image. The entry points under /app/bin are the
 * contract with the DaemonSet and the simulated kubelet; the rest is this image's business.
 */
export const IMAGE_LAYOUT = {
  /** The compiled CNI shim; with BUN_BE_BUN=1 the same binary is the plain `bun` CLI. */
  shim: "/app/bin/aws-cni",
  /** `install-cni`: the init container's command. */
  installCni: "/app/bin/install-cni",
  /** `service <name>`: runs one service's bundle. */
  service: "/app/bin/service",
  /** `probe <service> live|ready`. */
  probe: "/app/bin/probe",
  /** `bun …`: the shim binary as Bun, for a person exec'ing into a container. */
  bun: "/app/bin/bun",
  /** The chained CNI plugins the init container installs beside the shim. */
  cniPlugins: "/app/cni",
  /** One directory per service: main.js and its chunks (services/build.ts). */
  services: "/app/services",
  /** Bundled tools: install-cni.js, probe.js. */
  lib: "/app/lib",
} as const;

/** The chained plugins the image ships (upstream's init installs these beside its own plugin). */
export const CHAINED_PLUGINS = ["portmap", "loopback", "host-local", "bandwidth", "tuning"] as const;

/**
 * The oldest glibc a node may have: Amazon Linux 2's. What the init container installs on a
 * node must be static or need nothing newer.
 */
export const MIN_NODE_GLIBC = [2, 26] as const;
