/** Resource ids and MAC addresses in EC2's formats, from the state's counter. */
import { Ec2Error, type Ec2ErrorCode } from "./errors.ts";
import type { Ec2State } from "./types.ts";

export function nextId(state: Ec2State, prefix: string): string {
  const n = state.nextId++;
  return `${prefix}-${n.toString(16).padStart(17, "0")}`;
}

export function nextMac(state: Ec2State): string {
  const n = state.nextId++;
  const bytes = [0x02];
  for (let shift = 32; shift >= 0; shift -= 8) bytes.push(Math.floor(n / 2 ** shift) % 256);
  return bytes.map((b) => b.toString(16).padStart(2, "0")).join(":");
}

const MALFORMED: Record<string, Ec2ErrorCode> = {
  eni: "InvalidNetworkInterfaceID.Malformed",
  subnet: "InvalidSubnetID.Malformed",
  i: "InvalidInstanceID.Malformed",
  sg: "InvalidGroupId.Malformed",
};

/** Throws the Malformed error EC2 answers for an id that is not `<prefix>-<hex>`. */
export function checkIdFormat(id: string, prefix: "eni" | "subnet" | "i" | "sg" | "vpc" | "eni-attach" | "trunk-assoc"): void {
  if (new RegExp(`^${prefix}-[0-9a-f]{8,17}$`).test(id)) return;
  const code = MALFORMED[prefix] ?? "InvalidID";
  throw new Ec2Error(code, `Invalid id: "${id}" (expecting "${prefix}-...")`);
}
