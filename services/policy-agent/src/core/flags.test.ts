import { expect, test } from "bun:test";
import { FlagError, parseAgentFlags } from "./flags.ts";

test("upstream manifest's arguments are accepted; only --enable-network-policy takes effect", () => {
  const upstream = [
    "--enable-ipv6=false",
    "--enable-network-policy=true",
    "--enable-cloudwatch-logs=false",
    "--enable-policy-event-logs=false",
    "--log-file=/var/log/aws-routed-eni/network-policy-agent.log",
    "--metrics-bind-addr=:8162",
    "--health-probe-bind-addr=:8163",
    "--conntrack-cache-cleanup-period=300",
    "--conntrack-cache-table-size=524288",
    "--log-level=debug",
  ];
  const f = parseAgentFlags(upstream);
  expect(f.enableNetworkPolicy).toBe(true);
  expect(f.ignored.map((x) => x.flag.split("=")[0])).toEqual(upstream.filter((a) => !a.startsWith("--enable-network-policy")).map((a) => a.split("=")[0]));
});

test("defaults: off, as upstream; a bare boolean flag means true; a separate value is taken", () => {
  expect(parseAgentFlags([]).enableNetworkPolicy).toBe(false);
  expect(parseAgentFlags(["--enable-network-policy"]).enableNetworkPolicy).toBe(true);
  expect(parseAgentFlags(["--enable-network-policy=false"]).enableNetworkPolicy).toBe(false);
  expect(parseAgentFlags(["--log-level", "info"]).ignored).toEqual([{ flag: "--log-level=info", why: expect.stringContaining("AWS_VPC_K8S_CNI_LOGLEVEL") }]);
});

test("unknown flags and malformed values are refused, named", () => {
  for (const [argv, named] of [
    [["--enable-network-polcy=true"], "--enable-network-polcy"],
    [["--enable-network-policy=yes"], "--enable-network-policy"],
    [["--conntrack-cache-table-size=big"], "--conntrack-cache-table-size"],
    [["--log-file"], "--log-file"],
    [["standard"], "standard"],
  ] as const) {
    expect(() => parseAgentFlags(argv)).toThrow(FlagError);
    expect(() => parseAgentFlags(argv)).toThrow(named);
  }
});
