// describeConfig: env name → effective value; round-trips through loadConfig.
import { expect, test } from "bun:test";
import { describeConfig, ENV_NAMES, loadConfig } from "./index.ts";

test("names every variable, with string values only", () => {
  const view = describeConfig(loadConfig({}).config);
  expect(Object.keys(view).sort()).toEqual([...ENV_NAMES].sort());
  for (const value of Object.values(view)) expect(typeof value).toBe("string");
  expect(JSON.parse(JSON.stringify(view))).toEqual(view);
});

test.each([
  ["defaults", {}],
  ["a full configuration", {
    ENABLE_IPv4: "false", ENABLE_IPv6: "true", ENABLE_PREFIX_DELEGATION: "true", AWS_VPC_ENI_MTU: "1500", POD_MTU: "1400",
    WARM_IP_TARGET: "5", MINIMUM_IP_TARGET: "10", WARM_PREFIX_TARGET: "1", MAX_ENI: "3", WARM_ENI_TARGET: "0",
    AWS_VPC_K8S_CNI_RANDOMIZESNAT: "NONE", AWS_VPC_K8S_CNI_EXCLUDE_SNAT_CIDRS: "10.0.0.0/8,172.16.0.0/12",
    ADDITIONAL_ENI_TAGS: '{"a":"b"}', INTROSPECTION_BIND_ADDRESS: "unix:/tmp/i.sock", AWS_VPC_CNI_METRICS_BIND_ADDRESS: "[::1]:9100",
    AWS_VPC_K8S_CNI_LOGLEVEL: "info", AWS_VPC_K8S_PLUGIN_LOG_FILE: "stderr", AWS_VPC_K8S_CNI_CONNMARK: "0x4000",
    AWS_VPC_CNI_SOCKET_GROUP: "1001", KUBERNETES_SERVICE_HOST: "10.100.0.1", KUBERNETES_SERVICE_PORT: "6443",
    AWS_EC2_ENDPOINT: "http://127.0.0.1:5000", AWS_REGION: "us-west-2", MY_NODE_NAME: "node-a", IP_COOLDOWN_PERIOD: "45",
  }],
] as [string, Record<string, string>][])("feeding the view back gives the same config: %s", (_case, env) => {
  const first = loadConfig(env).config;
  const again = loadConfig(describeConfig(first)).config;
  expect(again).toEqual(first);
});

test("shows effective values, not raw ones", () => {
  const view = describeConfig(loadConfig({ AWS_VPC_ENI_MTU: "1500", WARM_IP_TARGET: "-1", AWS_VPC_K8S_CNI_LOGLEVEL: "warn" }).config);
  expect(view.POD_MTU).toBe("1500");
  expect(view.WARM_IP_TARGET).toBe("");
  expect(view.AWS_VPC_K8S_CNI_LOGLEVEL).toBe("WARN");
  expect(view.AWS_VPC_K8S_CNI_CONNMARK).toBe("0x80");
});
