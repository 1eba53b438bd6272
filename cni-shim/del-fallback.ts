/**
 * DEL while addr-broker is unreachable, as upstream's plugin does it when ipamd is: the pod's
 * wiring found in prevResult (its address; the veth name comes from the pod's name) is torn
 * down, here by asking net-config on its socket (the only process that changes the kernel),
 * and the DEL succeeds, since nothing guarantees the runtime retries it. A record left in
 * `<run dir>/pending-del/` makes addr-broker release the address when it is back.
 * Loaded by main.ts only on this path: nothing here is paid on an ordinary call.
 */
import { writePendingDel } from "../shared/pending-del.ts";

interface Conf {
  name?: unknown;
  prevResult?: unknown;
}

/** The pod's address from prevResult: the ip on the CNI_IFNAME interface, else the first one. */
export function addressFromPrevResult(prev: unknown, ifName: string): string | undefined {
  if (typeof prev !== "object" || prev === null) return undefined;
  const p = prev as { interfaces?: unknown; ips?: unknown };
  const ifs = Array.isArray(p.interfaces) ? p.interfaces : [];
  const ips = (Array.isArray(p.ips) ? p.ips : []).filter((x): x is { address: string; interface?: unknown } => typeof x?.address === "string");
  const idx = ifs.findIndex((i) => typeof i === "object" && i !== null && (i as { name?: unknown }).name === ifName && typeof (i as { sandbox?: unknown }).sandbox === "string");
  const ip = ips.find((x) => x.interface === idx) ?? ips[0];
  return ip?.address.split("/")[0];
}

/** A multi-homed pod's interfaces on other network cards in prevResult (`mNicIf<n>` with its address), as upstream's plugin tears them down too. */
export function cardInterfacesFromPrevResult(prev: unknown): Array<{ ifName: string; index: number; address: string }> {
  if (typeof prev !== "object" || prev === null) return [];
  const p = prev as { interfaces?: unknown; ips?: unknown };
  const ifs = Array.isArray(p.interfaces) ? p.interfaces : [];
  const ips = Array.isArray(p.ips) ? p.ips : [];
  const out: Array<{ ifName: string; index: number; address: string }> = [];
  for (const ip of ips) {
    if (typeof ip?.address !== "string" || typeof ip.interface !== "number") continue;
    const name = (ifs[ip.interface] as { name?: unknown } | undefined)?.name;
    const m = typeof name === "string" ? /^mNicIf([1-9][0-9]?)$/.exec(name) : null;
    if (m && Number(m[1]) <= 31) out.push({ ifName: name as string, index: Number(m[1]), address: ip.address.split("/")[0]! });
  }
  return out;
}

/** K8S_POD_NAMESPACE and K8S_POD_NAME from CNI_ARGS (`K=V;K=V`). */
export function podFromArgs(args: string | undefined): { podNamespace?: string; podName?: string } {
  const out: { podNamespace?: string; podName?: string } = {};
  for (const kv of (args ?? "").split(";")) {
    const eq = kv.indexOf("=");
    const [k, v] = [kv.slice(0, eq), kv.slice(eq + 1)];
    if (k === "K8S_POD_NAMESPACE") out.podNamespace = v;
    if (k === "K8S_POD_NAME") out.podName = v;
  }
  return out;
}

/** Tears down what it can and records the DEL; returns one line for stderr. Never throws. */
export async function delWithoutBroker(env: Record<string, string>, conf: Conf, runDir: string): Promise<string> {
  const containerId = env.CNI_CONTAINERID ?? "";
  const ifName = env.CNI_IFNAME ?? "";
  const address = addressFromPrevResult(conf.prevResult, ifName);
  const said: string[] = [];
  if (address === undefined) said.push("no prevResult address: nothing torn down here");
  else {
    const netns = env.CNI_NETNS ?? "";
    const base = { containerId, netns, ...podFromArgs(env.CNI_ARGS), routeTable: 254, ...(netns ? { netnsPid: process.pid } : {}) };
    const interfaces = [{ ...base, ifName, address }, ...cardInterfacesFromPrevResult(conf.prevResult).map((x) => ({ ...base, ...x }))];
    for (const body of interfaces) {
      try {
        const res = await fetch("http://localhost/v1/pods/unwire", { method: "POST", unix: `${runDir}/net-config.sock`, headers: { "content-type": "application/json" }, body: JSON.stringify(body), signal: AbortSignal.timeout(10_000) });
        said.push(res.ok ? `net-config removed the wiring of ${body.address}` : `net-config refused the teardown (HTTP ${res.status}): ${(await res.text()).slice(0, 300)}`);
      } catch (err) {
        said.push(`net-config unreachable too (${err instanceof Error ? err.message : String(err)})`);
        break;
      }
    }
  }
  try {
    writePendingDel(runDir, { networkName: typeof conf.name === "string" ? conf.name : "", containerId, ifName, address: address ?? "", at: Date.now() });
    said.push("addr-broker releases the address when it is back");
  } catch (err) {
    said.push(`DEL not recorded (${err instanceof Error ? err.message : String(err)}): addr-broker's start-up sweep releases it once the veth is gone`);
  }
  return said.join("; ");
}
