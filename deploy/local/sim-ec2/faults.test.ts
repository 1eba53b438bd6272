/**
 * Faults, throttling and the control API, through the real EC2Client (maxAttempts 1) and
 * the control Unix socket. World: as sdk.test.ts; each test sets the faults it needs.
 */
import { afterEach, beforeEach, expect, test } from "bun:test";
import * as E from "@aws-sdk/client-ec2";
import { statSync } from "node:fs";
import { sdkError, servedWorld } from "./sdk-harness.ts";

let w: Awaited<ReturnType<typeof servedWorld>>;
beforeEach(async () => {
  w = await servedWorld();
});
afterEach(async () => {
  await w.close();
});

const putFaults = (body: unknown) => w.control("/faults", { method: "PUT", body: JSON.stringify(body), headers: { "content-type": "application/json" } });
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const json = async (r: Response | Promise<Response>): Promise<any> => (await r).json();
const describeMine = () => w.ec2.send(new E.DescribeNetworkInterfacesCommand({ Filters: [{ Name: "attachment.instance-id", Values: [w.instance.id] }] }));

test("throttling: the bucket empties into RequestLimitExceeded (503), counted as throttled", async () => {
  expect((await putFaults({ throttling: { capacityScale: 0.04, refillScale: 0 } })).status).toBe(200);
  // Unfiltered DescribeNetworkInterfaces: 50 × 0.04 = 2 tokens; filtered calls use another bucket.
  await w.ec2.send(new E.DescribeNetworkInterfacesCommand({}));
  await w.ec2.send(new E.DescribeNetworkInterfacesCommand({}));
  expect(await sdkError(w.ec2.send(new E.DescribeNetworkInterfacesCommand({})))).toEqual({ name: "RequestLimitExceeded", status: 503 });
  await describeMine();
  const calls = await json(w.control("/calls"));
  expect(calls.DescribeNetworkInterfaces).toEqual({ ok: 3, throttled: 1, error: 0 });
  await putFaults({ throttling: { enabled: false } });
  for (let i = 0; i < 5; i++) await w.ec2.send(new E.DescribeNetworkInterfacesCommand({}));
});

test("error rate per action with the chosen code; seeded, so reproducible", async () => {
  await putFaults({ seed: 42, errors: { AssignPrivateIpAddresses: { rate: 1, code: "InternalError" }, DescribeSubnets: { rate: 1, code: "ServiceUnavailable" } } });
  const eni = w.model.createNetworkInterface({ subnetId: w.subnet.id });
  expect(await sdkError(w.ec2.send(new E.AssignPrivateIpAddressesCommand({ NetworkInterfaceId: eni.id, SecondaryPrivateIpAddressCount: 1 })))).toEqual({ name: "InternalError", status: 500 });
  expect(await sdkError(w.ec2.send(new E.DescribeSubnetsCommand({})))).toEqual({ name: "ServiceUnavailable", status: 503 });
  expect(w.model.state.enis[eni.id]!.secondaryIps).toEqual([]);
  // Half rate: the same seed gives the same sequence of outcomes.
  const run = async () => {
    await putFaults({ seed: 7, errors: { DescribeSecurityGroups: { rate: 0.5, code: "InternalError" } } });
    const out: string[] = [];
    for (let i = 0; i < 12; i++) out.push((await sdkError(w.ec2.send(new E.DescribeSecurityGroupsCommand({ GroupIds: [w.sg.id] })))).name);
    return out.join(",");
  };
  const first = await run();
  expect(first).toContain("InternalError");
  expect(first).toContain("none");
  expect(await run()).toBe(first);
});

test("UnauthorizedOperation (403) for a chosen action only", async () => {
  await putFaults({ unauthorized: ["CreateNetworkInterface"] });
  expect(await sdkError(w.ec2.send(new E.CreateNetworkInterfaceCommand({ SubnetId: w.subnet.id })))).toEqual({ name: "UnauthorizedOperation", status: 403 });
  await describeMine();
  const calls = await json(w.control("/calls"));
  expect(calls.CreateNetworkInterface.error).toBe(1);
});

test("added latency per action", async () => {
  await putFaults({ latencyMs: { DescribeSecurityGroups: 80 } });
  const t0 = performance.now();
  await w.ec2.send(new E.DescribeSecurityGroupsCommand({}));
  expect(performance.now() - t0).toBeGreaterThanOrEqual(75);
});

test("attachment delay: attaching until the delay passed, then attached (timer settles it)", async () => {
  await putFaults({ attachDelayMs: 1000 });
  const eni = w.model.createNetworkInterface({ subnetId: w.subnet.id });
  await w.ec2.send(new E.AttachNetworkInterfaceCommand({ NetworkInterfaceId: eni.id, InstanceId: w.instance.id, DeviceIndex: 1 }));
  const status = async () => (await w.ec2.send(new E.DescribeNetworkInterfacesCommand({ NetworkInterfaceIds: [eni.id] }))).NetworkInterfaces![0]!.Attachment!.Status;
  expect(await status()).toBe("attaching");
  w.clock.t += 1000;
  expect(await status()).toBe("attached");
});

test("Describe lags behind mutations", async () => {
  await putFaults({ describeLagMs: 5000 });
  const created = await w.ec2.send(new E.CreateNetworkInterfaceCommand({ SubnetId: w.subnet.id }));
  const id = created.NetworkInterface!.NetworkInterfaceId!;
  expect((await sdkError(w.ec2.send(new E.DescribeNetworkInterfacesCommand({ NetworkInterfaceIds: [id] })))).name).toBe("InvalidNetworkInterfaceID.NotFound");
  w.clock.t += 5000;
  const r = await w.ec2.send(new E.DescribeNetworkInterfacesCommand({ NetworkInterfaceIds: [id] }));
  expect(r.NetworkInterfaces?.[0]?.NetworkInterfaceId).toBe(id);
});

test("IMDS propagation delay applies to attach and assign", async () => {
  await putFaults({ imdsDelayMs: 3000 });
  const eni = w.model.createNetworkInterface({ subnetId: w.subnet.id });
  await w.ec2.send(new E.AttachNetworkInterfaceCommand({ NetworkInterfaceId: eni.id, InstanceId: w.instance.id, DeviceIndex: 1 }));
  expect(w.model.imdsView(w.instance.id)!.length).toBe(1);
  w.clock.t += 3000;
  expect(w.model.imdsView(w.instance.id)!.map((i) => i.interfaceId)).toEqual([w.instance.primaryEniId, eni.id]);
});

test("control API: state, calls, reset, validation, socket mode", async () => {
  expect(statSync(w.controlSocket).mode & 0o777).toBe(0o600);
  const state = await json(w.control("/state"));
  expect(Object.keys(state.instances)).toEqual([w.instance.id]);
  expect(state.subnets[w.subnet.id].cidr).toBe("10.0.0.0/20");
  await describeMine();
  expect((await json(w.control("/calls"))).DescribeNetworkInterfaces).toEqual({ ok: 1, throttled: 0, error: 0 });
  expect((await w.control("/reset", { method: "POST" })).status).toBe(200);
  expect(await json(w.control("/calls"))).toEqual({});
  const bad = await putFaults({ errors: { AssignPrivateIpAddresses: { rate: 2, code: "InternalError" } } });
  expect(bad.status).toBe(400);
  expect((await json(bad)).error).toContain("errors.AssignPrivateIpAddresses.rate");
  const unknownAction = await putFaults({ unauthorized: ["NoSuchAction"] });
  expect(unknownAction.status).toBe(400);
  expect((await json(unknownAction)).error).toContain("unauthorized.0");
  const unknownKey = await putFaults({ nope: 1 });
  expect(unknownKey.status).toBe(400);
  expect((await json(unknownKey)).error).toContain("nope");
  const faults = await json(w.control("/faults"));
  expect(faults.unauthorized).toEqual([]);
  expect(faults.errors).toEqual({});
});

test("protocol errors: unknown action, missing parameter", async () => {
  const post = (body: string) => fetch(w.server.endpoint, { method: "POST", body, headers: { "content-type": "application/x-www-form-urlencoded" } });
  const r = await post("Action=RunInstances&Version=2016-11-15");
  expect(r.status).toBe(400);
  expect(await r.text()).toContain("<Code>InvalidAction</Code>");
  const m = await post("Action=DeleteNetworkInterface&Version=2016-11-15");
  expect(await m.text()).toContain("<Code>MissingParameter</Code>");
  expect((await sdkError(w.ec2.send(new E.AssignPrivateIpAddressesCommand({ NetworkInterfaceId: w.instance.primaryEniId })))).name).toBe("MissingParameter");
});

test("real clock: a timer turns attaching into attached without another request", async () => {
  const { Ec2Model } = await import("./state.ts");
  const { serveSimEc2 } = await import("./serve.ts");
  const model = new Ec2Model();
  const vpc = model.createVpc({ cidr: "10.1.0.0/16" });
  const subnet = model.createSubnet({ vpcId: vpc.id, az: "us-west-2a", cidr: "10.1.0.0/24" });
  const inst = model.launchInstance({ instanceType: "t3.medium", subnetId: subnet.id });
  const sock = `${w.controlSocket}.real`;
  const server = serveSimEc2({ host: "127.0.0.1", port: 0, controlSocket: sock, model, faults: { attachDelayMs: 50 } });
  try {
    const ec2 = new E.EC2Client({ region: "us-west-2", endpoint: server.endpoint, credentials: { accessKeyId: "a", secretAccessKey: "b" }, maxAttempts: 1 });
    const eni = model.createNetworkInterface({ subnetId: subnet.id });
    await ec2.send(new E.AttachNetworkInterfaceCommand({ NetworkInterfaceId: eni.id, InstanceId: inst.id, DeviceIndex: 1 }));
    const deadline = Date.now() + 5000;
    while (model.state.enis[eni.id]!.attachment!.status !== "attached" && Date.now() < deadline) await Bun.sleep(10);
    expect(model.state.enis[eni.id]!.attachment!.status).toBe("attached");
    ec2.destroy();
  } finally {
    await server.stop();
  }
});
