/** Public API of the simulated EC2 (deploy/local builds its world and mirror on it). */
export { Ec2Model, DEFAULT_TIMING, type ModelTiming } from "./state.ts";
export { UNATTACHED_IPV4_LIMIT, type CreateEniRequest } from "./eni-ops.ts";
export type { Ec2Observer } from "./observer.ts";
export type { ImdsInterface } from "./imds-view.ts";
export { INSTANCE_TYPES, instanceTypeLimits, type InstanceTypeLimits } from "./instance-types.ts";
export { Ec2Error, ERROR_STATUS, type Ec2ErrorCode } from "./errors.ts";
export { ACTIONS, DEFAULT_FAULTS, FaultPatchSchema, FaultSettingsSchema, type Action, type FaultPatch, type FaultSettings } from "./faults.ts";
export { TokenBuckets } from "./throttle.ts";
export { SimEc2Service, type CallCounters } from "./service.ts";
export { controlApp } from "./control.ts";
export { serveSimEc2, type SimEc2Server } from "./serve.ts";
export type { Ec2State, Eni, Instance, Subnet, Vpc, SecurityGroup, Attachment, Tags } from "./types.ts";
