import { expect, test } from "bun:test";
import { AWS_EC2_BUCKETS, awsBucketOf, type AwsBucketName } from "./aws-ec2-buckets.ts";

test("actions map to AWS's buckets", () => {
  const rows: Array<[string, boolean, AwsBucketName]> = [
    ["DescribeNetworkInterfaces", true, "describe"],
    ["DescribeNetworkInterfaces", false, "describeUnfiltered"],
    ["DescribeInstanceTypes", false, "describe"],
    ["AttachNetworkInterface", false, "mutating"],
    ["DetachNetworkInterface", false, "mutating"],
    ["AssignPrivateIpAddresses", false, "addressing"],
    ["CreateNetworkInterface", false, "addressing"],
    ["ModifyNetworkInterfaceAttribute", false, "addressing"],
    ["CreateTags", false, "tags"],
  ];
  for (const [action, filtered, want] of rows) expect({ action, filtered, bucket: awsBucketOf(action, filtered) }).toEqual({ action, filtered, bucket: want });
});

test("AWS's published sizes: the address and ENI actions refill slowest", () => {
  expect(AWS_EC2_BUCKETS.addressing).toEqual({ capacity: 100, refillPerSec: 5 });
  expect(AWS_EC2_BUCKETS.describe).toEqual({ capacity: 100, refillPerSec: 20 });
});
