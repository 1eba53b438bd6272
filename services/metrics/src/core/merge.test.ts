import { expect, test } from "bun:test";
import { mergeExpositions } from "./merge.ts";

const broker = `# HELP awscni_add_ip_req_count Number of add IP address requests
# TYPE awscni_add_ip_req_count counter
awscni_add_ip_req_count 3
# HELP awscni_build_info Build info
# TYPE awscni_build_info gauge
awscni_build_info{version="0.1.0"} 1
`;
const pool = `# HELP awscni_eni_allocated The number of ENIs allocated
# TYPE awscni_eni_allocated gauge
awscni_eni_allocated 2
# HELP awscni_aws_api_latency_ms AWS API call latency in ms
# TYPE awscni_aws_api_latency_ms summary
awscni_aws_api_latency_ms{api="AssignPrivateIpAddresses",error="false",status="200",quantile="0.5"} 12
awscni_aws_api_latency_ms_sum{api="AssignPrivateIpAddresses",error="false",status="200"} 24
awscni_aws_api_latency_ms_count{api="AssignPrivateIpAddresses",error="false",status="200"} 2
# HELP awscni_build_info Build info
# TYPE awscni_build_info gauge
awscni_build_info{version="0.1.0"} 1
`;

test("each family appears once, with every sample of every source", () => {
  const merged = mergeExpositions([broker, pool]);
  expect(merged.match(/# TYPE awscni_build_info gauge/g)).toHaveLength(1);
  expect(merged.match(/^awscni_build_info\{/gm)).toHaveLength(1);
  expect(merged).toContain("awscni_add_ip_req_count 3");
  expect(merged).toContain("awscni_eni_allocated 2");
  // summary sub-samples stay inside their family, after its TYPE line
  const type = merged.indexOf("# TYPE awscni_aws_api_latency_ms summary");
  expect(type).toBeGreaterThan(-1);
  expect(merged.indexOf("awscni_aws_api_latency_ms_sum")).toBeGreaterThan(type);
  expect(merged.match(/# TYPE awscni_aws_api_latency_ms_sum/g)).toBeNull();
});

test("empty input gives an empty exposition", () => {
  expect(mergeExpositions(["", "\n"]).trim()).toBe("");
});
