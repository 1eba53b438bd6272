/**
 * The HELP text of upstream's awscni_* metrics (amazon-vpc-cni-k8s v1.23.1,
 * utils/prometheusmetrics and pkg/version), which this project exports under the same names:
 * dashboards and alerts written for upstream read the same families. One place, so each
 * service registering one of these names uses upstream's text.
 */
export const UPSTREAM_METRIC_HELP = {
  awscni_ipamd_error_count: "The number of errors encountered in ipamd",
  awscni_ipamd_action_inprogress: "The number of ipamd actions in progress",
  awscni_eni_max: "The maximum number of ENIs that can be attached to the instance, accounting for unmanaged ENIs",
  awscni_ip_max: "The maximum number of IP addresses that can be allocated to the instance",
  awscni_reconcile_count: "The number of times ipamd reconciles on ENIs and IP/Prefix addresses",
  awscni_add_ip_req_count: "The number of add IP address requests",
  awscni_del_ip_req_count: "The number of delete IP address requests",
  awscni_pod_eni_error_count: "The number of errors encountered for pod ENIs",
  awscni_aws_api_latency_ms: "AWS API call latency in ms",
  awscni_aws_api_error_count: "The number of times AWS API returns an error",
  awscni_aws_utils_error_count: "The number of errors not handled in awsutils library",
  awscni_ec2api_req_count: "The number of requests made to EC2 APIs by CNI",
  awscni_ec2api_error_count: "The number of failed EC2 APIs requests",
  awscni_eni_allocated: "The number of ENIs allocated",
  awscni_total_ip_addresses: "The total number of IP addresses",
  awscni_assigned_ip_addresses: "The number of IP addresses assigned to pods",
  awscni_force_removed_enis: "The number of ENIs force removed while they had assigned pods",
  awscni_force_removed_ips: "The number of IPs force removed while they had assigned pods",
  awscni_total_ipv4_prefixes: "The total number of IPv4 prefixes",
  awscni_assigned_ip_per_cidr: "The total number of IP addresses assigned per cidr",
  awscni_no_available_ip_addresses: "The number of pod IP assignments that fail due to no available IP addresses",
  awscni_assigned_ip_per_eni: "The number of allocated ips partitioned by eni",
  awscni_ipamd_startup_duration_seconds: "The duration of IPAMD startup from process start to ready to serve CNI requests",
  awscni_ipamd_node_initialization_duration_seconds: "The duration of node initialization during IPAMD startup",
  awscni_connmark_backend: "The connmark backend in use; the active backend's series is set to 1",
  awscni_connmark_reconcile_total: "The number of connmark Setup/Cleanup reconciliations by result",
  awscni_build_info: "A metric with a constant '1' value labeled by version, revision, and goversion from which amazon-vpc-cni-k8s was built.",
} as const;

export type UpstreamMetricName = keyof typeof UPSTREAM_METRIC_HELP;
