/** net-config's wiring of adapters to the service (main.ts runs it with the loaded configuration). */
import type { Bootstrapped } from "../../shared/bootstrap.ts";
import { createFrame, runFrame } from "../../shared/service.ts";
import { UnixClient } from "../../shared/ipc/client.ts";
import { listAssignments } from "../../shared/contracts/assignments.ts";
import { getCapacity } from "../../shared/contracts/capacity.ts";
import { NetlinkKernel } from "./src/adapters/netlink-kernel.ts";
import { configureHostProc } from "./src/adapters/netns.ts";
import { Iptables } from "./src/adapters/iptables.ts";
import { HostService } from "./src/app/host-service.ts";
import { ConnmarkService, connmarkMetrics } from "./src/app/connmark-service.ts";
import { Nft } from "./src/adapters/nft.ts";
import { VethReaper } from "./src/adapters/veth-reaper.ts";
import { PodService } from "./src/app/pod-service.ts";
import { EgressService } from "./src/app/egress-service.ts";
import { BranchService } from "./src/app/branch-service.ts";
import { Reconciler } from "./src/app/reconcile-service.ts";
import { mountNetConfig } from "./src/app/app.ts";
import { repairCounter } from "./src/app/metrics.ts";
import { settingsFromConfig } from "./src/app/settings-from-config.ts";
import type { BranchLinkKind } from "./src/core/branch-wiring.ts";

export interface RunOptions {
  /**
   * The link branch-ENI pods' `vlan.eth.<id>` is made as: an 802.1Q VLAN (always, in service),
   * or a macvlan with the branch's MAC for tests on kernels built without 802.1Q
   * (test-support/main-vlan-standin.ts).
   */
  branchLinkKind?: BranchLinkKind;
}

/** The service, from a bootstrapped configuration. */
export async function runNetConfig(boot: Bootstrapped, opts: RunOptions = {}): Promise<void> {
  const { config, log, socketGid } = boot;
  const settings = settingsFromConfig(config);
  if (opts.branchLinkKind) settings.branchLinkKind = opts.branchLinkKind;
  // Pod network namespaces are named by the runtime on the host: reached through the host's /proc.
  configureHostProc(config.hostProc);
  const kernel = new NetlinkKernel("self");
  const iptables = new Iptables("self", await Iptables.detect("self"));

  let debug: () => unknown = () => ({});
  const frame = createFrame({ name: "net-config", debug: () => debug() });
  // Upstream keeps the connmark rules in nftables when iptables runs in nf_tables mode.
  const connmarkBackend = iptables.backend === "nft" ? "nftables" : "iptables";
  const connmark = new ConnmarkService(connmarkBackend, new Nft("self"), connmarkMetrics(frame.registry, connmarkBackend), (msg) => log.warn(msg));
  const host = new HostService(kernel, iptables, () => settings, { linkWaitMs: 10_000, randomFully: await iptables.supportsRandomFully(), connmark });
  const repairs = repairCounter(frame.registry);
  const broker = new UnixClient(config.sockets.addrBroker, { timeoutMs: 5000 });
  const pool = new UnixClient(config.sockets.poolManager, { timeoutMs: 5000 });
  const reconciler = new Reconciler(
    kernel,
    host,
    { assignments: () => broker.call(listAssignments, {}), capacity: () => pool.call(getCapacity, { since: -1, waitMs: 0 }) },
    () => settings,
    (kind) => repairs.inc({ kind }),
  );
  // DEL deletes the host veth off the request path (adapters/veth-reaper.ts); retired veths a previous run left are deleted now.
  const reaper = new VethReaper({ log: (msg, f) => log.warn(f, msg) });
  for (const name of kernel.linkNames()) if (VethReaper.isRetired(name)) reaper.enqueue(name);
  const pods = new PodService(kernel, () => settings, (veth, cidr) => reconciler.touched(veth, cidr), reaper);
  const egress = new EgressService("self", iptables, await iptables.supportsRandomFully());
  // Branch-ENI pods: asked for only by an addr-broker with ENABLE_POD_ENI.
  const branch = new BranchService(kernel, () => settings, (veth, cidr) => reconciler.touched(veth, cidr));
  const mounted = mountNetConfig(frame, { pods, egress, branch, host, reconciler, settings, backend: iptables.backend, nodeNetns: "self" });
  debug = () => ({ ...(mounted.debug() as object), vethReaper: { pending: reaper.pending(), deleted: reaper.deleted, failures: reaper.failures } });

  async function reconcile(): Promise<void> {
    try {
      const r = await reconciler.run();
      if (r.repairs || r.errors) log.info(r, "reconcile repaired drift");
    } catch (err) {
      log.error({ err }, "reconcile failed");
    }
  }

  let timer: ReturnType<typeof setInterval> | undefined;
  await runFrame(frame, {
    runDir: config.runDir,
    gid: socketGid,
    onStop: () => {
      if (timer) clearInterval(timer);
      kernel.close();
    },
  });
  log.info({ socket: config.sockets.netConfig, backend: iptables.backend, connmarkBackend }, "net-config started");
  void reconcile();
  if (settings.reconcileIntervalMs > 0) timer = setInterval(() => void reconcile(), settings.reconcileIntervalMs);
}
