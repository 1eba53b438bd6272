/**
 * max-pods: prints the value for the kubelet's --max-pods on an instance type, by upstream's
 * formula, from the type's limits as EC2 answers them (the built-in table when EC2 cannot be
 * asked, or with --offline). See README.md.
 *   bun services/pool-manager/max-pods.ts --instance-type m5.large [--prefix-delegation] [--custom-networking] [--max-eni <n>] [--region <region>] [--endpoint <url>] [--offline]
 * Credentials and, without --region, the region come from the AWS SDK's default chain.
 */
import { Ec2Guard } from "./src/adapters/ec2-guard.ts";
import { createEc2Client, SdkEc2 } from "./src/adapters/ec2.ts";
import { MAX_PODS_USAGE, parseMaxPodsArgs, runMaxPods } from "./src/app/max-pods-command.ts";

const args = parseMaxPodsArgs(process.argv.slice(2));
if ("error" in args) {
  process.stderr.write(`max-pods: ${args.error}\n${MAX_PODS_USAGE}\n`);
  process.exit(2);
}
const out = await runMaxPods(args, () => new SdkEc2(createEc2Client({ ...(args.region ? { region: args.region } : {}), ...(args.endpoint ? { endpoint: args.endpoint } : {}) }), new Ec2Guard({ maxRetries: 2 })));
process.stdout.write(out.stdout);
process.stderr.write(out.stderr);
process.exit(out.exitCode);
