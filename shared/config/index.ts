// shared/config: the only reader of process.env. Services call loadConfigOrExit() in main.ts
// and pass the typed Config on.
export { loadConfig, loadConfigOrExit, ConfigError, formatProblem } from "./load.ts";
export type { ConfigProblem, Env, LoadedConfig, ConfigWarningSink } from "./load.ts";
export { describeConfig } from "./describe.ts";
export { ENV_NAMES, LOG_LEVELS } from "./schema.ts";
export { VARIABLES } from "./variables/index.ts";
export type { EnvName, ParsedEnv } from "./schema.ts";
export { AWS_EC2_BUCKETS } from "./build.ts";
export { MTU_RANGE } from "./rules.ts";
export type { EnvField, FieldResult, VariableDoc, VariableSource } from "./fields.ts";
export { formatBindAddress, parseBindAddress, RESERVED_VETH_PREFIXES } from "./network-fields.ts";
export type * from "./types.ts";
