import { describe, expect, test } from "bun:test";
import { answerMetadata, normalizeImdsPath } from "./metadata-tree.ts";
import { twoEniView } from "./test-fixtures.ts";


const eni1 = "network/interfaces/macs/02:00:00:00:00:01";
const eni2 = "network/interfaces/macs/02:00:00:00:00:02";

describe("answerMetadata", () => {
  const rows: Array<[path: string, body: string | undefined]> = [
    ["instance-id", "i-0123456789abcdef0"],
    ["instance-type", "m5.large"],
    ["local-ipv4", "10.0.1.10"],
    ["mac", "02:00:00:00:00:01"],
    ["placement/availability-zone", "us-west-2a"],
    ["placement/region", "us-west-2"],
    // ordered by device number, whatever the order of the view
    ["network/interfaces/macs", "02:00:00:00:00:01/\n02:00:00:00:00:02/"],
    [`${eni1}/device-number`, "0"],
    [`${eni1}/interface-id`, "eni-1"],
    [`${eni1}/local-ipv4s`, "10.0.1.10\n10.0.1.11\n10.0.1.12"],
    [`${eni1}/subnet-ipv4-cidr-block`, "10.0.1.0/24"],
    [`${eni2}/security-group-ids`, "sg-1\nsg-2"],
    [`${eni2}/vpc-ipv4-cidr-blocks`, "10.0.0.0/16\n100.64.0.0/16"],
    [`${eni2}/vpc-ipv4-cidr-block`, "10.0.0.0/16"],
    [`${eni2}/ipv4-prefix`, "10.0.2.32/28"],
    [`${eni2}/ipv6s`, "2600:1f14::20"],
    [`${eni2}/ipv6-prefix`, "2600:1f14::1:0:0:0/80"],
    [`${eni2}/subnet-ipv6-cidr-blocks`, "2600:1f14::/64"],
    [`${eni2}/network-card`, "0"],
    // MACs are matched case-insensitively
    ["network/interfaces/macs/02:00:00:00:00:02/subnet-id", "subnet-b"],
    ["network/interfaces/macs/02:00:00:00:00:0A/subnet-id", undefined],
    // empty lists and absent optional leaves are 404s, as on real IMDS
    [`${eni1}/ipv4-prefix`, undefined],
    [`${eni1}/ipv6s`, undefined],
    [`${eni1}/network-card`, undefined],
    ["no-such-thing", undefined],
    ["instance-id/extra", undefined],
  ];
  for (const [path, body] of rows) {
    test(`${path} → ${body === undefined ? "404" : JSON.stringify(body)}`, () => {
      const answer = answerMetadata(twoEniView, path);
      if (body === undefined) expect(answer.found).toBe(false);
      else expect(answer).toEqual({ found: true, body, contentType: "text/plain" });
    });
  }

  test("listings name only what exists", () => {
    const root = answerMetadata(twoEniView, "");
    expect(root.found && root.body.split("\n")).toContain("network/");
    const eni = answerMetadata(twoEniView, eni1);
    const keys = eni.found ? eni.body.split("\n") : [];
    expect(keys).toContain("local-ipv4s");
    expect(keys).not.toContain("ipv4-prefix");
    expect(keys).not.toContain("network-card");
  });
});

describe("normalizeImdsPath", () => {
  test.each([
    ["//latest/meta-data/instance-id", "/latest/meta-data/instance-id"],
    ["/latest/meta-data/network/interfaces/macs/", "/latest/meta-data/network/interfaces/macs"],
    ["/", "/"],
  ])("%s → %s", (raw, normalized) => {
    expect(normalizeImdsPath(raw)).toBe(normalized);
  });
});
