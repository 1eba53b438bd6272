export * from "./fields.ts";
export * from "./capacity.ts";
export * from "./usage.ts";
export * from "./netconfig.ts";
export * from "./cni.ts";
export * from "./assignments.ts";
export * from "./policy.ts";
