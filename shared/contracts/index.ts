// Every contract, for types (`import type`). A service imports the modules whose routes it
// serves or calls: a value imported from here builds every contract's schemas in that service.
export * from "./fields.ts";
export * from "./capacity.ts";
export * from "./usage.ts";
export * from "./netconfig.ts";
export * from "./cni.ts";
export * from "./assignments.ts";
export * from "./policy.ts";
