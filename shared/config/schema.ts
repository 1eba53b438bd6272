// The variables' names and parsed values, derived from the declarations (variables/): one
// field per variable, each turning a string (or undefined) into a typed value. Cross-field
// rules live in rules.ts, the grouped Config in build.ts.
import type { OwnValue } from "./declaration.ts";
import { VARIABLES } from "./variables/index.ts";

export { LOG_LEVELS, type LogDestination, type LogLevel } from "./variables/daemon.ts";

export type EnvName = keyof typeof VARIABLES;
export const ENV_NAMES = Object.keys(VARIABLES) as EnvName[];

/** Every variable's parsed value. */
export type ParsedEnv = { [K in EnvName]: OwnValue<(typeof VARIABLES)[K]> };
