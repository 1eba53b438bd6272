import { describe, expect, test } from "bun:test";
import { bucketOf, BucketSet, TokenBucket } from "./token-bucket.ts";

describe("token bucket", () => {
  test("a burst up to capacity goes through, then callers wait at the refill rate", () => {
    const b = new TokenBucket({ capacity: 3, refillPerSec: 2 }, 0);
    expect([b.take(0), b.take(0), b.take(0)]).toEqual([0, 0, 0]);
    expect(b.take(0)).toBe(500); // 1 token short at 2/s
    expect(b.take(0)).toBe(1000);
    expect(b.take(2000)).toBe(0); // 2 s refill 4 tokens; 2 were owed → 1 left after this one
  });

  test("refill never exceeds capacity", () => {
    const b = new TokenBucket({ capacity: 2, refillPerSec: 10 }, 0);
    expect(b.level(60_000)).toBe(2);
  });

  test("APIs map to AWS's buckets", () => {
    expect(bucketOf("DescribeNetworkInterfaces")).toBe("describe");
    expect(bucketOf("AssignPrivateIpAddresses")).toBe("addressing");
    expect(bucketOf("CreateNetworkInterface")).toBe("addressing");
    expect(bucketOf("AttachNetworkInterface")).toBe("mutating");
    expect(bucketOf("CreateTags")).toBe("tags");
  });

  test("buckets are separate per API class", () => {
    const set = new BucketSet({ describe: { capacity: 1, refillPerSec: 1 }, mutating: { capacity: 1, refillPerSec: 1 }, addressing: { capacity: 1, refillPerSec: 1 }, tags: { capacity: 1, refillPerSec: 1 } }, 0);
    expect(set.take("DescribeSubnets", 0)).toBe(0);
    expect(set.take("AttachNetworkInterface", 0)).toBe(0);
    expect(set.take("DescribeInstances", 0)).toBe(1000);
  });
});
