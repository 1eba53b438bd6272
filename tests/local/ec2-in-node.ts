// Run inside a node namespace (`ip netns exec NS bun run ec2-in-node.ts ...`): the unmodified
// AWS SDK against the simulated EC2, as the product's pool-manager will use it. Prints JSON.
//   create-attach <endpoint> <subnetId> <instanceId> <deviceIndex>  → {eniId, mac, attachmentId}
//   assign <endpoint> <eniId> <ip>                                   → {assigned}
//   unassign <endpoint> <eniId> <ip>                                 → {}
import {
  AssignPrivateIpAddressesCommand,
  AttachNetworkInterfaceCommand,
  CreateNetworkInterfaceCommand,
  EC2Client,
  UnassignPrivateIpAddressesCommand,
} from "@aws-sdk/client-ec2";

const [command, endpoint, ...rest] = process.argv.slice(2);
if (!endpoint) throw new Error("endpoint: required");
const ec2 = new EC2Client({ region: "us-west-2", endpoint, credentials: { accessKeyId: "local", secretAccessKey: "local" }, maxAttempts: 1 });

async function main(): Promise<unknown> {
  switch (command) {
    case "create-attach": {
      const [subnetId, instanceId, deviceIndex] = rest;
      const created = await ec2.send(new CreateNetworkInterfaceCommand({ SubnetId: subnetId, Description: "test ENI" }));
      const eni = created.NetworkInterface;
      const attached = await ec2.send(new AttachNetworkInterfaceCommand({ NetworkInterfaceId: eni?.NetworkInterfaceId, InstanceId: instanceId, DeviceIndex: Number(deviceIndex) }));
      return { eniId: eni?.NetworkInterfaceId, mac: eni?.MacAddress, primaryIp: eni?.PrivateIpAddress, attachmentId: attached.AttachmentId };
    }
    case "assign": {
      const [eniId, ipAddress] = rest;
      const r = await ec2.send(new AssignPrivateIpAddressesCommand({ NetworkInterfaceId: eniId, PrivateIpAddresses: [ipAddress ?? ""] }));
      return { assigned: r.AssignedPrivateIpAddresses?.map((a) => a.PrivateIpAddress) };
    }
    case "unassign": {
      const [eniId, ipAddress] = rest;
      await ec2.send(new UnassignPrivateIpAddressesCommand({ NetworkInterfaceId: eniId, PrivateIpAddresses: [ipAddress ?? ""] }));
      return {};
    }
    default:
      throw new Error(`command: unknown ${JSON.stringify(command)}`);
  }
}

process.stdout.write(JSON.stringify(await main()) + "\n");
