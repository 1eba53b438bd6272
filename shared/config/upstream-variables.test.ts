// Upstream's variables (upstream-variables.ts, the project's own list of upstream v1.23.1's
// names) against the declarations: none unhandled without a stated reason, and each
// declaration's source label true to the lists.
import { expect, test } from "bun:test";
import { ConfigError, ENV_NAMES, loadConfig, VARIABLES } from "./index.ts";
import { UPSTREAM_CODE_VARIABLES, UPSTREAM_METRICS_HELPER_VARIABLES, UPSTREAM_README_VARIABLES } from "./upstream-variables.ts";

/**
 * Upstream variables this project does not handle yet. Each needs more than a declaration:
 * accepting the name without the behaviour would tell an operator it works.
 */
const KNOWN_GAPS: Record<string, string> = {};

/**
 * Upstream variables declared so that an operator setting them is told clearly, but whose
 * upstream behaviour is not there yet: the value that would need it is refused at start-up.
 */
const REFUSED_VALUES: Record<string, { value: string; reason: string }> = {};

test("every variable upstream's aws-node reads (README and code) is declared, or a known gap with its reason", () => {
  expect(UPSTREAM_README_VARIABLES.length).toBe(50);
  const upstream: string[] = [...UPSTREAM_README_VARIABLES, ...UPSTREAM_CODE_VARIABLES];
  expect(new Set(upstream).size).toBe(upstream.length);
  const unhandled = upstream.filter((name) => !(ENV_NAMES as readonly string[]).includes(name));
  expect(unhandled.sort()).toEqual(Object.keys(KNOWN_GAPS).sort());
  for (const reason of Object.values(KNOWN_GAPS)) expect(reason.length).toBeGreaterThan(20);
});

test("a known gap's value that needs the missing behaviour stops start-up, naming the variable and what is missing", () => {
  for (const [name, { value, reason }] of Object.entries(REFUSED_VALUES)) {
    expect(reason.length).toBeGreaterThan(20);
    expect((ENV_NAMES as readonly string[]).includes(name)).toBe(true);
    let err: unknown;
    try {
      loadConfig({ [name]: value });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const problems = (err as ConfigError).problems;
    expect(problems.map((p) => [p.name, p.value])).toEqual([[name, value]]);
    expect(problems[0]!.accepted).toContain("not implemented");
  }
  // ENABLE_MULTI_NIC=true was refused until multiple network cards and multi-homed pods were built.
  expect(loadConfig({ ENABLE_MULTI_NIC: "true" }).config.pool.multiNic).toBe(true);
  expect(loadConfig({}).config.pool.multiNic).toBe(false);
});

test("a declaration's source matches upstream's lists", () => {
  const readme: readonly string[] = UPSTREAM_README_VARIABLES;
  const code: readonly string[] = UPSTREAM_CODE_VARIABLES;
  for (const name of ENV_NAMES) {
    const { source } = VARIABLES[name].doc;
    expect({ name, upstreamReadme: readme.includes(name) }).toEqual({ name, upstreamReadme: source === "upstream" });
    expect({ name, upstreamCode: code.includes(name) }).toEqual({ name, upstreamCode: source === "upstream-code" });
  }
});

test("the metrics helper's variables are not aws-node's, and none is taken for one", () => {
  const aws: readonly string[] = [...UPSTREAM_README_VARIABLES, ...UPSTREAM_CODE_VARIABLES];
  for (const name of UPSTREAM_METRICS_HELPER_VARIABLES) {
    expect({ name, awsNode: aws.includes(name) }).toEqual({ name, awsNode: false });
    expect({ name, declared: (ENV_NAMES as readonly string[]).includes(name) }).toEqual({ name, declared: false });
  }
});
