// ENIs and the AWS APIs: which ENIs are made and how they are tagged, how EC2 and IMDS are reached.
import { boolField, enumField, envField, intField, INVALID, qualifiedNameField, urlField } from "../fields.ts";
import { eniTagsField } from "../network-fields.ts";
import { variable } from "../declaration.ts";

export const AWS_VARIABLES = {
  AWS_VPC_K8S_CNI_CUSTOM_NETWORK_CFG: variable(boolField(false), {
    about: "Custom networking: ENIs take their subnet and security groups from the node's ENIConfig.",
    sets: "eni.customNetworking",
  }),
  ENI_CONFIG_ANNOTATION_DEF: variable(qualifiedNameField("k8s.amazonaws.com/eniConfig"), {
    about: "The node annotation naming its ENIConfig (custom networking; wins over the label).",
    sets: "eni.eniConfigAnnotation",
  }),
  ENI_CONFIG_LABEL_DEF: variable(qualifiedNameField("k8s.amazonaws.com/eniConfig"), {
    about: "The node label naming its ENIConfig (custom networking), e.g. topology.kubernetes.io/zone.",
    sets: "eni.eniConfigLabel",
  }),
  ADDITIONAL_ENI_TAGS: variable(eniTagsField(), {
    about: "Tags added to every ENI this CNI manages: set when it creates one, added to those it finds attached (the primary included, trunk and no_manage ENIs excepted).",
    sets: "eni.additionalTags",
    toConfig: (t) => t.tags,
    show: (c) => JSON.stringify(c.eni.additionalTags),
  }),
  CLUSTER_NAME: variable(
    envField<string>({
      accepted: "at most 256 printable characters (it becomes an ENI tag value)",
      default: "",
      defaultText: '""',
      parse: (v) => (v.length <= 256 && !/[\u0000-\u001f\u007f]/.test(v) ? v : INVALID),
    }),
    { about: "The cluster's name, tagged on the ENIs this CNI creates.", sets: "eni.clusterName" },
  ),
  ENABLE_POD_ENI: variable(boolField(false), {
    about: "Security groups for pods: keep an ENI slot for the trunk and advertise SecurityGroupsForPods on the node's CNINode, so the VPC resource controller attaches a trunk ENI and gives pods selected by a SecurityGroupPolicy branch ENIs, which the CNI wires on the trunk's VLANs.",
    sets: "eni.podEni",
  }),
  POD_SECURITY_GROUP_ENFORCING_MODE: variable(
    enumField(["strict", "standard"], "strict", { differs: "an unknown mode is rejected (upstream uses strict)" }),
    {
      about: "For pods with a branch ENI: strict sends all their traffic through it; standard lets node-local traffic stay on the node.",
      sets: "eni.podSecurityGroupEnforcingMode",
    },
  ),
  AWS_EC2_ENDPOINT: variable(urlField(), {
    about: "The EC2 API endpoint; unset means the region's own.",
    sets: "ec2.endpoint",
  }),
  HTTP_TIMEOUT: variable(
    intField({
      default: 10,
      min: 10,
      max: 3600,
      accepted: "an integer number of seconds from 10 to 3600",
      source: "upstream-code",
      differs: "a value below 10 or not an integer is rejected (upstream logs nothing and uses 10)",
    }),
    { about: "Seconds one EC2 API request may take before it is abandoned (and retried as a failed call).", sets: "ec2.httpTimeoutSeconds" },
  ),
  VPC_CNI_VERSION: variable(
    envField<string>({
      accepted: "at most 64 characters of letters, digits and . _ + -",
      default: "",
      defaultText: '""',
      source: "upstream-code",
      parse: (v) => (/^[A-Za-z0-9._+-]{1,64}$/.test(v) ? v : INVALID),
    }),
    { about: "The version sent in the EC2 requests' user agent (amazon-vpc-cni-k8s/<version>).", sets: "ec2.userAgentVersion" },
  ),
  AWS_REGION: variable(
    envField<string | undefined>({
      accepted: "an AWS region name such as us-west-2 (lower case letters, digits and dashes)",
      default: undefined,
      defaultText: "(from IMDS)",
      source: "standard",
      parse: (v) => (/^[a-z0-9]+(-[a-z0-9]+)*$/.test(v) && v.length <= 64 ? v : INVALID),
    }),
    { about: "The AWS region; unset means the one IMDS reports.", sets: "ec2.region" },
  ),
  AWS_VPC_CNI_EC2_RATE_LIMIT_SCALE: variable(
    envField<number>({
      accepted: "a number greater than 0 and at most 100 (1 = AWS's own bucket sizes and refill rates)",
      default: 1,
      defaultText: "1",
      source: "project",
      parse: (v) => {
        if (!/^\d+(\.\d+)?$|^\.\d+$/.test(v)) return INVALID;
        const n = Number(v);
        return n > 0 && n <= 100 ? n : INVALID;
      },
    }),
    {
      about: "Scales the client-side EC2 token buckets (AWS's per-API sizes and refill rates at 1).",
      sets: "ec2.rateLimit.scale",
    },
  ),
  AWS_EC2_METADATA_SERVICE_ENDPOINT: variable(urlField({ source: "standard" }), {
    about: "The IMDS endpoint; unset means the SDK's default.",
    sets: "imds.endpoint",
  }),
};
